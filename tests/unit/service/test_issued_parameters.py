"""ImportService.issued_parameters: the console's downloads of one issue of import parameters."""

from __future__ import annotations

import pytest

from openkms.domain import errors
from openkms.domain.identity import Caller
from openkms.domain.importing import TOKEN_LIFETIME_SECONDS
from openkms.domain.specs import Origin
from openkms.service.keys import CreateKeyRequest
from tests.inproc import Inproc


def test_the_same_wrapping_key_and_a_token_that_imports(rt: Inproc) -> None:
    s = rt.runtime.services
    key = s.keys.create_key(rt.caller, CreateKeyRequest(origin=Origin.EXTERNAL))
    issued = s.importing.get_parameters(rt.caller, key.id, "RSAES_OAEP_SHA_1", "RSA_2048")
    again = s.importing.issued_parameters(rt.caller, key.id, issued.token_id)
    assert (again.key_id, again.public_key, again.expires_at, again.token_id) == (
        key.id,
        issued.public_key,
        issued.expires_at,
        issued.token_id,
    )
    assert (again.wrapping_spec, again.wrapping_algorithm) == ("RSA_2048", "RSAES_OAEP_SHA_1")
    # The token handed out again names the same issue: ImportKeyMaterial takes it (and refuses
    # only the garbage material here, not the token).
    with pytest.raises(errors.InvalidKeyMaterial):
        s.importing.import_material(rt.caller, key.id, again.token, b"\0" * 256, None)


def test_refused_for_another_key_another_account_and_after_expiry(rt: Inproc) -> None:
    s = rt.runtime.services
    key = s.keys.create_key(rt.caller, CreateKeyRequest(origin=Origin.EXTERNAL))
    other = s.keys.create_key(rt.caller, CreateKeyRequest(origin=Origin.EXTERNAL))
    issued = s.importing.get_parameters(rt.caller, key.id, "RSAES_OAEP_SHA_1", "RSA_2048")
    with pytest.raises(errors.InvalidImportToken):
        s.importing.issued_parameters(rt.caller, other.id, issued.token_id)
    with pytest.raises(errors.InvalidImportToken):
        s.importing.issued_parameters(rt.caller, key.id, "no-such-token")
    with pytest.raises(errors.KeyNotFound):
        s.importing.issued_parameters(Caller("1999999999999999", "cn-hangzhou"), key.id, issued.token_id)
    native = s.keys.create_key(rt.caller, CreateKeyRequest())
    with pytest.raises(errors.UnsupportedOrigin):
        s.importing.issued_parameters(rt.caller, native.id, issued.token_id)
    rt.clock.advance(TOKEN_LIFETIME_SECONDS)
    with pytest.raises(errors.ExpiredImportToken):
        s.importing.issued_parameters(rt.caller, key.id, issued.token_id)
