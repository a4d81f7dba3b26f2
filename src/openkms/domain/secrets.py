"""Secrets Manager's model and rules: secrets, their versions and version stages, as pure functions
over frozen dataclasses.

A secret belongs to an account and a region like a key; each version's value is stored only
encrypted (the service's envelope under the secret's key), never here in clear. Stages follow the
API reference: ``ACSCurrent`` on exactly one version, the version it leaves gets ``ACSPrevious``,
custom stages on at most one version each, and a version without a stage is deprecated.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from openkms.domain import errors, numbers
from openkms.domain.listing import Filter
from openkms.domain.tags import Tag

CURRENT, PREVIOUS, PENDING = "ACSCurrent", "ACSPrevious", "ACSPending"
MAX_VERSIONS = 10  # a generic secret keeps at most ten versions; the oldest unstaged go first
MAX_STAGES = 8  # stages in use on one secret, ACSCurrent and ACSPrevious included
MAX_STAGES_PER_PUT = 7  # custom stages a PutSecretValue may name (ROS: up to seven labels)
MAX_DATA_BYTES = 30 * 1024  # 30,720 bytes of value
MAX_NAME_LENGTH = 192
MAX_VERSION_ID_LENGTH = 64
MAX_STAGE_LENGTH = 64
MAX_DESCRIPTION_LENGTH = 8192
MAX_EXTENDED_CONFIG_BYTES = 1024
MAX_TAGS_PER_SECRET = 20
MAX_BATCH = 20  # BatchGetSecretValue
MIN_RECOVERY_DAYS, MAX_RECOVERY_DAYS, DEFAULT_RECOVERY_DAYS = 7, 30, 30
HOUR, DAY = 3_600, 86_400
MIN_ROTATION, MAX_ROTATION = 6 * HOUR, 8_760 * HOUR
SERVICE_KEY_DESCRIPTION = "Service-managed key for Secrets Manager"
SERVICE_KEY_CREATOR = "SecretsManager"

_NAME = re.compile(r"[A-Za-z0-9_/+=.@-]{1,192}")
_VERSION = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_STAGE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_UNIT = {"d": DAY, "h": HOUR, "m": 60, "s": 1}


class SecretType(StrEnum):
    GENERIC = "Generic"
    RDS = "Rds"
    POLARDB = "PolarDB"
    REDIS = "Redis"
    RAM_CREDENTIALS = "RAMCredentials"
    ECS = "ECS"


class DataType(StrEnum):
    TEXT = "text"
    BINARY = "binary"


@dataclass(frozen=True, slots=True)
class Secret:
    account_uid: str
    region: str
    name: str
    secret_type: SecretType
    description: str
    encryption_key_id: str  # the key's id (an alias or ARN given at creation is resolved once)
    service_key: bool  # the key is the account's service-managed key for Secrets Manager
    extended_config: str | None
    created_at: int
    updated_at: int
    rotation_enabled: bool = False
    rotation_interval: int | None = None
    last_rotation_at: int | None = None
    next_rotation_at: int | None = None
    delete_at: int | None = None  # PlannedDeleteTime: reads fail until then, RestoreSecret undoes it
    policy: str | None = None
    dkms_instance_id: str = ""
    tags: tuple[Tag, ...] = ()
    rotation_error: str | None = None  # why the last rotation failed; None once one succeeds
    retire_at: int | None = None  # when the rotator retires the ACSPrevious credential

    def arn(self) -> str:
        return secret_arn(self.region, self.account_uid, self.name)

    @property
    def automatic_rotation(self) -> str:
        """``Enabled`` / ``Disabled``; a generic secret never rotates by itself (``Invalid``)."""
        if self.secret_type is SecretType.GENERIC:
            return "Invalid"
        return "Enabled" if self.rotation_enabled else "Disabled"


@dataclass(frozen=True, slots=True)
class SecretVersion:
    account_uid: str
    region: str
    secret_name: str
    version_id: str
    created_at: int
    data_type: DataType
    stages: tuple[str, ...]
    sealed_data_key: bytes  # the data key, a ciphertext blob under the secret's key
    sealed_value: bytes = field(repr=False)  # the value under the data key (nonce || ciphertext || tag)

    @property
    def deprecated(self) -> bool:
        return not self.stages


def secret_arn(region: str, account_uid: str, name: str) -> str:
    return f"acs:kms:{region}:{account_uid}:secret/{name}"


def name_from_ref(ref: str, region: str, account_uid: str) -> str:
    """SecretName is a name or the secret's ARN; another account's or region's ARN names nothing
    the caller has (NotFound, as for keys)."""
    ref = ref.strip()
    if not ref:
        raise errors.MissingParameter("SecretName")
    if not ref.startswith("acs:kms:"):
        return ref
    parts = ref.split(":", 4)
    if len(parts) != 5 or not parts[4].startswith("secret/") or len(parts[4]) == len("secret/"):
        raise errors.InvalidParameter("SecretName", "An ARN looks like acs:kms:<region>:<uid>:secret/<name>.")
    if parts[2] != region or parts[3] != account_uid:
        raise errors.SecretNotFound()
    return parts[4][len("secret/") :]


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or name.lower().startswith("acs/"):
        raise errors.InvalidParameter(
            "SecretName", "1 to 192 letters, digits and _ / + = . @ -, not starting with acs/."
        )
    return name


def check_version_id(version_id: str) -> str:
    if not _VERSION.fullmatch(version_id):
        raise errors.InvalidParameter("VersionId", "1 to 64 letters, digits and _ . -.")
    return version_id


def check_stage(stage: str, parameter: str = "VersionStage") -> str:
    if not _STAGE.fullmatch(stage):
        raise errors.InvalidParameter(parameter, "1 to 64 letters, digits and _ . -.")
    return stage


def parse_type(text: str | None) -> SecretType:
    if not text:
        return SecretType.GENERIC
    for t in SecretType:
        if t.value.lower() == text.lower():
            return t
    raise errors.InvalidParameter("SecretType", f"Valid values: {', '.join(t.value for t in SecretType)}.")


def parse_data_type(text: str | None) -> DataType:
    if not text:
        return DataType.TEXT
    if text.lower() not in ("text", "binary"):
        raise errors.InvalidParameter("SecretDataType", "Valid values: text, binary.")
    return DataType(text.lower())


def value_bytes(data: str, data_type: DataType) -> bytes:
    """The bytes a version holds: text as UTF-8, binary as the base64 the caller sent decoded."""
    if data_type is DataType.BINARY:
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise errors.InvalidParameter("SecretData", "Binary data is base64 text.") from None
    else:
        raw = data.encode("utf-8", "surrogatepass")
    if not raw:
        raise errors.MissingParameter("SecretData")
    if len(raw) > MAX_DATA_BYTES:
        raise errors.InvalidParameter("SecretData", f"At most {MAX_DATA_BYTES} bytes.")
    return raw


def shown_value(raw: bytes, data_type: DataType) -> str:
    """SecretData as GetSecretValue answers it."""
    if data_type is DataType.BINARY:
        return base64.b64encode(raw).decode("ascii")
    return raw.decode("utf-8", "surrogatepass")


def check_description(text: str) -> str:
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise errors.InvalidParameter("Description", f"At most {MAX_DESCRIPTION_LENGTH} characters.")
    return text


def check_extended_config(secret_type: SecretType, text: str | None) -> str | None:
    """A managed type needs its ExtendedConfig (a JSON object); Generic takes none."""
    if text is None or text == "":
        if secret_type is not SecretType.GENERIC:
            raise errors.MissingParameter("ExtendedConfig")
        return None
    if secret_type is SecretType.GENERIC:
        raise errors.InvalidParameter("ExtendedConfig", "A Generic secret has no ExtendedConfig.")
    if len(text.encode()) > MAX_EXTENDED_CONFIG_BYTES or not text.lstrip().startswith("{"):
        raise errors.InvalidParameter("ExtendedConfig", f"A JSON object of at most {MAX_EXTENDED_CONFIG_BYTES} bytes.")
    return text


def parse_rotation_interval(text: str) -> int:
    """``<n>d|h|m|s`` -> seconds, 6 hours to 365 days."""
    stripped = text.strip()
    count = numbers.digits(stripped[:-1], 12)
    unit = _UNIT.get(stripped[-1:])
    if count is None or unit is None:
        raise errors.InvalidParameter("RotationInterval", "Use <number><d|h|m|s>, for example 7d.")
    seconds = count * unit
    if not MIN_ROTATION <= seconds <= MAX_ROTATION:
        raise errors.InvalidParameter("RotationInterval", "From 6 hours to 8760 hours (365 days).")
    return seconds


def rotation_policy(secret: Secret, enabled: bool, interval: int | None, now: int) -> Secret:
    """UpdateSecretRotationPolicy on a managed type; a Generic secret rotates by PutSecretValue."""
    if secret.secret_type is SecretType.GENERIC:
        raise errors.UnsupportedOperation("A Generic secret is rotated with PutSecretValue.")
    if enabled and interval is None and secret.rotation_interval is None:
        raise errors.MissingParameter("RotationInterval")
    interval = interval if interval is not None else secret.rotation_interval
    base = secret.last_rotation_at or secret.created_at
    nxt = base + interval if enabled and interval is not None else None
    return replace(secret, rotation_enabled=enabled, rotation_interval=interval, next_rotation_at=nxt, updated_at=now)


def recovery_window(days: int | None) -> int:
    days = DEFAULT_RECOVERY_DAYS if days is None else days
    if not MIN_RECOVERY_DAYS <= days <= MAX_RECOVERY_DAYS:
        raise errors.InvalidParameter("RecoveryWindowInDays", "From 7 to 30 days.")
    return days * DAY


def is_gone(secret: Secret, now: int) -> bool:
    """Past its recovery window: as if purged already, whether the scheduler has run or not."""
    return secret.delete_at is not None and secret.delete_at <= now


def require_live(secret: Secret) -> None:
    """Reads and changes of a secret scheduled for deletion fail until RestoreSecret."""
    if secret.delete_at is not None:
        raise errors.SecretPendingDeletion()


# --- stages -------------------------------------------------------------------------------------


def check_put_stages(stages: Sequence[str]) -> tuple[str, ...]:
    if len(stages) > MAX_STAGES_PER_PUT:
        raise errors.InvalidParameter("VersionStages", f"At most {MAX_STAGES_PER_PUT} stages.")
    for stage in stages:
        check_stage(stage, "VersionStages")
    return tuple(dict.fromkeys(stages))


def with_stages(versions: Sequence[SecretVersion], target: str, stages: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Every version's stages after ``stages`` are put on version ``target``: each stage leaves
    the version that held it; ACSCurrent moving on makes its old holder ACSPrevious (and the
    former ACSPrevious loses it). Returns the versions whose stages changed, by id."""
    now_of = {v.version_id: list(v.stages) for v in versions}
    now_of.setdefault(target, [])
    for stage in stages:
        holder = next((vid for vid, s in now_of.items() if stage in s), None)
        if holder == target:
            continue
        if holder is not None:
            now_of[holder].remove(stage)
        if stage == CURRENT and holder is not None:
            for s in now_of.values():
                if PREVIOUS in s:
                    s.remove(PREVIOUS)
            now_of[holder].append(PREVIOUS)
        now_of[target].append(stage)
    in_use = {s for stages_of in now_of.values() for s in stages_of}
    if len(in_use) > MAX_STAGES:
        raise errors.LimitExceeded(f"A secret carries at most {MAX_STAGES} version stages.")
    before = {v.version_id: v.stages for v in versions}
    return {vid: tuple(s) for vid, s in now_of.items() if before.get(vid) != tuple(s)}


def remove_stage(versions: Sequence[SecretVersion], stage: str, version_id: str) -> dict[str, tuple[str, ...]]:
    """UpdateSecretVersionStage with RemoveFromVersion only: ACSCurrent cannot be taken off, only
    moved (exactly one version holds it)."""
    holder = next((v for v in versions if v.version_id == version_id), None)
    if holder is None:
        raise errors.SecretVersionNotFound()
    if stage not in holder.stages:
        raise errors.InvalidParameter("RemoveFromVersion", f"Version {version_id} does not hold {stage}.")
    if stage == CURRENT:
        raise errors.InvalidParameter("VersionStage", "ACSCurrent is moved with MoveToVersion, never removed.")
    return {version_id: tuple(s for s in holder.stages if s != stage)}


def to_drop(versions: Sequence[SecretVersion]) -> list[str]:
    """Version ids beyond MAX_VERSIONS to remove, oldest deprecated first (a staged version is
    never dropped; the limit is then exceeded rather than losing a stage)."""
    excess = len(versions) - MAX_VERSIONS
    if excess <= 0:
        return []
    unstaged = sorted((v for v in versions if v.deprecated), key=lambda v: (v.created_at, v.version_id))
    return [v.version_id for v in unstaged[:excess]]


# --- listing ------------------------------------------------------------------------------------

FILTER_KEYS = ("SecretName", "Description", "TagKey", "TagValue", "SecretType")


def check_filters(filters: Sequence[Filter]) -> None:
    for f in filters:
        if f.key not in FILTER_KEYS:
            raise errors.InvalidParameter("Filters", f"Valid keys: {', '.join(FILTER_KEYS)}.")
        if not 1 <= len(f.values) <= 10:
            raise errors.InvalidParameter("Filters", "Each filter has 1 to 10 values.")


def matches(secret: Secret, filters: Sequence[Filter]) -> bool:
    """Keys combine with AND, a key's values with OR; SecretName and Description match a part."""
    attributes: Mapping[str, tuple[str, ...]] = {
        "SecretName": (secret.name,),
        "Description": (secret.description,),
        "TagKey": tuple(t.key for t in secret.tags),
        "TagValue": tuple(t.value for t in secret.tags),
        "SecretType": (secret.secret_type.value,),
    }
    fuzzy = {"SecretName", "Description"}
    for f in filters:
        have = attributes[f.key]
        if f.key in fuzzy:
            ok = any(v.lower() in h.lower() for v in f.values for h in have)
        else:
            ok = any(v in have for v in f.values)
        if not ok:
            return False
    return True
