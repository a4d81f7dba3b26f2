"""The store's change counter: one row that every write unit of work on PostgreSQL raises, so that
each node can remember what it read and check it with one number per request.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No row yet: the first write makes it (an upsert), as on a database created at the head.
    op.create_table(
        "store_changes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("counter", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("store_changes")
