"""Typed settings, read once: defaults, then a TOML file, then the environment, then the command line.

Each setting is declared once, as a field of ``Settings`` made by ``option()``: its TOML table and
key, its environment variable, its default, its checks, whether it is secret, and one line on what
it means. ``OPTIONS`` lists them; reading the file and the environment, the checks, and README.md's
configuration section (written by ``scripts/settings-doc``) all follow from it. Secrets (the root
key, the administrator AccessKey pair) are read from the environment only, never from the file,
and never shown. ``[[keystores]]`` and ``[[regions.region]]`` entries have small readers of their
own, over rows of the same kind (``KEYSTORE_OPTIONS``, ``REGION_OPTIONS``).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, replace
from pathlib import Path
from typing import Any

from openkms.domain.aliases import DEFAULT_ALIASES_PER_REGION
from openkms.domain.keys import DEFAULT_KEYS_PER_REGION
from openkms.domain.quotas import PROFILES, UNLIMITED, QuotaPlan
from openkms.domain.ram.identities import RamLimits
from openkms.domain.regions import DEFAULT_REGION, DEFAULT_REGIONS, Region, RegionCatalogue
from openkms.settings_options import (
    BOOL,
    POSITIVE,
    STR,
    Option,
    SettingsError,
    at_least,
    at_most,
    between,
    one_of,
    option,
    options_of,
    read_entry,
    required,
    table_of,
)
from openkms.settings_quotas import QUOTA_ACCOUNT_OPTIONS, QuotaOverride, quota_overrides

__all__ = [
    "ENTRY_LISTS",
    "KEYSTORE_OPTIONS",
    "OPTIONS",
    "REGION_OPTIONS",
    "KeyStoreSettings",
    "Settings",
    "SettingsError",
]

# Dev mode's well-known administrator pair (README, "Testing with openkms"): public on purpose,
# so it is refused with [server] production = true, as dev mode is.
DEV_ACCESS_KEY_ID = "LTAI0penkmsDevAdmin00001"
DEV_ACCESS_KEY_SECRET = "openkmsDevSecretNotForProduction"  # noqa: S105 (documented, dev mode only)
DEV_UNLIMITED = 1_000_000_000  # dev mode's quotas: none a test could reach

MIN_ADMIN_SECRET_LENGTH = 16  # generated secrets are 30 characters
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
URL_PARSER_MAX = 65535  # httptools.parse_url keeps offsets in 16 bits

_RAM_DEFAULTS = RamLimits()  # Alibaba's published limits (docs/reference/ram-2015-05-01.md)


@dataclass(frozen=True)
class KeyStoreSettings:
    """A key store: a ``[[keystores]]`` entry. The PIN is named by its source (an environment
    variable or a file an operator controls), never written into the configuration."""

    id: str = required("keystores.id", "What CreateKey's DKMSInstanceId names.", example="kst-prod-hsm")
    module: str = required("keystores.module", "The PKCS#11 module.", example="/usr/lib/vendor/libpkcs11.so")
    token_label: str = required("keystores.token_label", "The token's label.", example="kms-prod")
    pin_env: str | None = option(
        None, "keystores.pin_env", "The variable that holds the PIN ...", example="OPENKMS_KST_PROD_PIN"
    )
    pin_file: Path | None = option(None, "keystores.pin_file", "... or the file.", example="/run/secrets/kst-prod-pin")
    description: str = option("", "keystores.description", "Shown in the console.", example="rack 4 HSM")
    # SoftHSM2 reads SOFTHSM2_CONF once per process.
    softhsm2_conf: str | None = option(
        None, "keystores.softhsm2_conf", "SoftHSM2 only: its configuration file.", example="/etc/softhsm2.conf"
    )
    kind: str = option("pkcs11", "keystores.kind", "The default, and so far the only kind of key store.")

    def read_pin(self, env: Mapping[str, str] | None = None) -> str:
        env = os.environ if env is None else env
        if self.pin_env:
            pin = env.get(self.pin_env)
            if not pin:
                raise SettingsError(f"key store {self.id}: the environment variable {self.pin_env} is not set")
            return pin
        assert self.pin_file is not None
        try:
            return self.pin_file.read_text().strip()
        except OSError as exc:
            raise SettingsError(
                f"key store {self.id}: cannot read its PIN file {self.pin_file}: {exc.strerror}"
            ) from None


@dataclass(frozen=True)
class Settings:
    """Every setting, one field each; ``option()`` says where it comes from and what it must be."""

    config_file: Path | None = option(None, None, "The TOML file to read (or `--config`).", env="OPENKMS_CONFIG")
    host: str = option("127.0.0.1", "server.host", "The address to listen on (or `--host`).", env="OPENKMS_HOST")
    port: int = option(
        8080, "server.port", "The TCP port (or `--port`).", env="OPENKMS_PORT", check=between(0, 65535), called="port"
    )
    tls_port: int = option(
        8443, "server.tls_port", "The HTTPS port (or `--tls-port`).", check=between(0, 65535), called="TLS port"
    )
    plain_http: bool = option(True, "server.http", "Also serve plain HTTP on `port` (false, or `--no-http`: off).")
    production: bool = option(
        False,
        "server.production",
        "A production node: HTTPS only, whatever `http` says, and an audit trail that fails closed "
        "unless `[audit] mode` says otherwise.",
    )
    trusted_proxies: str = option(
        "",
        "server.trusted_proxies",
        "Addresses of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed "
        "(comma-separated, `*` for any); none by default: they would choose acs:SourceIp, "
        "acs:SecureTransport and the audit trail's sourceIpAddress.",
        example="10.0.0.5,10.0.0.6",
    )
    tls: bool = option(True, "tls.enabled", "Serve HTTPS on `tls_port` (false, or `--no-tls`: off).")
    tls_cert_file: Path | None = option(
        None,
        "tls.cert_file",
        "The server certificate (PEM, chain after it); without one, a local CA issues it. SIGHUP reloads.",
        example="/etc/openkms/tls/server.pem",
    )
    tls_key_file: Path | None = option(
        None, "tls.key_file", "Its private key (PEM, unencrypted).", example="/etc/openkms/tls/server-key.pem"
    )
    workers: int = option(
        1,
        "server.workers",
        "Worker processes (or `--workers`).",
        env="OPENKMS_WORKERS",
        check=at_least(1),
        called="workers",
    )
    log_level: str = option(
        "info",
        "server.log_level",
        "critical, error, warning, info or debug.",
        env="OPENKMS_LOG_LEVEL",
        check=one_of(*LOG_LEVELS),
        called="log level",
    )
    data_dir: Path = option(
        Path("openkms-data"),
        "storage.data_dir",
        "SQLite database, nonces, root key file (or `--data-dir`).",
        env="OPENKMS_DATA_DIR",
    )
    database_url: str | None = option(
        None,
        "storage.database_url",
        "A SQLAlchemy URL, for a database other than SQLite.",
        env="OPENKMS_DATABASE_URL",
        example="postgresql+psycopg://kms@db/kms",
    )
    keys_per_region: int = option(
        DEFAULT_KEYS_PER_REGION,
        "limits.keys_per_region",
        "Keys per account and region: Alibaba's default quota; raise it freely.",
        env="OPENKMS_KEYS_PER_REGION",
        check=at_least(0),
    )
    aliases_per_region: int = option(
        DEFAULT_ALIASES_PER_REGION,
        "limits.aliases_per_region",
        "Aliases per account and region.",
        env="OPENKMS_ALIASES_PER_REGION",
        check=at_least(0),
    )
    ram_users_per_account: int = option(
        _RAM_DEFAULTS.users_per_account, "ram.users_per_account", "RAM users per account.", check=at_least(0)
    )
    ram_custom_policies_per_account: int = option(
        _RAM_DEFAULTS.custom_policies_per_account,
        "ram.custom_policies_per_account",
        "Custom RAM policies per account.",
        check=at_least(0),
    )
    ram_system_policies_per_user: int = option(
        _RAM_DEFAULTS.system_policies_per_user,
        "ram.system_policies_per_user",
        "System policies attached to one RAM user.",
        check=at_least(0),
    )
    ram_custom_policies_per_user: int = option(
        _RAM_DEFAULTS.custom_policies_per_user,
        "ram.custom_policies_per_user",
        "Custom policies attached to one RAM user.",
        check=at_least(0),
    )
    version_spacing_days: float = option(
        7.0,
        "limits.version_spacing_days",
        "The fewest days between CreateKeyVersion calls on one key.",
        env="OPENKMS_VERSION_SPACING_DAYS",
        check=at_least(0),
    )
    rsa_pool_size: int = option(
        2,
        "crypto.rsa_pool_size",
        "RSA key pairs made ahead, per spec and worker (0: on demand), from 5 s after the start or the first RSA key.",
        env="OPENKMS_RSA_POOL_SIZE",
        check=at_least(0),
    )
    scheduler_interval: float = option(
        30.0,
        "scheduler.interval_seconds",
        "Seconds between runs of rotation, deletion and expiry.",
        env="OPENKMS_SCHEDULER_INTERVAL",
        check=POSITIVE,
        called="the scheduler interval",
    )
    scheduler_lease_seconds: float = option(
        15.0,
        "scheduler.lease_seconds",
        "Seconds a lease on the background jobs lasts (renewed every third); a dead leader is replaced within 1.34.",
        check=at_least(1),
        called="the scheduler lease",
    )
    secret_rotation_hosts: str = option(
        "",
        "secrets.rotation_hosts",
        "PostgreSQL servers (host:port, comma-separated) the Rds/PolarDB rotator may connect to; empty: none.",
        example="db.internal:5432",
    )
    secret_ram_grace_hours: float = option(
        24.0,
        "secrets.ram_grace_hours",
        "Hours a rotated RAMCredentials AccessKey keeps working before it is disabled.",
        check=at_least(0),
    )
    default_region: str = option(
        DEFAULT_REGION, "regions.default", "The region of a request that names none.", env="OPENKMS_DEFAULT_REGION"
    )
    regions: tuple[Region, ...] = DEFAULT_REGIONS  # [[regions.region]] entries: REGION_OPTIONS
    keystores: tuple[KeyStoreSettings, ...] = ()  # [[keystores]] entries: KEYSTORE_OPTIONS
    default_hsm_keystore: str = option(
        "", "hsm.default_keystore", 'Serves ProtectionLevel=HSM when a request names no store ("": openkms\'s own).'
    )
    auto_softhsm: bool = option(
        True, "hsm.auto_softhsm", "openkms's own SoftHSM2 token, made when HSM keys are first asked for."
    )
    root_key_keystore: str | None = option(
        None, "hsm.root_key_keystore", "Keep the root key itself in this store's token.", example="kst-prod-hsm"
    )
    # A key store that cannot be opened (wrong PIN, token absent) is tried again with a growing pause.
    hsm_retry_seconds: float = option(
        5.0, "hsm.retry_seconds", "Seconds until a store that failed to open is tried again; doubled each time ..."
    )
    hsm_retry_max_seconds: float = option(300.0, "hsm.retry_max_seconds", "... up to this many.")
    # What one client may cost the server; README.md says what each limit answers.
    http_max_request_line_bytes: int = option(
        URL_PARSER_MAX,
        "http.max_request_line_bytes",
        f"The URL, query string included; {URL_PARSER_MAX} is also the most allowed.",
        check=(POSITIVE, at_most(URL_PARSER_MAX, "the URL parser's own limit")),
    )
    http_max_header_bytes: int = option(
        32 * 1024, "http.max_header_bytes", "Names and values of all header fields together.", check=POSITIVE
    )
    http_max_headers: int = option(100, "http.max_headers", "Header fields in one request.", check=POSITIVE)
    # Far above the largest Alibaba request (a 32 KB policy, URL-encoded); the console has its own.
    http_max_body_bytes: int = option(
        256 * 1024,
        "http.max_body_bytes",
        'RPC requests at "/"; the largest Alibaba request is about 100 KB.',
        check=POSITIVE,
    )
    http_request_timeout: float = option(
        15.0,
        "http.request_timeout_seconds",
        "Seconds from a request's first byte to its last.",
        env="OPENKMS_HTTP_REQUEST_TIMEOUT",
        check=POSITIVE,
    )
    http_keep_alive_timeout: float = option(
        5.0,
        "http.keep_alive_timeout_seconds",
        "Seconds an idle connection is kept, before its first request and between requests.",
        env="OPENKMS_HTTP_KEEP_ALIVE_TIMEOUT",
        check=POSITIVE,
    )
    http_max_connections: int = option(1024, "http.max_connections", "Open connections, per worker.", check=POSITIVE)
    audit_mode: str | None = option(
        None,
        "audit.mode",
        "fail-closed: a request waits until its event is on disk, and is refused if it cannot be written; "
        "best-effort: a failure is logged and counted; off: no trail. Default: fail-closed with "
        "`[server] production`, else best-effort.",
        check=one_of("best-effort", "fail-closed", "off"),
        example="fail-closed",
    )
    audit_directory: Path | None = option(
        None,
        "audit.directory",
        "Where the audit chains are written (default: the data directory's audit/).",
        example="/var/log/openkms/audit",
    )
    audit_checkpoint_events: int = option(
        1000, "audit.checkpoint_events", "A signed checkpoint after this many events ...", check=POSITIVE
    )
    audit_checkpoint_seconds: float = option(
        60.0, "audit.checkpoint_seconds", "... or this many seconds after the oldest unsealed one.", check=POSITIVE
    )
    audit_segment_bytes: int = option(
        64 * 1024 * 1024, "audit.segment_bytes", "A new segment file once one is this large ...", check=POSITIVE
    )
    audit_segment_seconds: float = option(86_400.0, "audit.segment_seconds", "... or this old.", check=POSITIVE)
    audit_retention_days: float = option(
        0.0,
        "audit.retention_days",
        "Sealed segments older than this are deleted, on the record (0: kept).",
        check=at_least(0),
    )
    quota_profile: str = option(
        UNLIMITED,
        "quotas.profile",
        "Request rates per account, region and class of action: unlimited, or alibaba-shared (the "
        "cloud's published numbers); shared out between the live nodes and their workers.",
        check=one_of(*PROFILES),
    )
    quota_overrides: tuple[QuotaOverride, ...] = ()  # [[quotas.account]] entries: QUOTA_ACCOUNT_OPTIONS
    metrics_enabled: bool = option(
        True, "metrics.enabled", "Count requests for /metrics (false: nothing counted, /metrics not found)."
    )
    metrics_access: str = option(
        "loopback",
        "metrics.access",
        "Who may read /metrics: loopback (clients on this host), open (anyone), or token (a bearer "
        "token, OPENKMS_METRICS_TOKEN).",
        check=one_of("loopback", "open", "token"),
    )
    metrics_token: str | None = option(
        None, None, 'The bearer token of `[metrics] access = "token"`.', env="OPENKMS_METRICS_TOKEN", secret=True
    )
    root_key: str | None = option(
        None, None, "The root key: 32 bytes, base64 or hex (see below).", env="OPENKMS_ROOT_KEY", secret=True
    )
    dev: bool = option(
        False,
        "testing.dev",
        "Dev mode (or `openkms serve --dev`): the well-known administrator pair, no quotas, plain HTTP, "
        "the control API on. Refused with `[server] production`.",
    )
    control_api: bool = option(
        False,
        "testing.control_api",
        "The test control API under `/_openkms/` (clock, faults, reset, requests) for administrator "
        "keys; on in dev mode. Refused with `[server] production`.",
    )
    seed_file: Path | None = option(
        None,
        "testing.seed_file",
        "A seed file (docs/SEED.md) a dev server loads at every start, and its control API's reset "
        "returns to (or `openkms serve --dev --seed FILE`). Dev mode only.",
        example="tests/seed.toml",
    )
    deterministic: str | None = option(
        None,
        "testing.deterministic",
        "Dev mode only: KeyIds, version ids and symmetric key material made from this string, the same "
        "on every run (or `--deterministic SEED`); IVs and nonces stay random.",
        example="my-test-seed",
    )
    admin_access_key_id: str | None = option(
        None,
        None,
        "The administrator AccessKey ID to create on first start (set both or neither) ...",
        env="OPENKMS_ADMIN_ACCESS_KEY_ID",
        secret=True,
    )
    admin_access_key_secret: str | None = option(
        None,
        None,
        f"... and its secret, {MIN_ADMIN_SECRET_LENGTH} characters or more; else a random pair is printed once.",
        env="OPENKMS_ADMIN_ACCESS_KEY_SECRET",
        secret=True,
    )

    @property
    def serves_http(self) -> bool:
        """Whether the plain-HTTP listener is on: a production node serves HTTPS only."""
        return self.plain_http and not self.production

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "openkms.sqlite3"

    def catalogue(self) -> RegionCatalogue:
        return RegionCatalogue(self.regions, self.default_region)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        s = cls()
        config = overrides.get("config_file") or env.get("OPENKMS_CONFIG")
        if config:
            s = _apply_file(s, Path(config))
        s = _apply_env(s, env)
        clean = {k: v for k, v in overrides.items() if v is not None}
        s = replace(s, **clean)
        try:
            s.catalogue()
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        _check(s)
        if s.dev:
            s = _dev(s)
        return replace(s, data_dir=s.data_dir.expanduser().resolve())

    def quota_plan(self) -> QuotaPlan:
        return QuotaPlan(self.quota_profile.lower(), self.quota_overrides)

    @property
    def control_api_on(self) -> bool:
        return self.dev or self.control_api


def _dev(s: Settings) -> Settings:
    """What dev mode changes: a start without first-start choices (the pair is known, no CA is
    issued) and no quota a test suite could run into."""
    return replace(
        s,
        control_api=True,
        tls=False,
        plain_http=True,
        admin_access_key_id=s.admin_access_key_id or DEV_ACCESS_KEY_ID,
        admin_access_key_secret=s.admin_access_key_secret or DEV_ACCESS_KEY_SECRET,
        keys_per_region=DEV_UNLIMITED,
        aliases_per_region=DEV_UNLIMITED,
        ram_users_per_account=DEV_UNLIMITED,
        ram_custom_policies_per_account=DEV_UNLIMITED,
        ram_system_policies_per_user=DEV_UNLIMITED,
        ram_custom_policies_per_user=DEV_UNLIMITED,
    )


OPTIONS: tuple[Option, ...] = options_of(Settings)
KEYSTORE_OPTIONS: tuple[Option, ...] = options_of(KeyStoreSettings, environment=False)
# A Region (openkms.domain) cannot carry its own rows.
REGION_OPTIONS: tuple[Option, ...] = (
    Option("id", "regions.region", "id", None, STR, MISSING, "Its RegionId.", example="eu-central-1"),
    Option(
        "mainland_china",
        "regions.region",
        "mainland_china",
        None,
        BOOL,
        False,
        "Whether SM4 and SM2 keys are offered there.",
    ),
    Option("local_name", "regions.region", "name", None, STR, "", "Its name in the console.", example="Frankfurt"),
)
# The file's [[...]] lists: their name, what one entry is, the rows of its keys.
ENTRY_LISTS: tuple[tuple[str, str, tuple[Option, ...]], ...] = (
    ("regions.region", "One entry per region; without any, Alibaba's public regions.", REGION_OPTIONS),
    ("keystores", 'One entry per key store: see "Keys in a hardware security module".', KEYSTORE_OPTIONS),
    ("quotas.account", "One entry per account whose rates differ from the profile's.", QUOTA_ACCOUNT_OPTIONS),
)


def _check(s: Settings) -> None:
    for row in OPTIONS:
        row.check(getattr(s, row.name))
    ids = [k.id for k in s.keystores]
    if len(set(ids)) != len(ids):
        raise SettingsError("two [[keystores]] have the same id")
    for name in (s.default_hsm_keystore or None, s.root_key_keystore):
        if name is not None and name not in ids:
            raise SettingsError(f"[hsm] names the key store {name!r}, but no [[keystores]] entry has that id")
    if s.hsm_retry_seconds <= 0 or s.hsm_retry_max_seconds < s.hsm_retry_seconds:
        raise SettingsError("[hsm] retry_seconds must be positive and retry_max_seconds at least as long")
    if s.production and (s.audit_mode or "").lower() == "off":
        raise SettingsError('[audit] mode = "off" is refused with [server] production = true')
    if s.production and (s.dev or s.control_api):
        raise SettingsError(
            "dev mode and [testing] control_api are refused with [server] production = true: "
            "they publish an administrator pair and let a caller move the clock"
        )
    if s.metrics_access.lower() == "token" and not s.metrics_token:
        raise SettingsError('[metrics] access = "token" needs the token in OPENKMS_METRICS_TOKEN')
    for given, name in ((s.seed_file, "seed_file (--seed)"), (s.deterministic, "deterministic (--deterministic)")):
        if given and not s.dev:
            raise SettingsError(f"[testing] {name} is for dev mode only (openkms serve --dev)")
    if s.root_key_keystore and s.root_key:
        raise SettingsError("the root key comes either from OPENKMS_ROOT_KEY or from a key store, not both")
    if (s.tls_cert_file is None) != (s.tls_key_file is None):
        raise SettingsError("[tls] give both cert_file and key_file, or neither (a local CA then issues one)")
    if not s.tls and not s.serves_http:
        raise SettingsError(
            "HTTPS is off ([tls] enabled = false or --no-tls) and so is plain HTTP "
            "(--no-http, [server] http = false or production = true): nothing to listen on"
        )
    if s.tls and s.serves_http and s.port == s.tls_port != 0:
        raise SettingsError(f"the HTTP and HTTPS listeners cannot share port {s.port}")
    if bool(s.admin_access_key_id) != bool(s.admin_access_key_secret):
        raise SettingsError("set both OPENKMS_ADMIN_ACCESS_KEY_ID and OPENKMS_ADMIN_ACCESS_KEY_SECRET, or neither")
    if s.admin_access_key_secret and len(s.admin_access_key_secret) < MIN_ADMIN_SECRET_LENGTH:
        raise SettingsError(
            f"OPENKMS_ADMIN_ACCESS_KEY_SECRET must be at least {MIN_ADMIN_SECRET_LENGTH} characters: "
            "it is the key to every key of the account"
        )


def _regions(entries: Any) -> tuple[Region, ...]:
    if not isinstance(entries, list) or not all(isinstance(r, dict) for r in entries):
        raise SettingsError("[[regions.region]] must be a list of tables")
    regions = []
    for entry in entries:
        if "id" not in entry:
            raise SettingsError("[[regions.region]] entries need an id")
        regions.append(Region(**read_entry(entry, REGION_OPTIONS)))
    return tuple(regions)


_KEYSTORE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _keystore_kind(store_id: str, kind: str) -> str:
    from openkms.keystores import KINDS  # the registry builds on these settings: imported when needed

    if kind not in KINDS:
        raise SettingsError(f"key store {store_id}: unknown kind {kind!r} (known kinds: {', '.join(KINDS)})")
    return kind


def _keystore(entry: Mapping[str, Any]) -> KeyStoreSettings:
    for row in KEYSTORE_OPTIONS:
        if row.required and row.key not in entry:
            raise SettingsError(f"[[keystores]] entries need {row.key}")
    values = read_entry(entry, KEYSTORE_OPTIONS)
    store_id = values["id"]
    if not _KEYSTORE_ID.fullmatch(store_id):
        raise SettingsError(f"key store id {store_id!r}: use 1-64 letters, digits, '_' or '-'")
    if "pin" in entry:
        raise SettingsError(f"key store {store_id}: never write a PIN into the configuration; use pin_env or pin_file")
    if ("pin_env" in entry) == ("pin_file" in entry):
        raise SettingsError(f"key store {store_id}: give exactly one of pin_env or pin_file")
    _keystore_kind(store_id, values["kind"])
    return KeyStoreSettings(**values)


def _apply_file(s: Settings, path: Path) -> Settings:
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read config file {path}: {exc}") from None
    changes: dict[str, Any] = {}
    for row in OPTIONS:
        table = table_of(doc, row.table) if row.table else {}
        if row.key in table:
            changes[row.name] = row.read(table)
    regions = table_of(doc, "regions")
    if "region" in regions:
        changes["regions"] = _regions(regions["region"])
    quotas = table_of(doc, "quotas")
    if "account" in quotas:
        changes["quota_overrides"] = quota_overrides(quotas["account"])
    if "keystores" in doc:
        entries = doc["keystores"]
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise SettingsError("[[keystores]] must be a list of tables")
        changes["keystores"] = tuple(_keystore(entry) for entry in entries)
    return replace(s, **changes)


def _apply_env(s: Settings, env: Mapping[str, str]) -> Settings:
    return replace(s, **{row.name: row.parse(env[row.env]) for row in OPTIONS if row.env and env.get(row.env)})
