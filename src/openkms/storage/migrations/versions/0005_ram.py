"""RAM: users, custom policies and their versions, attachments, and AccessKeys of RAM users.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing keys are the accounts' own: filled with "" once, then written by openkms every time.
    with op.batch_alter_table("access_keys") as batch:
        batch.add_column(sa.Column("user_name", sa.String(64), nullable=False, server_default=""))
    with op.batch_alter_table("access_keys") as batch:
        batch.alter_column("user_name", server_default=None)
        batch.create_index("ix_access_keys_user", ["account_uid", "user_name"])
    op.create_table(
        "ram_users",
        sa.Column("account_uid", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(32), nullable=False, unique=True),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Integer, nullable=False),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("email", sa.String(128), nullable=False),
        sa.Column("mobile_phone", sa.String(32), nullable=False),
        sa.Column("comments", sa.String(128), nullable=False),
    )
    op.create_table(
        "ram_policies",
        sa.Column("account_uid", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("default_version", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("last_version", sa.Integer, nullable=False),
    )
    op.create_table(
        "ram_policy_versions",
        sa.Column("account_uid", sa.String(32), primary_key=True),
        sa.Column("policy_name", sa.String(128), primary_key=True),
        sa.Column("version_id", sa.String(16), primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
    )
    op.create_table(
        "ram_attachments",
        sa.Column("account_uid", sa.String(32), primary_key=True),
        sa.Column("user_name", sa.String(64), primary_key=True),
        sa.Column("policy_type", sa.String(16), primary_key=True),
        sa.Column("policy_name", sa.String(128), primary_key=True),
        sa.Column("attached_at", sa.Integer, nullable=False),
    )
    op.create_index("ix_ram_attachments_policy", "ram_attachments", ["account_uid", "policy_type", "policy_name"])
    op.create_table(
        "ram_generations",
        sa.Column("account_uid", sa.String(32), primary_key=True),
        sa.Column("generation", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("ram_generations", "ram_attachments", "ram_policy_versions", "ram_policies", "ram_users"):
        op.drop_table(table)
    with op.batch_alter_table("access_keys") as batch:
        batch.drop_index("ix_access_keys_user")
        batch.drop_column("user_name")
