"""crypto/pem.py: the one PEM writer and reader."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from openkms.crypto import pem


def test_encode_writes_what_openssl_writes() -> None:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    expected = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert pem.encode(der).encode("ascii") == expected
    assert pem.decode(expected) == der
    assert pem.to_der(expected) == der
    assert pem.to_der(der) == der


@pytest.mark.parametrize("size", [0, 1, 47, 48, 49, 300])
def test_round_trip_with_64_column_lines(size: int) -> None:
    der = os.urandom(size)
    text = pem.encode(der, "CERTIFICATE")
    lines = text.splitlines()
    assert lines[0] == "-----BEGIN CERTIFICATE-----"
    assert lines[-1] == "-----END CERTIFICATE-----"
    assert all(len(line) <= 64 for line in lines[1:-1])
    assert pem.decode(text.encode()) == der
    assert pem.decode(b"\r\n  " + text.replace("\n", "\r\n").encode() + b"  \n") == der


def test_a_body_that_is_not_base64_is_refused() -> None:
    with pytest.raises(ValueError):
        pem.decode(b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n")
