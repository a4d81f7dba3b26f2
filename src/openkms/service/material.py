"""A key's current material: whether it holds some, and dropping it (its object is destroyed
after the transaction commits)."""

from __future__ import annotations

from openkms.domain.keys import Key
from openkms.domain.ports import UnitOfWork
from openkms.service.backends import Backends
from openkms.service.discards import Discards


def forget_material(uow: UnitOfWork, backends: Backends, key: Key, discards: Discards) -> None:
    """Drop the material of the key's current version (its object is destroyed after commit)."""
    if key.primary_version_id is None:
        return
    version = uow.versions.get(key.primary_version_id)
    if version is not None and version.material_ref:
        discards.add(backends.for_key(key), version.material_ref)
    uow.versions.set_material(key.primary_version_id, b"")


def has_material(uow: UnitOfWork, key: Key) -> bool:
    """Whether the key's current version holds material (false after DeleteKeyMaterial or expiry)."""
    if key.primary_version_id is None:
        return False
    version = uow.versions.get(key.primary_version_id)
    return version is not None and bool(version.material_ref)
