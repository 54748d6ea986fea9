"""Recovery codes, their own failed-log-in counter, and the factors of each audit entry.

``recovery_codes`` keeps only salted scrypt hashes of a user's unused codes.
``recovery_failures`` counts failed recovery-code log-ins apart from ``login_failures``, so
a locked face-and-voice log-in does not lock the way back in, nor the other way round.
``audit_events.factors`` names the factors each log-in tried (shown on the account page).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_recovery_codes_user_id", "recovery_codes", ["user_id"])
    op.create_table(
        "recovery_failures",
        sa.Column("username_key", sa.String(32), primary_key=True),
        sa.Column("consecutive", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
    )
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("factors", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("factors")
    op.drop_table("recovery_failures")
    op.drop_table("recovery_codes")
