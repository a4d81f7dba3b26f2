"""Several nodes on one database: the shared replay-protection nonces and their post-crash floor,
the scheduler's lease and the nodes' heartbeats.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nonce_claims",
        sa.Column("nonce", sa.Text, primary_key=True),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("seen_at", sa.Float, nullable=False),
    )
    op.create_index("ix_nonce_claims_bucket", "nonce_claims", ["bucket"])
    op.create_table(
        "nonce_floor",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("signed_at", sa.Float, nullable=False),
        sa.Column("server_started", sa.Float, nullable=False),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("valid_until", sa.Float, nullable=False),
    )
    op.create_table(
        "cluster_nodes",
        sa.Column("node_id", sa.String(64), primary_key=True),
        sa.Column("seen_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cluster_nodes")
    op.drop_table("leases")
    op.drop_table("nonce_floor")
    op.drop_index("ix_nonce_claims_bucket", "nonce_claims")
    op.drop_table("nonce_claims")
