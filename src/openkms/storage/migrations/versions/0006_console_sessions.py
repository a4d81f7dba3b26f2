"""The console: server-side sessions and the count of failed log-ons.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("access_key_id", sa.String(64), nullable=False),
        sa.Column("account_uid", sa.String(32), nullable=False),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("secret_fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.Integer, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
    )
    op.create_index("ix_console_sessions_expires", "console_sessions", ["expires_at"])
    op.create_table(
        "logon_failures",
        sa.Column("subject", sa.String(80), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("first_at", sa.Integer, nullable=False),
        sa.Column("blocked_until", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("logon_failures")
    op.drop_index("ix_console_sessions_expires", "console_sessions")
    op.drop_table("console_sessions")
