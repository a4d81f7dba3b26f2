"""The asymmetric verification and decryption code against Project Wycheproof's vectors
(tests/vectors/wycheproof, Apache-2.0, see the README there)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from openkms.crypto import asymmetric
from openkms.domain import errors
from openkms.domain.asymmetric import EncryptAlgorithm, SignAlgorithm
from openkms.domain.importing import check_material_length

VECTORS = Path(__file__).parents[2] / "vectors" / "wycheproof"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return data


def _cases(name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(group, test) for group in _load(name)["testGroups"] for test in group["tests"]]


SIGNATURE_FILES = [
    ("ecdsa_secp256r1_sha256_test.json", "EC_P256", SignAlgorithm.ECDSA_SHA_256),
    ("ecdsa_secp256k1_sha256_test.json", "EC_P256K", SignAlgorithm.ECDSA_SHA_256),
    ("rsa_pss_2048_sha256_mgf1_32_test.json", "RSA_2048", SignAlgorithm.RSA_PSS_SHA_256),
    ("rsa_pss_3072_sha256_mgf1_32_test.json", "RSA_3072", SignAlgorithm.RSA_PSS_SHA_256),
    ("rsa_signature_2048_sha256_test.json", "RSA_2048", SignAlgorithm.RSA_PKCS1_SHA_256),
    ("rsa_signature_3072_sha256_test.json", "RSA_3072", SignAlgorithm.RSA_PKCS1_SHA_256),
]


@pytest.mark.parametrize(("name", "spec", "algorithm"), SIGNATURE_FILES)
def test_signature_verification(name: str, spec: str, algorithm: SignAlgorithm) -> None:
    checked = {"valid": 0, "invalid": 0, "acceptable": 0}
    for group, test in _cases(name):
        public = asymmetric.load_public(spec, bytes.fromhex(group["publicKeyDer"]))
        # The API signs and verifies digests: hash the message as a client would.
        digest = hashlib.sha256(bytes.fromhex(test["msg"])).digest()
        ok = asymmetric.verify(spec, public, algorithm, digest, bytes.fromhex(test["sig"]))
        if test["result"] == "valid":
            assert ok, f"{name} tcId {test['tcId']} should verify"
        elif test["result"] == "invalid":
            assert not ok, f"{name} tcId {test['tcId']} must not verify ({test['comment']})"
        checked[test["result"]] += 1
    assert checked["valid"] > 0
    assert checked["invalid"] > 0


OAEP_FILES = [
    ("rsa_oaep_2048_sha256_mgf1sha256_test.json", EncryptAlgorithm.RSAES_OAEP_SHA_256),
    ("rsa_oaep_3072_sha256_mgf1sha256_test.json", EncryptAlgorithm.RSAES_OAEP_SHA_256),
    ("rsa_oaep_2048_sha1_mgf1sha1_test.json", EncryptAlgorithm.RSAES_OAEP_SHA_1),
]


@pytest.mark.parametrize(("name", "algorithm"), OAEP_FILES)
def test_oaep_decryption(name: str, algorithm: EncryptAlgorithm) -> None:
    valid = invalid = labelled = 0
    for group, test in _cases(name):
        private = serialization.load_der_private_key(bytes.fromhex(group["privateKeyPkcs8"]), password=None)
        ct = bytes.fromhex(test["ct"])
        if test["label"]:
            # The KMS API has no OAEP label: a labelled ciphertext must not decrypt without it.
            with pytest.raises(errors.InvalidParameter):
                asymmetric.decrypt(private, algorithm, ct)
            labelled += 1
            continue
        if test["result"] == "valid":
            assert asymmetric.decrypt(private, algorithm, ct) == bytes.fromhex(test["msg"]), test["tcId"]
            valid += 1
        elif test["result"] == "invalid":
            with pytest.raises(errors.InvalidParameter):
                asymmetric.decrypt(private, algorithm, ct)
            invalid += 1
    assert valid > 0
    assert invalid > 0


def test_pkcs1_v15_unwrap_never_yields_usable_material_from_invalid_ciphertexts() -> None:
    """RSAES-PKCS1-v1_5 unwrapping (import only). cryptography uses implicit rejection, so an
    invalid ciphertext may "decrypt" to random bytes; the material-length check must then refuse
    it with the same error as any other failure, so that no padding oracle appears."""
    valid = invalid = 0
    messages = set()
    for group, test in _cases("rsa_pkcs1_2048_test.json"):
        private = serialization.load_der_private_key(bytes.fromhex(group["privateKeyPkcs8"]), password=None)
        ct = bytes.fromhex(test["ct"])
        if test["result"] == "valid":
            assert asymmetric.unwrap(private, "RSAES_PKCS1_V1_5", ct) == bytes.fromhex(test["msg"]), test["tcId"]
            valid += 1
        elif test["result"] == "invalid":
            with pytest.raises(errors.InvalidKeyMaterial) as err:
                check_material_length(asymmetric.unwrap(private, "RSAES_PKCS1_V1_5", ct), 32)
            messages.add(err.value.message)
            invalid += 1
    assert valid > 0
    assert invalid > 0
    assert len(messages) == 1, "every failure must look the same to the caller"
