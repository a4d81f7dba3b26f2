"""The root key in the HSM: sealing inside the token, with the software sealer's layout."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from openkms.crypto.pkcs11_sealer import Pkcs11Sealer
from openkms.crypto.pkcs11_session import TokenSessions, open_token, release
from openkms.crypto.sealing import AesGcmSealer
from openkms.domain import errors
from tests.hsm_support import requires_softhsm, shared_token

pytestmark = requires_softhsm


def p11() -> Any:
    import pkcs11

    return pkcs11


@pytest.fixture(scope="module")
def sealer() -> Iterator[Pkcs11Sealer]:
    s = Pkcs11Sealer(shared_token(), key_label=f"openkms:test-root:{uuid.uuid4()}", create_if_missing=True)
    yield s
    s.close()


@pytest.fixture(scope="module")
def token() -> Iterator[TokenSessions]:
    pool = open_token(shared_token())
    yield pool
    release(pool)


def test_seal_round_trip_binds_the_associated_data(sealer: Pkcs11Sealer) -> None:
    secret = os.urandom(48)
    sealed = sealer.seal(secret, b"key-version:1")
    assert secret not in sealed
    assert sealed[0] == 0x01
    assert len(sealed) == 1 + 12 + len(secret) + 16
    assert sealer.unseal(sealed, b"key-version:1") == secret
    assert sealer.seal(secret, b"key-version:1") != sealed  # a fresh nonce each time
    with pytest.raises(errors.IntegrityError):
        sealer.unseal(sealed, b"key-version:2")
    for index in (0, 5, 20, len(sealed) - 1):
        tampered = sealed[:index] + bytes([sealed[index] ^ 0x80]) + sealed[index + 1 :]
        with pytest.raises(errors.IntegrityError):
            sealer.unseal(tampered, b"key-version:1")
    with pytest.raises(errors.IntegrityError):
        sealer.unseal(sealed[:20], b"key-version:1")


def test_the_root_key_never_leaves_the_token(sealer: Pkcs11Sealer, token: TokenSessions) -> None:
    a = p11().Attribute
    with token.session() as s:
        key = s.find(sealer._id, p11().ObjectClass.SECRET_KEY)
        assert key[a.TOKEN]
        assert key[a.PRIVATE]
        assert key[a.SENSITIVE]
        assert key[a.NEVER_EXTRACTABLE]
        assert not key[a.EXTRACTABLE]
        with pytest.raises(p11().AttributeSensitive):
            _ = key[a.VALUE]


def test_same_layout_as_the_software_sealer(token: TokenSessions) -> None:
    """A root key moved into the token unseals what the software sealer sealed, and back."""
    root_key = os.urandom(32)
    label = f"openkms:test-imported-root:{uuid.uuid4()}"
    a = p11().Attribute
    with token.session() as s:
        s.session.create_object(
            {
                a.CLASS: p11().ObjectClass.SECRET_KEY,
                a.KEY_TYPE: p11().KeyType.AES,
                a.VALUE: root_key,
                a.TOKEN: True,
                a.PRIVATE: True,
                a.SENSITIVE: True,
                a.EXTRACTABLE: False,
                a.ENCRYPT: True,
                a.DECRYPT: True,
                a.ID: label.encode(),
                a.LABEL: label,
            }
        )
    software, hsm = AesGcmSealer(root_key), Pkcs11Sealer(shared_token(), key_label=label)
    try:
        assert hsm.unseal(software.seal(b"material", b"row:1"), b"row:1") == b"material"
        assert software.unseal(hsm.seal(b"material", b"row:2"), b"row:2") == b"material"
        with pytest.raises(errors.IntegrityError):
            hsm.unseal(software.seal(b"material", b"row:1"), b"row:2")
    finally:
        hsm.close()


def test_a_missing_root_key_is_not_created_unless_asked() -> None:
    label = f"openkms:test-absent:{uuid.uuid4()}"
    with pytest.raises(errors.BackendUnavailable, match="no root key"):
        Pkcs11Sealer(shared_token(), key_label=label)
    created = Pkcs11Sealer(shared_token(), key_label=label, create_if_missing=True)
    sealed = created.seal(b"x", b"aad")
    created.close()
    again = Pkcs11Sealer(shared_token(), key_label=label)  # found, not created a second time
    assert again.unseal(sealed, b"aad") == b"x"
    again.close()
