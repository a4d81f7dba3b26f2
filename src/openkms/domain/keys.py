"""The customer master key and its versions, and the pure rules that change them.

Every change is a function from a key to a new key (the dataclasses are frozen), so the service
layer can compute the new state, persist it, and never leave a half-changed object behind.
Times are whole seconds since the epoch (UTC), the API's precision.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from openkms.domain import errors, rotation
from openkms.domain.specs import KeyUsage, Origin, ProtectionLevel, SpecInfo, spec_info
from openkms.domain.states import KeyState, Op, require

DESCRIPTION_MAX = 8192
MIN_DELETION_WINDOW_DAYS = 7
MAX_DELETION_WINDOW_DAYS = 366
DEFAULT_DELETION_WINDOW_DAYS = 30  # ScheduleKeyDeletion without PendingWindowInDays; the console's preset
DEFAULT_KEYS_PER_REGION = 200
MAX_VERSIONS = 50


@dataclass(frozen=True, slots=True)
class Key:
    id: str
    account_uid: str
    region: str
    spec: str
    usage: KeyUsage
    origin: Origin
    protection_level: ProtectionLevel
    state: KeyState
    created_at: int
    creator: str
    description: str = ""
    primary_version_id: str | None = None
    last_rotation_at: int | None = None
    rotation_enabled: bool = False
    rotation_interval: int | None = None
    delete_at: int | None = None
    material_expire_at: int | None = None
    deletion_protection: bool = False
    deletion_protection_description: str = ""
    policy: str | None = None
    key_store_id: str = ""
    # EXTERNAL keys: a fingerprint of the first imported material; the key accepts no other.
    material_fingerprint: bytes | None = None

    @property
    def spec_info(self) -> SpecInfo:
        return spec_info(self.spec)

    @property
    def next_rotation_at(self) -> int | None:
        if not self.rotation_enabled or self.rotation_interval is None or self.last_rotation_at is None:
            return None
        return self.last_rotation_at + self.rotation_interval

    @property
    def rotation_status(self) -> rotation.RotationStatus:
        return rotation.status(self.rotation_enabled, self.state)

    def is_gone(self, now: int) -> bool:
        """Past its deletion window: the key no longer exists for any caller, purged or not."""
        return self.state is KeyState.PENDING_DELETION and self.delete_at is not None and now >= self.delete_at

    def arn(self) -> str:
        return key_arn(self.region, self.account_uid, self.id)


@dataclass(frozen=True, slots=True)
class KeyVersion:
    id: str
    key_id: str
    created_at: int
    # What the crypto backend needs to use this version: sealed material for software keys,
    # a token object reference for HSM keys. Opaque to the domain.
    material_ref: bytes
    # The SubjectPublicKeyInfo (DER) of an asymmetric version; None for symmetric versions.
    public_key: bytes | None = None


def key_arn(region: str, account_uid: str, key_id: str) -> str:
    return f"acs:kms:{region}:{account_uid}:key/{key_id}"


def alias_arn(region: str, account_uid: str, alias_name: str) -> str:
    return f"acs:kms:{region}:{account_uid}:{alias_name}"


def check_description(description: str, parameter: str = "Description") -> str:
    if len(description) > DESCRIPTION_MAX:
        raise errors.InvalidParameter(parameter, f"At most {DESCRIPTION_MAX} characters.")
    return description


# --- transitions --------------------------------------------------------------------------------


def enable(key: Key) -> Key:
    require(key.state, Op.ENABLE_DISABLE)
    return replace(key, state=KeyState.ENABLED)


def disable(key: Key) -> Key:
    require(key.state, Op.ENABLE_DISABLE)
    return replace(key, state=KeyState.DISABLED)


def schedule_deletion(key: Key, window_days: int, now: int) -> Key:
    if not MIN_DELETION_WINDOW_DAYS <= window_days <= MAX_DELETION_WINDOW_DAYS:
        raise errors.InvalidParameter(
            "PendingWindowInDays",
            f"The window is from {MIN_DELETION_WINDOW_DAYS} to {MAX_DELETION_WINDOW_DAYS} days.",
        )
    require(key.state, Op.SCHEDULE_DELETION)
    if key.deletion_protection:
        raise errors.DeletionProtected()
    return replace(key, state=KeyState.PENDING_DELETION, delete_at=now + window_days * rotation.DAY)


def cancel_deletion(key: Key, has_material: bool) -> Key:
    require(key.state, Op.CANCEL_DELETION)
    # An EXTERNAL key whose material was deleted while pending deletion cannot become usable.
    state = KeyState.ENABLED if has_material else KeyState.PENDING_IMPORT
    return replace(key, state=state, delete_at=None)


def update_description(key: Key, description: str) -> Key:
    require(key.state, Op.MODIFY)
    return replace(key, description=check_description(description))


def set_deletion_protection(key: Key, enabled: bool, description: str) -> Key:
    require(key.state, Op.MODIFY)
    if enabled:
        return replace(key, deletion_protection=True, deletion_protection_description=description)
    return replace(key, deletion_protection=False, deletion_protection_description="")


def set_policy(key: Key, text: str) -> Key:
    require(key.state, Op.MODIFY)
    return replace(key, policy=text)


def check_rotatable(key: Key) -> None:
    """Automatic rotation is for symmetric keys whose material KMS generated."""
    if not key.spec_info.symmetric:
        raise errors.UnsupportedOperation("Automatic rotation is only for symmetric keys.")
    if key.origin is Origin.EXTERNAL:
        raise errors.UnsupportedOrigin("Keys with imported material cannot be rotated automatically.")


def update_rotation_policy(key: Key, enabled: bool, interval: int | None) -> Key:
    check_rotatable(key)
    require(key.state, Op.ROTATE)
    if not enabled:
        return replace(key, rotation_enabled=False, rotation_interval=None)
    if interval is None:
        raise errors.MissingParameter("RotationInterval")
    rotation.check_interval(interval)
    return replace(key, rotation_enabled=True, rotation_interval=interval)


def rotate(key: Key, new_version_id: str, now: int) -> Key:
    """Make a freshly created version primary (automatic rotation of a symmetric key)."""
    return replace(key, primary_version_id=new_version_id, last_rotation_at=now)


def check_new_version(key: Key, version_count: int, now: int, spacing_seconds: int) -> None:
    """CreateKeyVersion: asymmetric keys only, Enabled, spaced in time, at most 50 versions."""
    if key.spec_info.symmetric:
        raise errors.UnsupportedOperation(
            "CreateKeyVersion is only for asymmetric keys; symmetric keys rotate automatically."
        )
    if key.origin is Origin.EXTERNAL:
        raise errors.UnsupportedOrigin("Keys with imported material get no new versions.")
    require(key.state, Op.ROTATE)
    if version_count >= MAX_VERSIONS:
        raise errors.LimitExceeded(f"A key has at most {MAX_VERSIONS} versions.")
    last = key.last_rotation_at or key.created_at
    if now - last < spacing_seconds:
        days = spacing_seconds / rotation.DAY
        raise errors.UnsupportedOperation(f"A new version can be created only {days:g} days after the last one.")


def material_expired(key: Key, now: int) -> bool:
    return key.material_expire_at is not None and now >= key.material_expire_at


def effective(key: Key, now: int) -> Key:
    """The key as callers must see it now: imported material past its expiry is gone at once,
    before the background job deletes it for good."""
    if material_expired(key, now) and key.state in (KeyState.ENABLED, KeyState.DISABLED):
        return replace(key, state=KeyState.PENDING_IMPORT, material_expire_at=None)
    return key


def after_material_deleted(key: Key) -> Key:
    """DeleteKeyMaterial (or expiry): PendingImport, except that PendingDeletion stays as it is."""
    state = key.state if key.state is KeyState.PENDING_DELETION else KeyState.PENDING_IMPORT
    return replace(key, state=state, material_expire_at=None)


def after_material_imported(key: Key, version_id: str, fingerprint: bytes, expire_at: int | None) -> Key:
    """PendingImport becomes Enabled; Enabled and Disabled keep their state; the expiry is reset."""
    state = KeyState.ENABLED if key.state is KeyState.PENDING_IMPORT else key.state
    return replace(
        key,
        state=state,
        primary_version_id=version_id,
        last_rotation_at=key.last_rotation_at or key.created_at,
        material_fingerprint=key.material_fingerprint or fingerprint,
        material_expire_at=expire_at,
    )


def rotation_due(key: Key, now: int) -> bool:
    nxt = key.next_rotation_at
    return key.state is KeyState.ENABLED and nxt is not None and now >= nxt
