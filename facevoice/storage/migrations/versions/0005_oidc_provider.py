"""OpenID Connect provider: clients, authorization codes, tokens (hashed) and consents.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _user_id() -> sa.Column:
    return sa.Column(
        "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )


def _client_id(primary_key: bool = False) -> sa.Column:
    return sa.Column(
        "client_id",
        sa.String(64),
        sa.ForeignKey("oidc_clients.client_id", ondelete="CASCADE"),
        nullable=False,
        primary_key=primary_key,
    )


def _login() -> list[sa.Column]:
    return [
        sa.Column("auth_time", sa.Integer(), nullable=False),
        sa.Column("amr", sa.String(200), nullable=False),
        sa.Column("acr", sa.String(200), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "oidc_clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("redirect_uris_json", sa.Text(), nullable=False),
        sa.Column("post_logout_redirect_uris_json", sa.Text(), nullable=False),
        sa.Column("first_party", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "oidc_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        _client_id(),
        _user_id(),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("nonce", sa.Text(), nullable=False),
        *_login(),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("code_challenge_method", sa.String(16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_oidc_codes_client_id", "oidc_codes", ["client_id"])
    op.create_index("ix_oidc_codes_user_id", "oidc_codes", ["user_id"])
    op.create_index("ix_oidc_codes_expires_at", "oidc_codes", ["expires_at"])
    op.create_table(
        "oidc_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("family", sa.String(64), nullable=False),
        _client_id(),
        _user_id(),
        sa.Column("access_token_hash", sa.String(64), nullable=False),
        sa.Column("refresh_token_hash", sa.String(64), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refresh_used", sa.Boolean(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        *_login(),
    )
    op.create_index("ix_oidc_tokens_family", "oidc_tokens", ["family"])
    op.create_index("ix_oidc_tokens_client_id", "oidc_tokens", ["client_id"])
    op.create_index("ix_oidc_tokens_user_id", "oidc_tokens", ["user_id"])
    op.create_index(
        "ix_oidc_tokens_access_token_hash", "oidc_tokens", ["access_token_hash"], unique=True
    )
    op.create_index(
        "ix_oidc_tokens_refresh_token_hash", "oidc_tokens", ["refresh_token_hash"], unique=True
    )
    op.create_table(
        "oidc_consents",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        _client_id(primary_key=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("oidc_consents", "oidc_tokens", "oidc_codes", "oidc_clients"):
        op.drop_table(table)
