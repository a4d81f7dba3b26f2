"""Bring your own key: a material fingerprint per key, and import tokens with sealed wrapping keys.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("keys") as batch:
        batch.add_column(sa.Column("material_fingerprint", sa.LargeBinary, nullable=True))
    op.create_table(
        "import_tokens",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("key_id", sa.String(36), sa.ForeignKey("keys.id", ondelete="CASCADE"), nullable=False),
        sa.Column("wrapping_spec", sa.String(16), nullable=False),
        sa.Column("wrapping_algorithm", sa.String(32), nullable=False),
        sa.Column("sealed_private_key", sa.LargeBinary, nullable=False),
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.Integer, nullable=False),
    )
    op.create_index("ix_import_tokens_expires", "import_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_table("import_tokens")
    with op.batch_alter_table("keys") as batch:
        batch.drop_column("material_fingerprint")
