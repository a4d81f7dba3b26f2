"""Two ImportKeyMaterial calls on a fresh EXTERNAL key, interleaved as two workers can run them:
the second finishes between the first one's read and its write. The key must still end with
one version, and DeleteKeyMaterial must leave no material behind."""

from __future__ import annotations

import os
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from openkms import bootstrap
from openkms.crypto.sealing import AesGcmSealer
from openkms.crypto.software import SoftwareBackend
from openkms.domain.authorization import AllowAll
from openkms.domain.importing import ImportToken
from openkms.domain.specs import Origin, ProtectionLevel, SpecInfo
from openkms.service.backends import DEFAULT_STORE, Backends, KeyStore
from openkms.service.importing import ImportService
from openkms.service.keys import CreateKeyRequest
from openkms.service.resolve import KeyResolver
from openkms.system import UuidGenerator
from tests.inproc import Inproc


class Interleaving:
    """A backend that, the first time it unwraps material, lets another import run to completion."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.meanwhile: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def import_material(self, spec: SpecInfo, version_id: str, token: ImportToken, wrapped: bytes) -> Any:
        result = self._inner.import_material(spec, version_id, token, wrapped)
        if self.meanwhile is not None:
            other, self.meanwhile = self.meanwhile, None
            other()
        return result


def test_concurrent_imports_of_the_same_material_leave_one_version(rt: Inproc) -> None:
    s = rt.runtime.services
    sealer = AesGcmSealer(bootstrap.load_root_key(rt.runtime.settings)[0])
    backend = Interleaving(SoftwareBackend(sealer, pool_size=0))
    importing = ImportService(
        rt.runtime.store,
        KeyResolver(AllowAll()),
        Backends([KeyStore(DEFAULT_STORE, ProtectionLevel.SOFTWARE, backend)]),
        sealer,
        rt.clock,
        UuidGenerator(),
        s.regions,
    )
    key = s.keys.create_key(rt.caller, CreateKeyRequest(origin=Origin.EXTERNAL))
    params = importing.get_parameters(rt.caller, key.id, "RSAES_OAEP_SHA_256", "RSA_2048")
    public = serialization.load_der_public_key(params.public_key)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    material = os.urandom(32)

    def import_once() -> None:
        wrapped = public.encrypt(material, oaep)  # type: ignore[union-attr]
        importing.import_material(rt.caller, key.id, params.token, wrapped, None)

    backend.meanwhile = import_once
    import_once()

    with rt.runtime.store.read() as uow:
        versions = uow.versions.list_for_key(key.id)
        current = uow.keys.get(rt.account_uid, "cn-hangzhou", key.id)
    assert current is not None
    assert [v.id for v in versions] == [current.primary_version_id]
    blob = s.crypto.encrypt(rt.caller, key.id, b"x", {}).blob
    assert s.crypto.decrypt(rt.caller, blob, {}).plaintext == b"x"

    importing.delete_material(rt.caller, key.id)
    with rt.runtime.store.read() as uow:
        assert all(v.material_ref == b"" for v in uow.versions.list_for_key(key.id))
