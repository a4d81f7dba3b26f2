"""Concurrency: many threads on one token at once, with python-pkcs11 releasing the GIL in every
call. Without OS locking SoftHSM2 crashes the process this way (segmentation fault, or
CKR_GENERAL_ERROR); with it, every result must be right."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from openkms.crypto.pkcs11 import Pkcs11Backend
from openkms.domain.asymmetric import SignAlgorithm
from openkms.domain.keys import KeyVersion
from openkms.domain.specs import SPECS
from tests.hsm_support import requires_softhsm, shared_token

pytestmark = requires_softhsm

THREADS = 8
OPS_PER_THREAD = 200
AES = SPECS["Aliyun_AES_256"]


@pytest.fixture(scope="module")
def backend() -> Iterator[Pkcs11Backend]:
    # Fewer sessions than threads: the pool must also hand sessions over between threads.
    b = Pkcs11Backend(shared_token(), max_sessions=6)
    yield b
    b.close()


def version(backend: Pkcs11Backend, spec_name: str) -> tuple[KeyVersion, bytes]:
    version_id = str(uuid.uuid4())
    if spec_name == AES.name:
        return KeyVersion(version_id, "k", 0, backend.create_symmetric(AES, version_id)), b""
    ref, public_key = backend.create_asymmetric(SPECS[spec_name], version_id)
    return KeyVersion(version_id, "k", 0, ref, public_key), public_key


def test_mixed_operations_from_many_threads_are_all_correct(backend: Pkcs11Backend) -> None:
    aes, _ = version(backend, AES.name)
    rsa_version, rsa_public = version(backend, "RSA_2048")
    ec_version, ec_public = version(backend, "EC_P256")
    rsa_key = serialization.load_der_public_key(rsa_public)
    ec_key = serialization.load_der_public_key(ec_public)
    assert isinstance(rsa_key, rsa.RSAPublicKey)
    assert isinstance(ec_key, ec.EllipticCurvePublicKey)

    start = threading.Barrier(THREADS)
    results: list[list[tuple[str, bytes, object]]] = [[] for _ in range(THREADS)]
    failures: list[BaseException] = []

    def work(index: int) -> None:
        try:
            start.wait()
            for n in range(OPS_PER_THREAD):
                message = f"{index}/{n}".encode()
                kind = ("aes", "rsa", "ec", "aes")[(n + index) % 4]
                if kind == "aes":
                    aad = b"aad/" + message
                    blob = backend.encrypt(AES, aes, aad, message)
                    assert backend.decrypt(AES, aes, aad, *blob) == message
                    results[index].append(("aes", message, blob))
                elif kind == "rsa":
                    digest = hashlib.sha256(message).digest()
                    results[index].append(
                        (
                            "rsa",
                            digest,
                            backend.sign(SPECS["RSA_2048"], rsa_version, SignAlgorithm.RSA_PSS_SHA_256, digest),
                        )
                    )
                else:
                    digest = hashlib.sha256(message).digest()
                    results[index].append(
                        ("ec", digest, backend.sign(SPECS["EC_P256"], ec_version, SignAlgorithm.ECDSA_SHA_256, digest))
                    )
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,), name=f"load-{i}") for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert failures == []

    prehashed = utils.Prehashed(hashes.SHA256())
    pss = padding.PSS(padding.MGF1(hashes.SHA256()), 32)
    done = [r for per_thread in results for r in per_thread]
    assert len(done) == THREADS * OPS_PER_THREAD
    for kind, data, outcome in done:
        if kind == "aes":  # decrypted again here, on another thread than the one that encrypted
            assert isinstance(outcome, tuple)
            assert backend.decrypt(AES, aes, b"aad/" + data, *outcome) == data
        elif kind == "rsa":
            assert isinstance(outcome, bytes)
            rsa_key.verify(outcome, data, pss, prehashed)
        else:
            assert isinstance(outcome, bytes)
            ec_key.verify(outcome, data, ec.ECDSA(prehashed))
    salts = [outcome[0] for kind, _, outcome in done if kind == "aes" and isinstance(outcome, tuple)]
    assert len(set(salts)) == len(salts)  # every message under its own key
