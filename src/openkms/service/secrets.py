"""Secrets Manager use cases (KMS 2016-01-20): secrets, their versions and stages, deletion with a
recovery window, policies and rotation policies.

Every method asks ``KeyResolver.authorize`` about the secret (``acs:kms:<region>:<account>:secret/
<name>``, with the secret's own policy) and reaches the secret's key through ``SecretValues``, which
asks the resolver for GenerateDataKey (writing a value) or Decrypt (reading one) on a key the
caller chose. Values are encrypted before a write transaction begins and decrypted after the read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from openkms.domain import errors, listing, policy
from openkms.domain import secrets as s
from openkms.domain.actions import Action, action
from openkms.domain.authorization import Resource, secret_resource, secrets_of
from openkms.domain.identity import Caller
from openkms.domain.ports import Clock, Store, UnitOfWork
from openkms.domain.secrets import Secret, SecretType, SecretVersion
from openkms.domain.tags import Tag
from openkms.service.audit import note_secret
from openkms.service.resolve import KeyResolver
from openkms.service.secret_rotation import SecretRotation
from openkms.service.secret_values import Sealed, SecretValues

_CREATE, _GET, _BATCH = action("CreateSecret"), action("GetSecretValue"), action("BatchGetSecretValue")
_PUT, _STAGE, _DESCRIBE = action("PutSecretValue"), action("UpdateSecretVersionStage"), action("DescribeSecret")
_LIST, _LIST_VERSIONS, _UPDATE = action("ListSecrets"), action("ListSecretVersionIds"), action("UpdateSecret")
_ROTATION, _ROTATE = action("UpdateSecretRotationPolicy"), action("RotateSecret")
_DELETE, _RESTORE = action("DeleteSecret"), action("RestoreSecret")
_GET_POLICY, _SET_POLICY = action("GetSecretPolicy"), action("SetSecretPolicy")


@dataclass(frozen=True)
class CreateSecretRequest:
    name: str
    version_id: str
    data: str = field(repr=False)
    data_type: s.DataType = s.DataType.TEXT
    secret_type: SecretType = SecretType.GENERIC
    key_ref: str | None = None
    extended_config: str | None = None
    rotation_enabled: bool = False
    rotation_interval: int | None = None
    description: str = ""
    tags: Sequence[Tag] = ()
    policy: str | None = None
    dkms_instance_id: str = ""


@dataclass(frozen=True)
class SecretValue:
    secret: Secret
    version: SecretVersion
    data: str = field(repr=False)  # SecretData as answered: text, or base64 of binary


# A change to a secret inside its write: the new secret, or None to purge it.
ChangeFn = Callable[[Secret, int], Secret | None]


def _where(secret: Secret, version_id: str) -> tuple[str, str, str, str]:
    return secret.account_uid, secret.region, secret.name, version_id


def _resource(caller: Caller, name: str, secret: Secret | None) -> Resource:
    return secret_resource(caller.account_uid, caller.region, name, secret.policy if secret else None)


class SecretService:
    def __init__(
        self, store: Store, resolver: KeyResolver, values: SecretValues, clock: Clock,
        rotation: SecretRotation | None = None,
    ) -> None:  # fmt: skip
        self._rotation = rotation
        self._store = store
        self._resolver = resolver
        self._values = values
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock.now())

    def _secret(self, uow: UnitOfWork, caller: Caller, ref: str, act: Action, live: bool = True) -> Secret:
        """The secret ``ref`` names, once the caller may perform ``act`` on it; a secret past its
        recovery window is gone, purged or not; one inside it only when ``live`` is False."""
        name = s.name_from_ref(ref, caller.region, caller.account_uid)
        note_secret(name)  # the audit event names the secret, whether the action is allowed or not
        secret = uow.secrets.get(caller.account_uid, caller.region, name)
        if secret is not None and s.is_gone(secret, self._now()):
            secret = None
        # Authorization before existence: a caller who may not read a secret learns nothing of it.
        self._resolver.authorize(caller, act, _resource(caller, name, secret))
        if secret is None:
            raise errors.SecretNotFound()
        if live:
            s.require_live(secret)
        return secret

    # --- create -------------------------------------------------------------------------------

    def _check_create(self, req: CreateSecretRequest) -> bytes:
        s.check_name(req.name)
        s.check_version_id(req.version_id)
        s.check_description(req.description)
        s.check_extended_config(req.secret_type, req.extended_config)
        if req.rotation_enabled and req.secret_type is SecretType.GENERIC:
            raise errors.InvalidParameter("EnableAutomaticRotation", "A Generic secret rotates by PutSecretValue.")
        if req.rotation_enabled and req.rotation_interval is None:
            raise errors.MissingParameter("RotationInterval")
        if len(req.tags) > s.MAX_TAGS_PER_SECRET:
            raise errors.LimitExceeded(f"A secret carries at most {s.MAX_TAGS_PER_SECRET} tags.")
        if req.policy is not None:
            policy.validate_policy(req.policy)
        return s.value_bytes(req.data, req.data_type)

    def create_secret(self, caller: Caller, req: CreateSecretRequest) -> tuple[Secret, SecretVersion]:
        raw = self._check_create(req)
        note_secret(req.name)
        self._resolver.authorize(caller, _CREATE, _resource(caller, req.name, None))
        key, key_version = self._values.for_writing(caller, req.key_ref)
        now = self._now()
        secret = Secret(
            caller.account_uid, caller.region, req.name, req.secret_type, req.description, key.id,
            req.key_ref is None, req.extended_config, now, now, dkms_instance_id=req.dkms_instance_id,
            policy=req.policy, tags=tuple({t.key: t for t in req.tags}.values()),
        )  # fmt: skip
        if req.rotation_enabled:
            secret = s.rotation_policy(secret, True, req.rotation_interval, now)
        sealed = self._values.seal(key, key_version, _where(secret, req.version_id), raw)
        version = SecretVersion(
            caller.account_uid, caller.region, req.name, req.version_id, now, req.data_type, (s.CURRENT,),
            sealed.data_key, sealed.value,
        )  # fmt: skip
        with self._store.write() as uow:
            existing = uow.secrets.get(caller.account_uid, caller.region, req.name)
            if existing is not None:
                if not s.is_gone(existing, now):
                    raise errors.SecretAlreadyExists()
                uow.secrets.purge(existing)  # past its window: its name is free before the scheduler runs
            uow.secrets.add(secret)
            uow.secrets.add_version(version)
        return secret, version

    # --- read values --------------------------------------------------------------------------

    def get_secret_value(
        self, caller: Caller, ref: str, version_id: str | None = None, stage: str | None = None,
        act: Action = _GET,
    ) -> SecretValue:  # fmt: skip
        with self._store.read() as uow:
            secret = self._secret(uow, caller, ref, act)
            version = _pick(secret, uow.secrets.versions(secret), version_id, stage)
            key = self._values.for_reading(uow, caller, secret.encryption_key_id, secret.service_key)
            raw = self._values.open(
                uow, key, _where(secret, version.version_id), Sealed(version.sealed_data_key, version.sealed_value)
            )
        return SecretValue(secret, version, s.shown_value(raw, version.data_type))

    def batch_get_secret_value(
        self, caller: Caller, wanted: Sequence[tuple[str, str | None, str | None]]
    ) -> tuple[list[SecretValue], list[tuple[str, errors.KmsError]]]:
        """Each (secret, VersionId, VersionStage)'s value, or why not: one secret's refusal does
        not fail the rest."""
        if not wanted:
            raise errors.MissingParameter("SecretsList")
        if len(wanted) > s.MAX_BATCH:
            raise errors.InvalidParameter("SecretsList", f"At most {s.MAX_BATCH} secrets.")
        # The batch on the account's secrets, then each secret as GetSecretValue reads it.
        self._resolver.authorize(caller, _BATCH, secrets_of(caller))
        found: list[SecretValue] = []
        failed: list[tuple[str, errors.KmsError]] = []
        for ref, version_id, stage in dict.fromkeys(wanted):
            try:
                found.append(self.get_secret_value(caller, ref, version_id, stage))
            except errors.KmsError as exc:
                if isinstance(exc, errors.BackendUnavailable):
                    raise
                failed.append((ref, exc))
        return found, failed

    # --- versions and stages ------------------------------------------------------------------

    def put_secret_value(
        self, caller: Caller, ref: str, version_id: str, data: str, data_type: s.DataType,
        stages: Sequence[str] | None = None,
    ) -> SecretVersion:  # fmt: skip
        s.check_version_id(version_id)
        raw = s.value_bytes(data, data_type)
        wanted = s.check_put_stages(stages) if stages is not None else (s.CURRENT,)
        with self._store.read() as uow:
            secret = self._secret(uow, caller, ref, _PUT)
            if secret.secret_type is not SecretType.GENERIC:
                raise errors.UnsupportedOperation("Only a Generic secret takes PutSecretValue.")
            same = self._same_version(uow, caller, secret, version_id, raw, data_type)
        if same is not None:
            return same  # the same VersionId with the same data: idempotent
        key, key_version = self._values.for_writing(caller, None if secret.service_key else secret.encryption_key_id)
        sealed = self._values.seal(key, key_version, _where(secret, version_id), raw)
        now = self._now()
        with self._store.write() as uow:
            secret = self._secret(uow, caller, ref, _PUT)
            versions = uow.secrets.versions(secret)
            if any(v.version_id == version_id for v in versions):
                raise errors.SecretVersionConflict()  # a concurrent Put of the same id won
            changes = s.with_stages(versions, version_id, wanted)
            new = SecretVersion(
                secret.account_uid, secret.region, secret.name, version_id, now, data_type,
                changes.pop(version_id, ()), sealed.data_key, sealed.value,
            )  # fmt: skip
            uow.secrets.add_version(new)
            self._apply(uow, secret, [*versions, new], changes, now)
        return new

    def _same_version(
        self, uow: UnitOfWork, caller: Caller, secret: Secret, version_id: str, raw: bytes, data_type: s.DataType
    ) -> SecretVersion | None:
        existing = next((v for v in uow.secrets.versions(secret) if v.version_id == version_id), None)
        if existing is None:
            return None
        key = self._values.for_reading(uow, caller, secret.encryption_key_id, secret.service_key)
        held = self._values.open(
            uow, key, _where(secret, version_id), Sealed(existing.sealed_data_key, existing.sealed_value)
        )
        if held != raw or existing.data_type is not data_type:
            raise errors.SecretVersionConflict()
        return existing

    def _apply(
        self, uow: UnitOfWork, secret: Secret, versions: list[SecretVersion], changes: dict[str, tuple[str, ...]],
        now: int,
    ) -> None:  # fmt: skip
        for vid, stages in changes.items():
            uow.secrets.set_stages(secret, vid, stages)
        after = [replace(v, stages=changes.get(v.version_id, v.stages)) for v in versions]
        for vid in s.to_drop(after):
            uow.secrets.delete_version(secret, vid)
        uow.secrets.save(replace(secret, updated_at=now))

    def update_version_stage(
        self, caller: Caller, ref: str, stage: str, move_to: str | None, remove_from: str | None
    ) -> Secret:
        s.check_stage(stage)
        if not move_to and not remove_from:
            raise errors.MissingParameter("MoveToVersion")
        now = self._now()
        with self._store.write() as uow:
            secret = self._secret(uow, caller, ref, _STAGE)
            if secret.secret_type is not SecretType.GENERIC:
                raise errors.UnsupportedOperation("Only a Generic secret's stages are moved by hand.")
            versions = uow.secrets.versions(secret)
            holder = next((v.version_id for v in versions if stage in v.stages), None)
            if remove_from and remove_from != holder:
                if not any(v.version_id == remove_from for v in versions):
                    raise errors.SecretVersionNotFound()
                raise errors.InvalidParameter("RemoveFromVersion", f"Version {remove_from} does not hold {stage}.")
            if move_to:
                if not any(v.version_id == move_to for v in versions):
                    raise errors.SecretVersionNotFound()
                if holder is not None and holder != move_to and not remove_from:
                    # The API moves a stage only when told where it leaves (ACSCurrent too).
                    raise errors.MissingParameter("RemoveFromVersion")
                changes = s.with_stages(versions, move_to, [stage])
            else:
                changes = s.remove_stage(versions, stage, remove_from or "")
            self._apply(uow, secret, versions, changes, now)
        return secret

    def list_version_ids(
        self, caller: Caller, ref: str, include_deprecated: bool, page: listing.Page
    ) -> tuple[Secret, list[SecretVersion], int]:
        with self._store.read() as uow:
            secret = self._secret(uow, caller, ref, _LIST_VERSIONS, live=False)
            versions = [v for v in uow.secrets.versions(secret) if include_deprecated or not v.deprecated]
        return secret, page.slice(versions), len(versions)

    # --- metadata -----------------------------------------------------------------------------

    def describe_secret(self, caller: Caller, ref: str) -> Secret:
        with self._store.read() as uow:
            return self._secret(uow, caller, ref, _DESCRIBE, live=False)

    def list_secrets(
        self, caller: Caller, page: listing.Page, filters: Sequence[listing.Filter] = (),
        pending: bool | None = None,
    ) -> tuple[list[Secret], int]:  # fmt: skip
        """ListSecrets: one page and the total. ``pending`` (the console's State filter, which the
        API has no Filters key for): only the secrets scheduled for deletion (True) or not (False)."""
        s.check_filters(filters)
        now = self._now()
        with self._store.read() as uow:
            found = [x for x in uow.secrets.list_in_region(caller.account_uid, caller.region) if not s.is_gone(x, now)]
        shown = self._resolver.visible(caller, _LIST, secrets_of(caller), found, lambda x: _resource(caller, x.name, x))
        shown = [x for x in shown if s.matches(x, filters) and pending in (None, x.delete_at is not None)]
        return page.slice(shown), len(shown)

    def _change(self, caller: Caller, ref: str, act: Action, live: bool, change: ChangeFn) -> Secret:
        now = self._now()
        with self._store.write() as uow:
            secret = self._secret(uow, caller, ref, act, live)
            new = change(secret, now)
            if new is None:
                uow.secrets.purge(secret)
                return replace(secret, delete_at=now)
            uow.secrets.save(new)
        return new

    def update_secret(self, caller: Caller, ref: str, description: str | None, extended_config: str | None) -> Secret:
        if description is not None:
            s.check_description(description)

        def change(secret: Secret, now: int) -> Secret:
            config = secret.extended_config
            if extended_config is not None:
                config = s.check_extended_config(secret.secret_type, extended_config)
            text = secret.description if description is None else description
            return replace(secret, description=text, extended_config=config, updated_at=now)

        return self._change(caller, ref, _UPDATE, True, change)

    def update_rotation_policy(self, caller: Caller, ref: str, enabled: bool, interval: int | None) -> Secret:
        return self._change(
            caller, ref, _ROTATION, True, lambda secret, now: s.rotation_policy(secret, enabled, interval, now)
        )

    def rotate_secret(self, caller: Caller, ref: str, version_id: str) -> Secret:
        """The type's rotator, now. Answered like the cloud's asynchronous rotation: the outcome
        is the secret's (DescribeSecret's LastRotationError when it failed), not a refusal."""
        s.check_version_id(version_id)
        with self._store.read() as uow:
            secret = self._secret(uow, caller, ref, _ROTATE)
        if self._rotation is None:
            raise errors.UnsupportedOperation(f"openkms has no rotator for {secret.secret_type.value} secrets.")
        return self._rotation.rotate(caller, secret, version_id)

    def delete_secret(self, caller: Caller, ref: str, force: bool, window_days: int | None) -> Secret:
        window = s.recovery_window(window_days) if not force else 0

        def change(secret: Secret, now: int) -> Secret | None:
            if force:
                return None
            s.require_live(secret)
            return replace(secret, delete_at=now + window, updated_at=now)

        return self._change(caller, ref, _DELETE, False, change)

    def restore_secret(self, caller: Caller, ref: str) -> Secret:
        def change(secret: Secret, now: int) -> Secret:
            if secret.delete_at is None:
                raise errors.StateModifiedFailed("The secret is not scheduled for deletion.")
            return replace(secret, delete_at=None, updated_at=now)

        return self._change(caller, ref, _RESTORE, False, change)

    # --- tags (the TagResource family with SecretName / ResourceType=secret) -------------------

    def tag(self, caller: Caller, refs: Sequence[str], new: Sequence[Tag], act: Action) -> None:
        """Upsert tags on every secret named; all are checked before any is changed."""
        now = self._now()
        with self._store.write() as uow:
            found = [self._secret(uow, caller, ref, act) for ref in refs]
            for secret in found:
                merged = {t.key: t for t in (*secret.tags, *new)}
                if len(merged) > s.MAX_TAGS_PER_SECRET:
                    raise errors.LimitExceeded(f"A secret carries at most {s.MAX_TAGS_PER_SECRET} tags.")
                uow.secrets.save(replace(secret, tags=tuple(merged.values()), updated_at=now))

    def untag(self, caller: Caller, refs: Sequence[str], tag_keys: Sequence[str] | None, act: Action) -> None:
        """Remove the named tag keys, or every tag when ``tag_keys`` is None."""
        now = self._now()
        with self._store.write() as uow:
            found = [self._secret(uow, caller, ref, act) for ref in refs]
            for secret in found:
                kept = () if tag_keys is None else tuple(t for t in secret.tags if t.key not in set(tag_keys))
                uow.secrets.save(replace(secret, tags=kept, updated_at=now))

    def tagged(self, caller: Caller, refs: Sequence[str], act: Action) -> list[Secret]:
        """The secrets named (or, when none is, every secret of the caller's region) with their
        tags, for ListResourceTags and ListTagResources."""
        with self._store.read() as uow:
            if refs:
                return [self._secret(uow, caller, ref, act, live=False) for ref in refs]
            self._resolver.authorize(caller, act, secrets_of(caller))
            now = self._now()
            return [x for x in uow.secrets.list_in_region(caller.account_uid, caller.region) if not s.is_gone(x, now)]

    # --- policy -------------------------------------------------------------------------------

    def get_policy(self, caller: Caller, ref: str, name: str | None) -> str:
        policy.check_policy_name(name)
        secret = self.describe_secret_as(caller, ref, _GET_POLICY)
        return secret.policy if secret.policy is not None else policy.default_policy(secret.account_uid)

    def describe_secret_as(self, caller: Caller, ref: str, act: Action) -> Secret:
        with self._store.read() as uow:
            return self._secret(uow, caller, ref, act, live=False)

    def set_policy(self, caller: Caller, ref: str, name: str | None, text: str) -> None:
        policy.check_policy_name(name)
        policy.validate_policy(text)
        self._change(caller, ref, _SET_POLICY, True, lambda secret, now: replace(secret, policy=text, updated_at=now))


def _pick(secret: Secret, versions: list[SecretVersion], version_id: str | None, stage: str | None) -> SecretVersion:
    """GetSecretValue's version: by VersionId (which must then hold VersionStage, if given), else
    the holder of VersionStage (ACSCurrent by default). A managed type answers only ACSCurrent or
    ACSPrevious and ignores VersionId."""
    if secret.secret_type is not SecretType.GENERIC:
        version_id = None
        if stage not in (None, "", s.CURRENT, s.PREVIOUS):
            raise errors.InvalidParameter("VersionStage", "A managed secret answers ACSCurrent or ACSPrevious.")
    if version_id:
        found = next((v for v in versions if v.version_id == version_id), None)
        if found is None:
            raise errors.SecretVersionNotFound()
        if stage and stage not in found.stages:
            raise errors.InvalidParameter("VersionStage", f"Version {version_id} does not hold {stage}.")
        return found
    wanted = stage or s.CURRENT
    found = next((v for v in versions if wanted in v.stages), None)
    if found is None:
        raise errors.SecretVersionNotFound()
    return found
