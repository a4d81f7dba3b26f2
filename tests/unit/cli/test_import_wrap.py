"""``openkms import wrap``: key material wrapped locally, with every wrapping algorithm the command
offers, unwraps with the wrapping key's private half; the public key is read as DER or PEM."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from openkms.cli import importing
from openkms.cli.main import main
from openkms.crypto import sm2

SM2 = pytest.mark.skipif(not sm2.available(), reason="the system libcrypto has no SM2")
_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _spki(public_key: Any) -> bytes:
    der: bytes = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def _rsa_unwrap(algorithm: str, wrapped: bytes) -> bytes:
    if algorithm == "RSAES_PKCS1_V1_5":
        return _RSA.decrypt(wrapped, padding.PKCS1v15())
    h: hashes.HashAlgorithm = hashes.SHA256() if algorithm == "RSAES_OAEP_SHA_256" else hashes.SHA1()
    return _RSA.decrypt(wrapped, padding.OAEP(padding.MGF1(h), h, None))


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"])
def test_rsa_wrapping_unwraps_with_the_private_key(algorithm: str) -> None:
    material = os.urandom(32)
    wrapped = importing.wrap(_spki(_RSA.public_key()), material, algorithm)
    assert _rsa_unwrap(algorithm, wrapped) == material


@SM2
def test_sm2_wrapping_unwraps_with_the_private_key() -> None:
    key = sm2.Sm2PrivateKey.generate()
    material = os.urandom(16)
    wrapped = importing.wrap(key.public_key().to_der(), material, "SM2PKE")
    assert key.decrypt(wrapped) == material


def test_every_offered_algorithm_is_one_the_server_offers() -> None:
    assert set(importing.ALGORITHMS) == {"RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5", "SM2PKE"}


def _pem(der: bytes) -> bytes:
    return serialization.load_der_public_key(der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize("form", ["der", "pem"])
def test_the_wrap_command_reads_der_or_pem(tmp_path: Path, capsys: pytest.CaptureFixture[str], form: str) -> None:
    der = _spki(_RSA.public_key())
    public = tmp_path / f"public.{form}"
    public.write_bytes(der if form == "der" else _pem(der))
    material = tmp_path / "key.bin"
    material.write_bytes(os.urandom(32))
    out = tmp_path / "wrapped.bin"
    argv = ["import", "wrap", "--public-key", str(public), "--material", str(material), "--out", str(out)]
    assert main([*argv, "--algorithm", "RSAES_OAEP_SHA_1"]) == 0
    assert _rsa_unwrap("RSAES_OAEP_SHA_1", out.read_bytes()) == material.read_bytes()
    assert f"wrote 256 bytes of wrapped key material to {out}" in capsys.readouterr().out


def test_a_wrapping_key_of_another_type_is_one_line_of_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    public = tmp_path / "public.der"
    public.write_bytes(_spki(ec.generate_private_key(ec.SECP256R1()).public_key()))
    material = tmp_path / "key.bin"
    material.write_bytes(os.urandom(32))
    argv = ["import", "wrap", "--public-key", str(public), "--material", str(material), "--out", str(tmp_path / "w")]
    assert main(argv) == 1
    assert capsys.readouterr().err == "openkms import: the wrapping public key is not an RSA key\n"
