"""In-process throughput of the PKCS#11 backend on SoftHSM2 (no HTTP): the ceiling an HSM key's
API call can reach, to report next to the end-to-end figures.

    PYTHONPATH=src python benchmarks/pkcs11_inprocess.py [--seconds 2] [--threads 1,2,4]

Prints ops/s (wall clock) and CPU microseconds per operation (process CPU time / ops: the
figure to trust on a shared machine) for HSM AES-GCM encrypt (per-message key derived in the
token), RSA_2048 PSS sign, EC_P256 sign, and for reference AES-GCM directly under a token key;
then the cost of opening a session with and without a login.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openkms.crypto import softhsm
from openkms.crypto.pkcs11 import Pkcs11Backend
from openkms.crypto.pkcs11_keys import p11
from openkms.crypto.pkcs11_session import open_token, release
from openkms.crypto.sealing import AesGcmSealer, new_root_key
from openkms.domain.asymmetric import SignAlgorithm
from openkms.domain.keys import KeyVersion
from openkms.domain.specs import SPECS


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(operation: Callable[[], object], threads: int, seconds: float) -> tuple[float, float]:
    """(ops per second, CPU microseconds per op) of ``operation`` run by ``threads`` threads."""
    counts = [0] * threads
    stop = threading.Event()
    start = threading.Barrier(threads + 1)

    def work(index: int) -> None:
        start.wait()
        while not stop.is_set():
            operation()
            counts[index] += 1

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    began, cpu = time.perf_counter(), cpu_seconds()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join()
    wall, used = time.perf_counter() - began, cpu_seconds() - cpu
    ops = sum(counts)
    return ops / wall, 1e6 * used / max(ops, 1)


def session_costs(config: Any, rounds: int = 200) -> tuple[float, float]:
    """Milliseconds to open a session with a login (and log out, close), and without one."""
    pool = open_token(config)
    token = pool._token
    release(pool)  # logged out again: nothing else uses this token in the process
    began = time.perf_counter()
    for _ in range(rounds):
        token.open(rw=True, user_pin=config.pin).close()
    with_login = (time.perf_counter() - began) / rounds * 1e3
    holder = token.open(rw=True, user_pin=config.pin)
    began = time.perf_counter()
    for _ in range(rounds):
        token.open(rw=True).close()
    without = (time.perf_counter() - began) / rounds * 1e3
    holder.close()
    return with_login, without


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--threads", default="1,2,4")
    args = parser.parse_args()
    thread_counts = [int(n) for n in args.threads.split(",")]

    with tempfile.TemporaryDirectory(prefix="openkms-pkcs11-bench-") as home:
        config = softhsm.ensure_token(Path(home) / "data", AesGcmSealer(new_root_key()))
        backend = Pkcs11Backend(config)
        aes, rsa_spec, ec_spec = SPECS["Aliyun_AES_256"], SPECS["RSA_2048"], SPECS["EC_P256"]

        def version(spec_name: str) -> KeyVersion:
            version_id = str(uuid.uuid4())
            if spec_name == aes.name:
                return KeyVersion(version_id, "k", 0, backend.create_symmetric(aes, version_id))
            ref, public_key = backend.create_asymmetric(SPECS[spec_name], version_id)
            return KeyVersion(version_id, "k", 0, ref, public_key)

        aes_version, rsa_version, ec_version = version(aes.name), version("RSA_2048"), version("EC_P256")
        plaintext, aad, digest = os.urandom(64), b"x" * 40, hashlib.sha256(b"bench").digest()

        # reference: GCM directly under a token key, without the per-message derivation
        p = p11()
        direct_pool = open_token(config)
        with direct_pool.session() as s:
            s.session.generate_key(p.KeyType.AES, 256, store=False, label="bench-direct")

        direct_keys: dict[int, Any] = {}  # per pooled session

        def direct_gcm() -> None:
            with direct_pool.session() as s:
                key = direct_keys.get(id(s))
                if key is None:
                    key = direct_keys[id(s)] = next(s.session.get_objects({p.Attribute.LABEL: "bench-direct"}))
                key.encrypt(plaintext, mechanism=p.Mechanism.AES_GCM, mechanism_param=p.GCMParams(os.urandom(12), aad))

        cases: list[tuple[str, Callable[[], object]]] = [
            (
                "HSM AES-GCM encrypt (64 B, derived message key)",
                lambda: backend.encrypt(aes, aes_version, aad, plaintext),
            ),
            (
                "RSA_2048 RSA_PSS_SHA_256 sign",
                lambda: backend.sign(rsa_spec, rsa_version, SignAlgorithm.RSA_PSS_SHA_256, digest),
            ),
            (
                "EC_P256 ECDSA_SHA_256 sign",
                lambda: backend.sign(ec_spec, ec_version, SignAlgorithm.ECDSA_SHA_256, digest),
            ),
            ("reference: AES-GCM directly under a token key", direct_gcm),
        ]
        print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        print(f"{'operation':52} {'threads':>7} {'ops/s':>9} {'CPU us/op':>10}")
        for name, operation in cases:
            operation()  # warm the object caches
            for threads in thread_counts:
                rate, cpu = measure(operation, threads, args.seconds)
                print(f"{name:52} {threads:>7} {rate:>9.0f} {cpu:>10.0f}")
        release(direct_pool)
        backend.close()
        with_login, without = session_costs(config)
        print(
            f"open+login+logout+close a session: {with_login:.3f} ms; open+close on a logged-in token: {without:.3f} ms"
        )
        print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
