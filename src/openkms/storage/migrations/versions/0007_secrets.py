"""Secrets Manager: secrets and their versions.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("account_uid", sa.String(32), primary_key=True),
        sa.Column("region", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(192), primary_key=True),
        sa.Column("secret_type", sa.String(32), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("encryption_key_id", sa.String(36), nullable=False),
        sa.Column("service_key", sa.Boolean, nullable=False),
        sa.Column("extended_config", sa.Text),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Integer, nullable=False),
        sa.Column("rotation_enabled", sa.Boolean, nullable=False),
        sa.Column("rotation_interval", sa.Integer),
        sa.Column("last_rotation_at", sa.Integer),
        sa.Column("next_rotation_at", sa.Integer),
        sa.Column("delete_at", sa.Integer),
        sa.Column("policy", sa.Text),
        sa.Column("dkms_instance_id", sa.String(64), nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
    )
    op.create_index("ix_secrets_delete_at", "secrets", ["delete_at"])
    op.create_table(
        "secret_versions",
        sa.Column("account_uid", sa.String(32), primary_key=True),
        sa.Column("region", sa.String(64), primary_key=True),
        sa.Column("secret_name", sa.String(192), primary_key=True),
        sa.Column("version_id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("data_type", sa.String(8), nullable=False),
        sa.Column("stages", sa.Text, nullable=False),
        sa.Column("sealed_data_key", sa.LargeBinary, nullable=False),
        sa.Column("sealed_value", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("secret_versions")
    op.drop_index("ix_secrets_delete_at", "secrets")
    op.drop_table("secrets")
