"""Typed settings, read once: defaults, then a TOML file, then the environment.

Environment variables: OPENKMS_DATA_DIR, OPENKMS_CONFIG, OPENKMS_HOST, OPENKMS_PORT,
OPENKMS_WORKERS, OPENKMS_DATABASE_URL, OPENKMS_DEFAULT_REGION, OPENKMS_ROOT_KEY,
OPENKMS_ADMIN_ACCESS_KEY_ID, OPENKMS_ADMIN_ACCESS_KEY_SECRET, OPENKMS_LOG_LEVEL.
Secrets (the root key, the admin secret) are read from the environment only, never from the file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from openkms.domain.keys import DEFAULT_KEYS_PER_REGION
from openkms.domain.regions import DEFAULT_REGION, DEFAULT_REGIONS, Region, RegionCatalogue


class SettingsError(ValueError):
    pass


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
    aliases_per_region: int = 300
    scheduler_interval: float = 30.0
    # Pre-generated RSA key pairs kept ready per spec and worker (0 = generate on demand).
    rsa_pool_size: int = 2
    # Minimum days between CreateKeyVersion calls on one asymmetric key (Alibaba: 7).
    version_spacing_days: float = 7.0
    log_level: str = "info"
    config_file: Path | None = None
    root_key: str | None = field(default=None, repr=False)
    admin_access_key_id: str | None = None
    admin_access_key_secret: str | None = field(default=None, repr=False)

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
        if s.workers < 1:
            raise SettingsError("workers must be at least 1")
        return replace(s, data_dir=s.data_dir.expanduser().resolve())


def _apply_file(s: Settings, path: Path) -> Settings:
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read config file {path}: {exc}") from None
    server, storage = doc.get("server", {}), doc.get("storage", {})
    limits, regions, scheduler = doc.get("limits", {}), doc.get("regions", {}), doc.get("scheduler", {})
    changes: dict[str, Any] = {"config_file": path}
    for name in ("host", "port", "workers", "log_level"):
        if name in server:
            changes[name] = server[name]
    if "data_dir" in storage:
        changes["data_dir"] = Path(storage["data_dir"])
    if "database_url" in storage:
        changes["database_url"] = storage["database_url"]
    for name in ("keys_per_region", "aliases_per_region"):
        if name in limits:
            changes[name] = int(limits[name])
    if "version_spacing_days" in limits:
        changes["version_spacing_days"] = float(limits["version_spacing_days"])
    if "rsa_pool_size" in doc.get("crypto", {}):
        changes["rsa_pool_size"] = int(doc["crypto"]["rsa_pool_size"])
    if "interval_seconds" in scheduler:
        changes["scheduler_interval"] = float(scheduler["interval_seconds"])
    if "default" in regions:
        changes["default_region"] = regions["default"]
    if "region" in regions:
        try:
            changes["regions"] = tuple(
                Region(r["id"], bool(r.get("mainland_china", False)), r.get("name", "")) for r in regions["region"]
            )
        except (KeyError, TypeError) as exc:
            raise SettingsError(f"[[regions.region]] entries need an id: {exc}") from None
    return replace(s, **changes)


def _apply_env(s: Settings, env: Mapping[str, str]) -> Settings:
    changes: dict[str, Any] = {}
    simple = {
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
