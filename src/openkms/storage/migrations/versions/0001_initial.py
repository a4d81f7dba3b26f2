"""Initial schema: accounts, access keys, keys, versions, aliases, tags.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("uid", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.Integer, nullable=False),
    )
    op.create_table(
        "access_keys",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_uid", sa.String(32), sa.ForeignKey("accounts.uid"), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
    )
    op.create_table(
        "keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("account_uid", sa.String(32), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("spec", sa.String(32), nullable=False),
        sa.Column("usage", sa.String(32), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("protection_level", sa.String(16), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("creator", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("primary_version_id", sa.String(36)),
        sa.Column("last_rotation_at", sa.Integer),
        sa.Column("rotation_enabled", sa.Boolean, nullable=False),
        sa.Column("rotation_interval", sa.Integer),
        sa.Column("delete_at", sa.Integer),
        sa.Column("material_expire_at", sa.Integer),
        sa.Column("deletion_protection", sa.Boolean, nullable=False),
        sa.Column("deletion_protection_description", sa.Text, nullable=False),
        sa.Column("policy", sa.Text),
        sa.Column("key_store_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_keys_account_region", "keys", ["account_uid", "region"])
    op.create_table(
        "key_versions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("key_id", sa.String(36), sa.ForeignKey("keys.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("material_ref", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_key_versions_key", "key_versions", ["key_id"])
    op.create_table(
        "aliases",
        sa.Column("account_uid", sa.String(32), primary_key=True),
        sa.Column("region", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(300), primary_key=True),
        sa.Column("key_id", sa.String(36), sa.ForeignKey("keys.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
    )
    op.create_index("ix_aliases_key", "aliases", ["key_id"])
    op.create_table(
        "tags",
        sa.Column("key_id", sa.String(36), sa.ForeignKey("keys.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("tag_key", sa.String(128), primary_key=True),
        sa.Column("tag_value", sa.String(256), nullable=False),
    )


def downgrade() -> None:
    for table in ("tags", "aliases", "key_versions", "keys", "access_keys", "accounts"):
        op.drop_table(table)
