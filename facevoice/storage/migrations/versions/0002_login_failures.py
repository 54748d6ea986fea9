"""Failed log-in counters per username, kept apart from users (also for unknown names).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("username_key", sa.String(32), primary_key=True),
        sa.Column("consecutive", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
    )
    # Carry over counts kept on the users table by revision 0001.
    op.execute(
        "INSERT INTO login_failures (username_key, consecutive, last_failed_at, disabled) "
        "SELECT username_key, failed_logins, last_failed_at, disabled FROM users "
        "WHERE failed_logins > 0 OR disabled"
    )
    with op.batch_alter_table("users") as batch:
        batch.drop_column("failed_logins")
        batch.drop_column("last_failed_at")
        batch.drop_column("disabled")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.drop_table("login_failures")
