"""Secret rotation: why the last rotation failed, and when the previous credential is retired.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("secrets") as batch:
        batch.add_column(sa.Column("rotation_error", sa.Text))
        batch.add_column(sa.Column("retire_at", sa.Integer))
    op.create_index("ix_secrets_next_rotation_at", "secrets", ["next_rotation_at"])


def downgrade() -> None:
    op.drop_index("ix_secrets_next_rotation_at", "secrets")
    with op.batch_alter_table("secrets") as batch:
        batch.drop_column("retire_at")
        batch.drop_column("rotation_error")
