"""Imported material past its expiry is gone for good, whatever is done to the key afterwards
and whether or not the background job ran in between."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from openkms.domain import errors
from openkms.domain.keys import Key
from openkms.domain.specs import Origin
from openkms.domain.states import KeyState
from openkms.service.keys import CreateKeyRequest
from tests.inproc import Inproc


def _import(rt: Inproc, key: Key, material: bytes, expire_at: int | None) -> None:
    s = rt.runtime.services
    params = s.importing.get_parameters(rt.caller, key.id, "RSAES_OAEP_SHA_256", "RSA_2048")
    public = serialization.load_der_public_key(params.public_key)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    wrapped = public.encrypt(material, oaep)  # type: ignore[union-attr]
    s.importing.import_material(rt.caller, key.id, params.token, wrapped, expire_at)


def _expired_key(rt: Inproc) -> tuple[Key, bytes]:
    """An EXTERNAL key whose material expired a moment ago, and a blob made before that."""
    s = rt.runtime.services
    key = s.keys.create_key(rt.caller, CreateKeyRequest(origin=Origin.EXTERNAL))
    _import(rt, key, os.urandom(32), int(rt.clock.now()) + 100)
    blob = s.crypto.encrypt(rt.caller, key.id, b"secret", {}).blob
    rt.clock.advance(200)
    assert s.keys.describe_key(rt.caller, key.id).state is KeyState.PENDING_IMPORT
    return key, blob


def _assert_material_gone(rt: Inproc, key: Key, blob: bytes) -> None:
    s = rt.runtime.services
    with pytest.raises(errors.RejectedPendingImport):
        s.crypto.decrypt(rt.caller, blob, {})
    with rt.runtime.store.read() as uow:
        versions = uow.versions.list_for_key(key.id)
    assert versions
    assert all(v.material_ref == b"" for v in versions)


@pytest.mark.parametrize("scheduler_runs_between", [False, True])
def test_schedule_then_cancel_deletion_does_not_revive_expired_material(
    rt: Inproc, scheduler_runs_between: bool
) -> None:
    s = rt.runtime.services
    key, blob = _expired_key(rt)
    s.keys.schedule_deletion(rt.caller, key.id, 7)
    if scheduler_runs_between:
        s.scheduler.run_once()
    cancelled = s.keys.cancel_deletion(rt.caller, key.id)
    assert cancelled.state is KeyState.PENDING_IMPORT
    s.scheduler.run_once()
    _assert_material_gone(rt, key, blob)


def test_a_change_saved_after_expiry_then_deletion_does_not_revive_it(rt: Inproc) -> None:
    s = rt.runtime.services
    key, blob = _expired_key(rt)
    s.keys.update_description(rt.caller, key.id, "saved while expired")
    s.keys.schedule_deletion(rt.caller, key.id, 7)
    assert s.keys.cancel_deletion(rt.caller, key.id).state is KeyState.PENDING_IMPORT
    s.scheduler.run_once()
    _assert_material_gone(rt, key, blob)


def test_reimporting_the_same_material_after_expiry_restores_the_key(rt: Inproc) -> None:
    s = rt.runtime.services
    key = s.keys.create_key(rt.caller, CreateKeyRequest(origin=Origin.EXTERNAL))
    material = os.urandom(32)
    _import(rt, key, material, int(rt.clock.now()) + 100)
    blob = s.crypto.encrypt(rt.caller, key.id, b"secret", {}).blob
    rt.clock.advance(200)
    s.keys.schedule_deletion(rt.caller, key.id, 7)
    s.keys.cancel_deletion(rt.caller, key.id)
    _import(rt, key, material, None)
    assert s.crypto.decrypt(rt.caller, blob, {}).plaintext == b"secret"
