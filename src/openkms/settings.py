"""Typed settings, read once: defaults, then a TOML file, then the environment.

Environment variables: OPENKMS_DATA_DIR, OPENKMS_CONFIG, OPENKMS_HOST, OPENKMS_PORT,
OPENKMS_WORKERS, OPENKMS_DATABASE_URL, OPENKMS_DEFAULT_REGION, OPENKMS_ROOT_KEY,
OPENKMS_ADMIN_ACCESS_KEY_ID, OPENKMS_ADMIN_ACCESS_KEY_SECRET, OPENKMS_LOG_LEVEL, and the HTTP
limits OPENKMS_HTTP_* (``HTTP_OPTIONS``).
Secrets (the root key, the admin secret) are read from the environment only, never from the file.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from openkms.domain.aliases import DEFAULT_ALIASES_PER_REGION
from openkms.domain.keys import DEFAULT_KEYS_PER_REGION
from openkms.domain.regions import DEFAULT_REGION, DEFAULT_REGIONS, Region, RegionCatalogue

MIN_ADMIN_SECRET_LENGTH = 16  # generated secrets are 30 characters


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class KeyStoreSettings:
    """A PKCS#11 key store. The PIN is named by its source (an environment variable or a file an
    operator controls), never written into the configuration."""

    id: str
    module: str
    token_label: str
    pin_env: str | None = None
    pin_file: Path | None = None
    description: str = ""
    # SoftHSM2 only: its configuration file (SoftHSM2 reads SOFTHSM2_CONF once per process).
    softhsm2_conf: str | None = None
    # Which kind of key store this is: a row of openkms.keystores.KINDS.
    kind: str = "pkcs11"

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
    data_dir: Path = Path("openkms-data")
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    database_url: str | None = None
    default_region: str = DEFAULT_REGION
    regions: tuple[Region, ...] = DEFAULT_REGIONS
    keys_per_region: int = DEFAULT_KEYS_PER_REGION
    aliases_per_region: int = DEFAULT_ALIASES_PER_REGION
    scheduler_interval: float = 30.0
    # Pre-generated RSA key pairs kept ready per spec and worker (0 = generate on demand).
    rsa_pool_size: int = 2
    # Minimum days between CreateKeyVersion calls on one asymmetric key (Alibaba: 7).
    version_spacing_days: float = 7.0
    log_level: str = "info"
    config_file: Path | None = None
    keystores: tuple[KeyStoreSettings, ...] = ()
    # The key store that serves ProtectionLevel=HSM when a request names none ("" = openkms's own
    # SoftHSM2 token in the data directory).
    default_hsm_keystore: str = ""
    # Create openkms's own SoftHSM2 token when SoftHSM2 is installed and HSM keys are asked for.
    auto_softhsm: bool = True
    # Keep the root key inside this key store's token instead of a file or the environment.
    root_key_keystore: str | None = None
    # A key store that cannot be opened (wrong PIN, token absent) is tried again after this many
    # seconds, then twice as long each time, up to the maximum.
    hsm_retry_seconds: float = 5.0
    hsm_retry_max_seconds: float = 300.0
    root_key: str | None = field(default=None, repr=False)
    admin_access_key_id: str | None = None
    admin_access_key_secret: str | None = field(default=None, repr=False)
    # The HTTP layer's limits ([http]), per worker; README.md says what each one answers.
    # 65535 is also the most that httptools' URL parser can take.
    http_max_request_line_bytes: int = 65535
    http_max_header_bytes: int = 32 * 1024
    http_max_headers: int = 100
    # Far above the largest Alibaba request (a 32 KB policy, URL-encoded); the console has its own.
    http_max_body_bytes: int = 256 * 1024
    # From a request's first byte to its last, and between requests on an idle connection.
    http_request_timeout: float = 15.0
    http_keep_alive_timeout: float = 5.0
    http_max_connections: int = 1024

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "openkms.sqlite3"

    def catalogue(self) -> RegionCatalogue:
        return RegionCatalogue(self.regions, self.default_region)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        s = cls()
        config = overrides.pop("config_file", None) or env.get("OPENKMS_CONFIG")
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
        return replace(s, data_dir=s.data_dir.expanduser().resolve())


LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
URL_PARSER_MAX = 65535  # httptools.parse_url keeps offsets in 16 bits

# [http] key -> (Settings field, TOML kind, environment variable)
HTTP_OPTIONS: dict[str, tuple[str, type, str]] = {
    "max_request_line_bytes": ("http_max_request_line_bytes", int, "OPENKMS_HTTP_MAX_REQUEST_LINE_BYTES"),
    "max_header_bytes": ("http_max_header_bytes", int, "OPENKMS_HTTP_MAX_HEADER_BYTES"),
    "max_headers": ("http_max_headers", int, "OPENKMS_HTTP_MAX_HEADERS"),
    "max_body_bytes": ("http_max_body_bytes", int, "OPENKMS_HTTP_MAX_BODY_BYTES"),
    "request_timeout_seconds": ("http_request_timeout", float, "OPENKMS_HTTP_REQUEST_TIMEOUT"),
    "keep_alive_timeout_seconds": ("http_keep_alive_timeout", float, "OPENKMS_HTTP_KEEP_ALIVE_TIMEOUT"),
    "max_connections": ("http_max_connections", int, "OPENKMS_HTTP_MAX_CONNECTIONS"),
}


def _check(s: Settings) -> None:
    if s.workers < 1:
        raise SettingsError("workers must be at least 1")
    if not 0 <= s.port <= 65535:
        raise SettingsError(f"port must be between 0 and 65535, not {s.port}")
    if s.log_level.lower() not in LOG_LEVELS:
        raise SettingsError(f"log level must be one of {', '.join(LOG_LEVELS)}, not {s.log_level!r}")
    if s.scheduler_interval <= 0:
        raise SettingsError("the scheduler interval must be positive")
    if min(s.keys_per_region, s.aliases_per_region, s.rsa_pool_size) < 0 or s.version_spacing_days < 0:
        raise SettingsError("limits and pool sizes cannot be negative")
    ids = [k.id for k in s.keystores]
    if len(set(ids)) != len(ids):
        raise SettingsError("two [[keystores]] have the same id")
    for name in (s.default_hsm_keystore or None, s.root_key_keystore):
        if name is not None and name not in ids:
            raise SettingsError(f"[hsm] names the key store {name!r}, but no [[keystores]] entry has that id")
    if s.hsm_retry_seconds <= 0 or s.hsm_retry_max_seconds < s.hsm_retry_seconds:
        raise SettingsError("[hsm] retry_seconds must be positive and retry_max_seconds at least as long")
    if s.root_key_keystore and s.root_key:
        raise SettingsError("the root key comes either from OPENKMS_ROOT_KEY or from a key store, not both")
    if bool(s.admin_access_key_id) != bool(s.admin_access_key_secret):
        raise SettingsError("set both OPENKMS_ADMIN_ACCESS_KEY_ID and OPENKMS_ADMIN_ACCESS_KEY_SECRET, or neither")
    if s.admin_access_key_secret and len(s.admin_access_key_secret) < MIN_ADMIN_SECRET_LENGTH:
        raise SettingsError(
            f"OPENKMS_ADMIN_ACCESS_KEY_SECRET must be at least {MIN_ADMIN_SECRET_LENGTH} characters: "
            "it is the key to every key of the account"
        )
    _check_http(s)


def _check_http(s: Settings) -> None:
    for key, (name, _, _) in HTTP_OPTIONS.items():
        if getattr(s, name) <= 0:
            raise SettingsError(f"[http] {key} must be positive, not {getattr(s, name)}")
    if s.http_max_request_line_bytes > URL_PARSER_MAX:
        raise SettingsError(
            f"[http] max_request_line_bytes can be at most {URL_PARSER_MAX} (the URL parser's own limit), "
            f"not {s.http_max_request_line_bytes}"
        )


_KIND_NAMES: dict[type, str] = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _table(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    table = doc.get(name, {})
    if not isinstance(table, dict):
        raise SettingsError(f"[{name}] must be a table")
    return table


def _typed(table: Mapping[str, Any], section: str, name: str, kind: type) -> Any:
    """``table[name]`` if it has the TOML type ``kind`` (an integer is also a number), else a clear error."""
    value = table[name]
    if isinstance(value, bool) and kind is not bool:
        ok = False
    else:
        ok = isinstance(value, kind) or (kind is float and isinstance(value, int))
    if not ok:
        raise SettingsError(f"[{section}] {name} must be {_KIND_NAMES[kind]}, not {value!r}")
    return float(value) if kind is float else value


def _regions(table: Mapping[str, Any]) -> tuple[Region, ...]:
    entries = table["region"]
    if not isinstance(entries, list) or not all(isinstance(r, dict) for r in entries):
        raise SettingsError("[[regions.region]] must be a list of tables")
    regions = []
    for entry in entries:
        if "id" not in entry:
            raise SettingsError("[[regions.region]] entries need an id")
        regions.append(
            Region(
                _typed(entry, "regions.region", "id", str),
                _typed(entry, "regions.region", "mainland_china", bool) if "mainland_china" in entry else False,
                _typed(entry, "regions.region", "name", str) if "name" in entry else "",
            )
        )
    return tuple(regions)


_KEYSTORE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _keystore_kind(store_id: str, kind: str) -> str:
    from openkms.keystores import KINDS  # the registry builds on these settings: imported when needed

    if kind not in KINDS:
        raise SettingsError(f"key store {store_id}: unknown kind {kind!r} (known kinds: {', '.join(KINDS)})")
    return kind


def _keystores(entries: Any) -> tuple[KeyStoreSettings, ...]:
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SettingsError("[[keystores]] must be a list of tables")
    stores = []
    for entry in entries:
        for required in ("id", "module", "token_label"):
            if required not in entry:
                raise SettingsError(f"[[keystores]] entries need {required}")
        store_id = _typed(entry, "keystores", "id", str)
        if not _KEYSTORE_ID.fullmatch(store_id):
            raise SettingsError(f"key store id {store_id!r}: use 1-64 letters, digits, '_' or '-'")
        if "pin" in entry:
            raise SettingsError(
                f"key store {store_id}: never write a PIN into the configuration; use pin_env or pin_file"
            )
        if ("pin_env" in entry) == ("pin_file" in entry):
            raise SettingsError(f"key store {store_id}: give exactly one of pin_env or pin_file")
        kind = _keystore_kind(store_id, _typed(entry, "keystores", "kind", str) if "kind" in entry else "pkcs11")
        stores.append(
            KeyStoreSettings(
                id=store_id,
                module=_typed(entry, "keystores", "module", str),
                token_label=_typed(entry, "keystores", "token_label", str),
                pin_env=_typed(entry, "keystores", "pin_env", str) if "pin_env" in entry else None,
                pin_file=Path(_typed(entry, "keystores", "pin_file", str)) if "pin_file" in entry else None,
                description=_typed(entry, "keystores", "description", str) if "description" in entry else "",
                softhsm2_conf=_typed(entry, "keystores", "softhsm2_conf", str) if "softhsm2_conf" in entry else None,
                kind=kind,
            )
        )
    return tuple(stores)


def _apply_file(s: Settings, path: Path) -> Settings:
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read config file {path}: {exc}") from None
    server, storage, limits = _table(doc, "server"), _table(doc, "storage"), _table(doc, "limits")
    regions, scheduler, crypto = _table(doc, "regions"), _table(doc, "scheduler"), _table(doc, "crypto")
    changes: dict[str, Any] = {"config_file": path}
    for name, kind in (("host", str), ("port", int), ("workers", int), ("log_level", str)):
        if name in server:
            changes[name] = _typed(server, "server", name, kind)
    if "data_dir" in storage:
        changes["data_dir"] = Path(_typed(storage, "storage", "data_dir", str))
    if "database_url" in storage:
        changes["database_url"] = _typed(storage, "storage", "database_url", str)
    for name in ("keys_per_region", "aliases_per_region"):
        if name in limits:
            changes[name] = _typed(limits, "limits", name, int)
    if "version_spacing_days" in limits:
        changes["version_spacing_days"] = _typed(limits, "limits", "version_spacing_days", float)
    if "rsa_pool_size" in crypto:
        changes["rsa_pool_size"] = _typed(crypto, "crypto", "rsa_pool_size", int)
    if "interval_seconds" in scheduler:
        changes["scheduler_interval"] = _typed(scheduler, "scheduler", "interval_seconds", float)
    if "default" in regions:
        changes["default_region"] = _typed(regions, "regions", "default", str)
    if "region" in regions:
        changes["regions"] = _regions(regions)
    if "keystores" in doc:
        changes["keystores"] = _keystores(doc["keystores"])
    hsm = _table(doc, "hsm")
    if "default_keystore" in hsm:
        changes["default_hsm_keystore"] = _typed(hsm, "hsm", "default_keystore", str)
    if "auto_softhsm" in hsm:
        changes["auto_softhsm"] = _typed(hsm, "hsm", "auto_softhsm", bool)
    if "root_key_keystore" in hsm:
        changes["root_key_keystore"] = _typed(hsm, "hsm", "root_key_keystore", str)
    for name in ("retry_seconds", "retry_max_seconds"):
        if name in hsm:
            changes["hsm_" + name] = _typed(hsm, "hsm", name, float)
    http = _table(doc, "http")
    for key, (option, kind_of_option, _) in HTTP_OPTIONS.items():
        if key in http:
            changes[option] = _typed(http, "http", key, kind_of_option)
    return replace(s, **changes)


def _apply_env(s: Settings, env: Mapping[str, str]) -> Settings:
    changes: dict[str, Any] = {}
    simple: dict[str, tuple[str, type]] = {
        "OPENKMS_HOST": ("host", str),
        "OPENKMS_PORT": ("port", int),
        "OPENKMS_WORKERS": ("workers", int),
        "OPENKMS_DATABASE_URL": ("database_url", str),
        "OPENKMS_DEFAULT_REGION": ("default_region", str),
        "OPENKMS_LOG_LEVEL": ("log_level", str),
        "OPENKMS_ROOT_KEY": ("root_key", str),
        "OPENKMS_ADMIN_ACCESS_KEY_ID": ("admin_access_key_id", str),
        "OPENKMS_ADMIN_ACCESS_KEY_SECRET": ("admin_access_key_secret", str),
        "OPENKMS_KEYS_PER_REGION": ("keys_per_region", int),
        "OPENKMS_SCHEDULER_INTERVAL": ("scheduler_interval", float),
        "OPENKMS_RSA_POOL_SIZE": ("rsa_pool_size", int),
        "OPENKMS_VERSION_SPACING_DAYS": ("version_spacing_days", float),
        **{var: (name, kind) for name, kind, var in HTTP_OPTIONS.values()},
    }
    for var, (name, kind) in simple.items():
        if env.get(var):
            try:
                changes[name] = kind(env[var])
            except ValueError:
                raise SettingsError(f"{var} is not a valid {kind.__name__}") from None
    if env.get("OPENKMS_DATA_DIR"):
        changes["data_dir"] = Path(env["OPENKMS_DATA_DIR"])
    return replace(s, **changes)
