"""Never-reused public user ids, and server-side login sessions that can be revoked.

SQLite hands the highest row id out again after a delete, so sessions (and later OpenID
Connect ``sub`` claims) name users by a random ``public_id`` instead; every existing user
gets one here. ``login_sessions`` lets log-out, deletion and "log out everywhere" end a
session whatever copies of its cookie exist.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PUBLIC_ID_BYTES = 16  # as facevoice.storage.database; migrations keep their own copy


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("public_id", sa.String(32), nullable=True))
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("public_id", sa.String))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.select(users.c.id)).all():
        connection.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(public_id=secrets.token_urlsafe(PUBLIC_ID_BYTES))
        )
    with op.batch_alter_table("users") as batch:
        batch.alter_column("public_id", existing_type=sa.String(32), nullable=False)
        batch.create_index("ix_users_public_id", ["public_id"], unique=True)
    op.create_table(
        "login_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_sessions_user_id", "login_sessions", ["user_id"])
    op.create_index("ix_login_sessions_created_at", "login_sessions", ["created_at"])


def downgrade() -> None:
    op.drop_table("login_sessions")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_public_id")
        batch.drop_column("public_id")
