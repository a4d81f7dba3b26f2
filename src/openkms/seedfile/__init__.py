"""Seed files: TOML checked against the JSON Schema shipped beside this module, read into
``openkms.domain.seed.Seed``; and the other way, a seed written out as TOML (``writer.py``).

Every refusal names the file, the line and the reason (``SeedFileError``, a ``SettingsError``:
``openkms serve`` exits 2 on it before anything is loaded). The format is ``docs/SEED.md``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import tomllib
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openkms.crypto import pem
from openkms.domain import errors, rotation
from openkms.domain.aliases import validate_alias_name
from openkms.domain.seed import Path as DocPath
from openkms.domain.seed import (
    Seed,
    SeedAccessKey,
    SeedKey,
    SeedProblem,
    SeedSecret,
    SeedSecretVersion,
    SeedUser,
    SeedVersion,
    check,
    version_id,
)
from openkms.domain.specs import KeyUsage, check_usage, spec_info
from openkms.domain.tags import validate_tag
from openkms.seedfile.lines import line_map, line_of
from openkms.settings_options import SettingsError

if TYPE_CHECKING:
    import jsonschema

__all__ = ["SeedFileError", "error_at", "from_document", "load", "schema"]

SCHEMA_FILE = "seed.schema.json"
_TOML_AT = re.compile(r"\s*\(at line ([0-9]+), column [0-9]+\)|\s*\(at end of document\)")
# Values a message must not quote: a pair's secret, key material, a secret's value.
_SECRET_VALUES = {"secret", "value", "material_hex", "material_base64", "private_key_pem", "material_seed"}
_MATERIALS = ("material_hex", "material_base64", "private_key_pem", "derive")


class SeedFileError(SettingsError):
    """``file:line: reason``."""

    def __init__(self, file: Path | str, line: int, reason: str) -> None:
        super().__init__(f"seed file {file}:{line}: {reason}")
        self.file, self.line, self.reason = str(file), line, reason


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(resources.files(__package__).joinpath(SCHEMA_FILE).read_text())
    return loaded


def load(path: Path) -> Seed:
    """The seed in ``path``, checked whole: its TOML, its shape, each entry's rules, the rules across."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedFileError(path, 1, f"cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = _TOML_AT.search(str(exc))  # Python 3.11's TOMLDecodeError has the line in its text only
        reason = _TOML_AT.sub("", str(exc)).strip()
        raise SeedFileError(path, int(where.group(1)) if where else 1, f"not valid TOML: {reason}") from None
    lines = line_map(text)
    try:
        return from_document(document, lines)
    except SeedProblem as problem:
        raise SeedFileError(path, line_of(lines, problem.path), _shown(problem)) from None


def _shown(problem: SeedProblem) -> str:
    where = "/".join(str(p) for p in problem.path)
    return f"{where}: {problem.reason}" if where else problem.reason


def from_document(document: dict[str, Any], lines: dict[DocPath, int] | None = None) -> Seed:
    """A seed from its document (the file's TOML, or the control API's JSON); ``SeedProblem``
    (with the path of the offending value) for the first rule it breaks."""
    import jsonschema  # a third of a start's imports: paid only by a server given a seed

    validator = jsonschema.Draft202012Validator(schema())
    found = sorted(validator.iter_errors(document), key=lambda e: (len(e.absolute_path), list(map(str, e.path))))
    if found:
        error = found[0]
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            # At the line of the first name the schema does not know, not of its table.
            unknown = [name for name in error.instance if name not in error.schema.get("properties", {})]
            path = (*path, unknown[0]) if unknown else path
        raise SeedProblem(path, _message(error, path))
    seed = Seed(
        accounts=tuple(a["uid"] for a in document.get("accounts", [])),
        users=tuple(
            SeedUser(u.get("account", ""), u["name"], u.get("display_name", "")) for u in document.get("users", [])
        ),
        access_keys=tuple(_access_key(k) for k in document.get("access_keys", [])),
        keys=tuple(_key(("keys", i), k) for i, k in enumerate(document.get("keys", []))),
        secrets=tuple(_secret(("secrets", i), s) for i, s in enumerate(document.get("secrets", []))),
        material_seed=document.get("material_seed", ""),
        origins=dict(lines or {}),
    )
    for problem in check(seed):
        raise problem
    return seed


def _message(error: jsonschema.ValidationError, path: DocPath) -> str:
    """The validator's message, except for a secret's value, which it would quote: never in a message."""
    if not path or path[-1] not in _SECRET_VALUES:
        return error.message
    words = {
        "pattern": "is not of the expected form",
        "minLength": f"is shorter than {error.validator_value} characters",
        "maxLength": f"is longer than {error.validator_value} characters",
        "type": f"is not of type {error.validator_value}",
    }
    return f"the value {words.get(str(error.validator), 'is not valid')}"


def _access_key(entry: dict[str, Any]) -> SeedAccessKey:
    return SeedAccessKey(
        entry["id"], entry["secret"], entry.get("account", ""), entry.get("user", ""), entry.get("status") != "Disabled"
    )


def _time(path: DocPath, value: Any) -> int:
    if isinstance(value, int):
        return value
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise SeedProblem(path, f"{value!r} is not an ISO 8601 time such as 2030-01-01T00:00:00Z") from None
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())


def _optional_time(path: DocPath, entry: dict[str, Any], name: str) -> int | None:
    return _time((*path, name), entry[name]) if name in entry else None


def _rule(path: DocPath, check_it: Any, *args: Any) -> Any:
    """A domain check, its refusal told at ``path``."""
    try:
        return check_it(*args)
    except errors.InvalidParameter as exc:
        raise SeedProblem(path, exc.detail or exc.message) from None
    except errors.KmsError as exc:
        raise SeedProblem(path, exc.message) from None


def _key(path: DocPath, entry: dict[str, Any]) -> SeedKey:
    spec = spec_info(entry.get("spec", "Aliyun_AES_256"))
    usage = KeyUsage(entry.get("usage", spec.default_usage.value))
    _rule((*path, "usage"), check_usage, spec, usage)
    aliases = tuple(_rule((*path, "aliases"), validate_alias_name, a) for a in entry.get("aliases", []))
    tags = tuple(sorted(entry.get("tags", {}).items()))
    for key, value in tags:
        _rule((*path, "tags", key), validate_tag, key, value)
    interval = None
    if entry.get("automatic_rotation", False) or "rotation_interval" in entry:
        if not spec.symmetric:
            raise SeedProblem((*path, "automatic_rotation"), "automatic rotation is for symmetric keys only")
        interval = _rule((*path, "rotation_interval"), rotation.parse_interval, entry.get("rotation_interval", "365d"))
    raw_versions = entry.get("versions") or [{}]
    versions = tuple(_version((*path, "versions", j), entry["id"], spec, v) for j, v in enumerate(raw_versions))
    return SeedKey(
        id=entry["id"],
        account=entry.get("account", ""),
        region=entry.get("region", ""),
        spec=spec.name,
        usage=usage.value,
        state=entry.get("state", "Enabled"),
        versions=versions,
        description=entry.get("description", ""),
        creator=entry.get("creator", ""),
        delete_at=_optional_time(path, entry, "delete_at"),
        aliases=aliases,
        tags=tags,
        rotation_interval=interval,
        created_at=_optional_time(path, entry, "created_at"),
    )


def _version(path: DocPath, key_id: str, spec: Any, entry: dict[str, Any]) -> SeedVersion:
    given = [name for name in _MATERIALS if name in entry]
    if len(given) > 1:
        raise SeedProblem((*path, given[1]), f"give one of {', '.join(_MATERIALS)}, not {' and '.join(given)}")
    material: bytes | None = None
    name = given[0] if given else ""
    try:
        if name == "material_hex":
            material = bytes.fromhex(entry[name])
        elif name == "material_base64":
            material = base64.b64decode(entry[name], validate=True)
        elif name == "private_key_pem":
            material = pem.decode(entry[name].encode())
    except (ValueError, binascii.Error):
        raise SeedProblem((*path, name), "not valid " + name.removeprefix("material_").replace("_", " ")) from None
    if material is not None and spec.symmetric == (name == "private_key_pem"):
        kind = "a PKCS#8 private_key_pem" if not spec.symmetric else "material_hex or material_base64"
        raise SeedProblem((*path, name), f"a {spec.name} key takes {kind}")
    if material is not None and spec.symmetric and len(material) != spec.material_bytes:
        raise SeedProblem((*path, name), f"{spec.name} material is {spec.material_bytes} bytes, not {len(material)}")
    derive = bool(entry.get("derive", False))
    if derive and not spec.symmetric:
        raise SeedProblem((*path, "derive"), "derived material is for symmetric keys; give private_key_pem")
    version = entry.get("id") or version_id(key_id, path[-1] if isinstance(path[-1], int) else 0)
    return SeedVersion(version, material, derive, _optional_time(path, entry, "created_at"))


def _secret(path: DocPath, entry: dict[str, Any]) -> SeedSecret:
    versions = tuple(
        SeedSecretVersion(
            v["id"],
            v["value"],
            tuple(v.get("stages", [])),
            _optional_time((*path, "versions", j), v, "created_at"),
            v.get("data_type", "text"),
        )
        for j, v in enumerate(entry["versions"])
    )
    tags = tuple(sorted(entry.get("tags", {}).items()))
    for key, value in tags:
        _rule((*path, "tags", key), validate_tag, key, value)
    return SeedSecret(
        name=entry["name"],
        account=entry.get("account", ""),
        region=entry.get("region", ""),
        key=entry["key"],
        versions=versions,
        description=entry.get("description", ""),
        service_key=entry.get("service_key", False),
        tags=tags,
    )


def error_at(path: Path, seed: Seed, problem: SeedProblem) -> SeedFileError:
    """A problem found once the seed was read (loading it), told at its entry's line."""
    return SeedFileError(path, line_of(seed.origins, problem.path), _shown(problem))
