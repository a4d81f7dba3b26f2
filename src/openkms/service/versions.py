"""Key versions and rotation: listing, the rotation policy, and making a new primary version."""

from __future__ import annotations

from dataclasses import replace

from openkms.domain import asymmetric, errors, keys, listing, rotation
from openkms.domain.actions import action
from openkms.domain.identity import Caller
from openkms.domain.keys import Key, KeyVersion
from openkms.domain.ports import Clock, IdGenerator, Store
from openkms.service.backends import Backends
from openkms.service.discards import Provisional
from openkms.service.resolve import KeyResolver

_LIST, _DESCRIBE = action("ListKeyVersions"), action("DescribeKeyVersion")
_ROTATION_POLICY, _CREATE = action("UpdateRotationPolicy"), action("CreateKeyVersion")


class VersionService:
    def __init__(
        self,
        store: Store,
        resolver: KeyResolver,
        backends: Backends,
        clock: Clock,
        ids: IdGenerator,
        version_spacing: int = asymmetric.DEFAULT_VERSION_SPACING_DAYS * rotation.DAY,
    ) -> None:
        self._store = store
        self._resolver = resolver
        self._backends = backends
        self._clock = clock
        self._ids = ids
        self._version_spacing = version_spacing

    def _now(self) -> int:
        return int(self._clock.now())

    def list_versions(self, caller: Caller, ref: str, page: listing.Page) -> tuple[Key, list[KeyVersion], int]:
        with self._store.read() as uow:
            key = self._resolver.key(uow, caller, ref, _LIST, self._now())
            versions = uow.versions.list_for_key(key.id)
        return key, page.slice(versions), len(versions)

    def describe_version(self, caller: Caller, ref: str, version_id: str) -> KeyVersion:
        with self._store.read() as uow:
            key = self._resolver.key(uow, caller, ref, _DESCRIBE, self._now())
            version = uow.versions.get(version_id)
        if version is None or version.key_id != key.id:
            raise errors.KeyVersionNotFound()
        return version

    def update_rotation_policy(self, caller: Caller, ref: str, enabled: bool, interval: int | None) -> Key:
        with self._store.write() as uow:
            key = self._resolver.key(uow, caller, ref, _ROTATION_POLICY, self._now())
            new = keys.update_rotation_policy(key, enabled, interval)
            uow.keys.save(new)
        return new

    def create_key_version(self, caller: Caller, ref: str) -> KeyVersion:
        """A new version of an asymmetric key (manual rotation); it becomes no primary version."""
        now = self._now()
        with self._store.read() as uow:
            key = self._resolver.key(uow, caller, ref, _CREATE, now)
            count = len(uow.versions.list_for_key(key.id))
        keys.check_new_version(key, count, now, self._version_spacing)
        version_id = self._ids.new_id()
        backend = self._backends.for_key(key)
        with Provisional() as made:
            material, public_key = backend.create_asymmetric(key.spec_info, version_id)
            version = KeyVersion(version_id, key.id, now, made.add(backend, material), public_key)
            with self._store.write() as uow:
                current = self._resolver.key(uow, caller, key.id, _CREATE, now)
                # Checked again under the write's scope lock: a concurrent CreateKeyVersion (this
                # node or another) must not slip under the spacing rule.
                keys.check_new_version(current, len(uow.versions.list_for_key(key.id)), now, self._version_spacing)
                uow.versions.add(version)
                uow.keys.save(replace(current, last_rotation_at=now))
            made.keep()
        return version

    def rotate(self, key: Key) -> Key | None:
        """Automatic rotation of one due key; returns the new key, or None if someone else rotated it."""
        now = self._now()
        version_id = self._ids.new_id()
        backend = self._backends.for_key(key)
        with Provisional() as made:
            material = made.add(backend, backend.create_symmetric(key.spec_info, version_id))
            with self._store.write() as uow:
                current = uow.keys.get(key.account_uid, key.region, key.id)
                # Compare-and-set: another worker or node may have rotated (or changed) it meanwhile.
                if current is None or current.primary_version_id != key.primary_version_id:
                    return None
                if not keys.rotation_due(current, now):
                    return None
                uow.versions.add(KeyVersion(version_id, key.id, now, material))
                new = keys.rotate(current, version_id, now)
                uow.keys.save(new)
            made.keep()
        return new
