"""The relational schema, shared by SQLite and PostgreSQL. Changes go through a migration."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("uid", String(32), primary_key=True),
    Column("created_at", Integer, nullable=False),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_uid", String(32), ForeignKey("accounts.uid"), nullable=False),
    Column("sealed_secret", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("user_name", String(64), nullable=False),  # empty: the account's own key
    Index("ix_access_keys_user", "account_uid", "user_name"),
)

keys = Table(
    "keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_uid", String(32), nullable=False),
    Column("region", String(64), nullable=False),
    Column("spec", String(32), nullable=False),
    Column("usage", String(32), nullable=False),
    Column("origin", String(16), nullable=False),
    Column("protection_level", String(16), nullable=False),
    Column("state", String(24), nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("creator", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("primary_version_id", String(36)),
    Column("last_rotation_at", Integer),
    Column("rotation_enabled", Boolean, nullable=False),
    Column("rotation_interval", Integer),
    Column("delete_at", Integer),
    Column("material_expire_at", Integer),
    Column("deletion_protection", Boolean, nullable=False),
    Column("deletion_protection_description", Text, nullable=False),
    Column("policy", Text),
    Column("key_store_id", String(64), nullable=False),
    Column("material_fingerprint", LargeBinary),
    Index("ix_keys_account_region", "account_uid", "region"),
)

key_versions = Table(
    "key_versions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("key_id", String(36), ForeignKey("keys.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("material_ref", LargeBinary, nullable=False),
    Column("public_key", LargeBinary),
    Index("ix_key_versions_key", "key_id"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("account_uid", String(32), primary_key=True),
    Column("region", String(64), primary_key=True),
    Column("name", String(300), primary_key=True),
    Column("key_id", String(36), ForeignKey("keys.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Integer, nullable=False),
    Index("ix_aliases_key", "key_id"),
)

tags = Table(
    "tags",
    metadata,
    Column("key_id", String(36), ForeignKey("keys.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_key", String(128), primary_key=True),
    Column("tag_value", String(256), nullable=False),
)

import_tokens = Table(
    "import_tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("key_id", String(36), ForeignKey("keys.id", ondelete="CASCADE"), nullable=False),
    Column("wrapping_spec", String(16), nullable=False),
    Column("wrapping_algorithm", String(32), nullable=False),
    Column("sealed_private_key", LargeBinary, nullable=False),
    Column("public_key", LargeBinary, nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("expires_at", Integer, nullable=False),
    Index("ix_import_tokens_expires", "expires_at"),
)

node_meta = Table(
    "node_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)

# --- RAM: users, custom policies and their versions, attachments ---------------------------------

ram_users = Table(
    "ram_users",
    metadata,
    Column("account_uid", String(32), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("user_id", String(32), nullable=False, unique=True),
    Column("created_at", Integer, nullable=False),
    Column("updated_at", Integer, nullable=False),
    Column("display_name", String(128), nullable=False),
    Column("email", String(128), nullable=False),
    Column("mobile_phone", String(32), nullable=False),
    Column("comments", String(128), nullable=False),
)

ram_policies = Table(
    "ram_policies",
    metadata,
    Column("account_uid", String(32), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("type", String(16), nullable=False),
    Column("default_version", String(16), nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("updated_at", Integer, nullable=False),
    Column("description", Text, nullable=False),
    Column("last_version", Integer, nullable=False),
)

ram_policy_versions = Table(
    "ram_policy_versions",
    metadata,
    Column("account_uid", String(32), primary_key=True),
    Column("policy_name", String(128), primary_key=True),
    Column("version_id", String(16), primary_key=True),
    Column("document", Text, nullable=False),
    Column("created_at", Integer, nullable=False),
)

ram_attachments = Table(
    "ram_attachments",
    metadata,
    Column("account_uid", String(32), primary_key=True),
    Column("user_name", String(64), primary_key=True),
    Column("policy_type", String(16), primary_key=True),
    Column("policy_name", String(128), primary_key=True),
    Column("attached_at", Integer, nullable=False),
    Index("ix_ram_attachments_policy", "account_uid", "policy_type", "policy_name"),
)

# Moves with every change of an account's users, policies and attachments: caches of compiled
# policies on every worker and node compare it.
ram_generations = Table(
    "ram_generations",
    metadata,
    Column("account_uid", String(32), primary_key=True),
    Column("generation", Integer, nullable=False),
)

# --- the console: sessions and the log-on throttle -----------------------------------------------

# A signed-in console session; the browser's cookie carries the random id, the row its SHA-256.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("access_key_id", String(64), nullable=False),
    Column("account_uid", String(32), nullable=False),
    Column("user_name", String(64), nullable=False),
    Column("secret_fingerprint", String(64), nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("expires_at", Integer, nullable=False),
    Column("revoked", Boolean, nullable=False),
    Index("ix_console_sessions_expires", "expires_at"),
)

# Failed console log-ons per subject ("ip:<address>", "ak:<SHA-256 of the typed id>").
logon_failures = Table(
    "logon_failures",
    metadata,
    Column("subject", String(80), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("first_at", Integer, nullable=False),
    Column("blocked_until", Integer, nullable=False),
)

# --- Secrets Manager: secrets and their versions (values only encrypted) --------------------------

secrets = Table(
    "secrets",
    metadata,
    Column("account_uid", String(32), primary_key=True),
    Column("region", String(64), primary_key=True),
    Column("name", String(192), primary_key=True),
    Column("secret_type", String(32), nullable=False),
    Column("description", Text, nullable=False),
    Column("encryption_key_id", String(36), nullable=False),
    Column("service_key", Boolean, nullable=False),
    Column("extended_config", Text),
    Column("created_at", Integer, nullable=False),
    Column("updated_at", Integer, nullable=False),
    Column("rotation_enabled", Boolean, nullable=False),
    Column("rotation_interval", Integer),
    Column("last_rotation_at", Integer),
    Column("next_rotation_at", Integer),
    Column("delete_at", Integer),
    Column("policy", Text),
    Column("dkms_instance_id", String(64), nullable=False),
    Column("tags", Text, nullable=False),  # JSON [[key, value], ...]
    Column("rotation_error", Text),
    Column("retire_at", Integer),
    Index("ix_secrets_delete_at", "delete_at"),
    Index("ix_secrets_next_rotation_at", "next_rotation_at"),
)

secret_versions = Table(
    "secret_versions",
    metadata,
    Column("account_uid", String(32), primary_key=True),
    Column("region", String(64), primary_key=True),
    Column("secret_name", String(192), primary_key=True),
    Column("version_id", String(64), primary_key=True),
    Column("created_at", Integer, nullable=False),
    Column("data_type", String(8), nullable=False),
    Column("stages", Text, nullable=False),  # JSON list of stage names
    Column("sealed_data_key", LargeBinary, nullable=False),
    Column("sealed_value", LargeBinary, nullable=False),
)

# --- several nodes on one database (PostgreSQL) ---------------------------------------------------

# Replay protection shared by every node (storage/pg_nonces.py): one row per claimed nonce, dropped
# a bucket (a minute of claims) at a time once the whole bucket is past the window.
nonce_claims = Table(
    "nonce_claims",
    metadata,
    Column("nonce", Text, primary_key=True),
    Column("bucket", BigInteger, nullable=False),
    Column("seen_at", Float, nullable=False),
    Index("ix_nonce_claims_bucket", "bucket"),
)

# The one row of the post-crash floor: requests signed before ``signed_at`` are refused, and the
# database server's start time it was raised for (a server restarted since may have lost claims).
nonce_floor = Table(
    "nonce_floor",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("signed_at", Float, nullable=False),
    Column("server_started", Float, nullable=False),
)

# One row per lease (``scheduler``: who runs the background jobs), judged by the database's clock
# (storage/leases.py). ``epoch`` goes up each time the lease changes hands: the holder's writes
# check it in their own transaction, so a former holder that was paused cannot write any more.
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("valid_until", Float, nullable=False),
)

# One row per node (a data directory served by ``openkms serve``), its workers' last heartbeat by
# the database's clock: the live nodes are those heard within a lease.
cluster_nodes = Table(
    "cluster_nodes",
    metadata,
    Column("node_id", String(64), primary_key=True),
    Column("seen_at", Float, nullable=False),
)

# One row: a counter every write unit of work on PostgreSQL raises in its own transaction, so a
# node's remembered reads are checked by reading one number (storage/sql/changes.py).
store_changes = Table(
    "store_changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("counter", BigInteger, nullable=False),
)

# What the control API's reset keeps: the cluster's coordination, not an account's data.
CLUSTER_TABLES = (nonce_claims.name, nonce_floor.name, leases.name, cluster_nodes.name, store_changes.name)

# --- application access (the instance gateway's callers) -------------------------------------------

app_access_points = Table(
    "app_access_points",
    metadata,
    Column("account_uid", String(32), primary_key=True),
    Column("region", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("description", Text, nullable=False),
    Column("authentication_method", String(32), nullable=False),
    Column("policies", Text, nullable=False),  # JSON list of policy names
    Column("created_at", Integer, nullable=False),
)

app_policies = Table(
    "app_policies",
    metadata,
    Column("account_uid", String(32), primary_key=True),
    Column("region", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("description", Text, nullable=False),
    Column("kms_instance", String(64), nullable=False),
    Column("permissions", Text, nullable=False),  # JSON lists
    Column("resources", Text, nullable=False),
    Column("network_rules", Text, nullable=False),
    Column("created_at", Integer, nullable=False),
)

app_network_rules = Table(
    "app_network_rules",
    metadata,
    Column("account_uid", String(32), primary_key=True),
    Column("region", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("description", Text, nullable=False),
    Column("type", String(16), nullable=False),
    Column("source_private_ip", Text, nullable=False),  # JSON list of CIDRs
    Column("created_at", Integer, nullable=False),
)

# A client key: only its public key (the private key is handed out once, in a PKCS#12).
client_keys = Table(
    "client_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_uid", String(32), nullable=False),
    Column("region", String(64), nullable=False),
    Column("aap_name", String(64), nullable=False),
    Column("public_key", LargeBinary, nullable=False),
    Column("key_algorithm", String(16), nullable=False),
    Column("not_before", Integer, nullable=False),
    Column("not_after", Integer, nullable=False),
    Column("created_at", Integer, nullable=False),
    Index("ix_client_keys_aap", "account_uid", "region", "aap_name"),
)
