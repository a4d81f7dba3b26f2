"""Application access: access points, their policies and network rules, client keys (issue 14).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _scoped(name: str, *columns: sa.Column) -> None:  # type: ignore[type-arg]
    op.create_table(
        name,
        sa.Column("account_uid", sa.String(32), primary_key=True),
        sa.Column("region", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        *columns,
        sa.Column("created_at", sa.Integer, nullable=False),
    )


def upgrade() -> None:
    _scoped(
        "app_access_points",
        sa.Column("authentication_method", sa.String(32), nullable=False),
        sa.Column("policies", sa.Text, nullable=False),
    )
    _scoped(
        "app_policies",
        sa.Column("kms_instance", sa.String(64), nullable=False),
        sa.Column("permissions", sa.Text, nullable=False),
        sa.Column("resources", sa.Text, nullable=False),
        sa.Column("network_rules", sa.Text, nullable=False),
    )
    _scoped(
        "app_network_rules",
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("source_private_ip", sa.Text, nullable=False),
    )
    op.create_table(
        "client_keys",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_uid", sa.String(32), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("aap_name", sa.String(64), nullable=False),
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        sa.Column("key_algorithm", sa.String(16), nullable=False),
        sa.Column("not_before", sa.Integer, nullable=False),
        sa.Column("not_after", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
    )
    op.create_index("ix_client_keys_aap", "client_keys", ["account_uid", "region", "aap_name"])


def downgrade() -> None:
    op.drop_index("ix_client_keys_aap", "client_keys")
    for name in ("client_keys", "app_network_rules", "app_policies", "app_access_points"):
        op.drop_table(name)
