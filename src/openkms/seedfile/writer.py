"""A seed as its document (what the control API answers) and as TOML text (what ``openkms seed
export`` writes). ``tomllib`` reads TOML but writes none; a seed's document needs only strings,
whole numbers, booleans, lists of strings, tables of strings and arrays of tables, so this small
writer suffices (``tests/unit/seedfile`` reads every document it writes back with ``tomllib``).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from openkms.crypto import pem
from openkms.domain.seed import FORMAT_VERSION, Seed, SeedKey, SeedSecret

HEADER = (
    "# An openkms seed file (docs/SEED.md), written by `openkms seed export`.\n"
    "# It holds key material and secret values in clear: keep it with the tests, never in production.\n"
)


def _iso(when: int) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _drop_empty(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if v not in ("", None, [], {}, ())}


def to_document(seed: Seed) -> dict[str, Any]:
    document: dict[str, Any] = {"version": FORMAT_VERSION}
    if seed.material_seed:
        document["material_seed"] = seed.material_seed
    document["accounts"] = [{"uid": uid} for uid in seed.accounts]
    document["users"] = [
        _drop_empty({"account": u.account, "name": u.name, "display_name": u.display_name}) for u in seed.users
    ]
    document["access_keys"] = [
        _drop_empty({
            "id": k.id, "secret": k.secret, "account": k.account, "user": k.user,
            "status": "Enabled" if k.enabled else "Disabled",
        })
        for k in seed.access_keys
    ]  # fmt: skip
    document["keys"] = [_key(k) for k in seed.keys]
    document["secrets"] = [_secret(s) for s in seed.secrets]
    return _drop_empty(document)


def _key(key: SeedKey) -> dict[str, Any]:
    versions = []
    for v in key.versions:
        entry: dict[str, Any] = {"id": v.id}
        if v.derive:
            entry["derive"] = True
        elif v.material is not None and key.spec.startswith("Aliyun_"):
            entry["material_base64"] = base64.b64encode(v.material).decode()
        elif v.material is not None:
            entry["private_key_pem"] = pem.encode(v.material, "PRIVATE KEY")
        if v.created_at is not None:
            entry["created_at"] = _iso(v.created_at)
        versions.append(entry)
    return _drop_empty({
        "id": key.id, "account": key.account, "region": key.region, "spec": key.spec, "usage": key.usage,
        "protection_level": "SOFTWARE", "state": key.state,
        "delete_at": _iso(key.delete_at) if key.delete_at is not None else None,
        "description": key.description, "creator": key.creator, "aliases": list(key.aliases),
        "tags": dict(key.tags),
        "automatic_rotation": True if key.rotation_interval is not None else None,
        "rotation_interval": f"{key.rotation_interval}s" if key.rotation_interval is not None else None,
        "created_at": _iso(key.created_at) if key.created_at is not None else None,
        "versions": versions,
    })  # fmt: skip


def _secret(secret: SeedSecret) -> dict[str, Any]:
    versions = [
        _drop_empty({
            "id": v.id, "value": v.value, "data_type": v.data_type if v.data_type != "text" else None,
            "stages": list(v.stages), "created_at": _iso(v.created_at) if v.created_at is not None else None,
        })
        for v in secret.versions
    ]  # fmt: skip
    for version, given in zip(versions, secret.versions, strict=True):
        version["value"] = given.value  # an empty value is a value
    return _drop_empty({
        "name": secret.name, "account": secret.account, "region": secret.region, "key": secret.key,
        "service_key": True if secret.service_key else None, "description": secret.description,
        "tags": dict(secret.tags), "versions": versions,
    })  # fmt: skip


# --- TOML --------------------------------------------------------------------------------------


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if "\n" in value and "'''" not in value and _literal_ok(value):
            return "'''\n" + value + "'''"
        # A JSON string is a TOML basic string, but for DEL, which TOML wants escaped.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_name(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {type(value).__name__}")


def _literal_ok(value: str) -> bool:
    """A multi-line literal string holds ``value`` as it is (PEM blocks read best so)."""
    return all(c == "\n" or c.isprintable() for c in value)


def _name(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key, ensure_ascii=False)


def dumps(document: dict[str, Any]) -> str:
    out = [HEADER]
    _table(out, [], document)
    return "".join(out)


def _table(out: list[str], path: list[str], table: dict[str, Any]) -> None:
    nested = {k: v for k, v in table.items() if isinstance(v, list) and v and all(isinstance(e, dict) for e in v)}
    for key, value in table.items():
        if key not in nested:
            out.append(f"{_name(key)} = {_value(value)}\n")
    for key, entries in nested.items():
        for entry in entries:
            header = ".".join([*path, _name(key)])
            out.append(f"\n[[{header}]]\n")
            _table(out, [*path, _name(key)], entry)
