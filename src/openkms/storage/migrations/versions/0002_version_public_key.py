"""Asymmetric key versions keep their public key (SubjectPublicKeyInfo, DER) beside the sealed private key.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("key_versions") as batch:
        batch.add_column(sa.Column("public_key", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("key_versions") as batch:
        batch.drop_column("public_key")
