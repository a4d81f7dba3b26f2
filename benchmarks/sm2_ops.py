"""SM2 operations per second: openkms.crypto.sm2 (OpenSSL 3 via ctypes) next to gmalg (pure Python).

Both sides do the same work per operation: sign and verify include Z_A and SM3 over a 64-byte
message; encrypt and decrypt move a 32-byte plaintext (a data key). The "x N threads" column runs
the openkms operation in N threads at once (aggregate rate), which shows whether OpenSSL runs
outside the GIL.

    PYTHONPATH=src python benchmarks/sm2_ops.py [--seconds 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable

import gmalg
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from openkms.crypto import sm2


def rate(operation: Callable[[], object], seconds: float, threads: int = 1) -> float:
    """Operations per second over about ``seconds`` of wall time, summed over ``threads``."""
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def loop(slot: int) -> None:
        done = 0
        while time.perf_counter() < deadline:
            for _ in range(10):
                operation()
            done += 10
        counts[slot] = done

    start = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument("--threads", type=int, default=2, help="threads for the concurrent column")
    args = parser.parse_args()

    key = sm2.Sm2PrivateKey.generate()
    pub = key.public_key()
    message, plaintext = os.urandom(64), os.urandom(32)
    signature = key.sign_digest(pub.digest(message))
    ciphertext = pub.encrypt(plaintext)
    ours: dict[str, Callable[[], object]] = {
        "sign": lambda: key.sign_digest(pub.digest(message)),
        "verify": lambda: pub.verify_digest(pub.digest(message), signature),
        "encrypt": lambda: pub.encrypt(plaintext),
        "decrypt": lambda: key.decrypt(ciphertext),
    }

    x, y = pub.point()
    pkcs8 = key.to_der()
    assert pkcs8[34:36] == b"\x04\x20", "OpenSSL's PKCS#8 layout for SM2: the scalar follows at byte 36"
    d = int.from_bytes(pkcs8[36:68], "big")
    oracle = gmalg.SM2(
        d.to_bytes(32, "big"), sm2.DEFAULT_USER_ID, b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")
    )
    r, s = (v.to_bytes(32, "big") for v in decode_dss_signature(signature))
    raw_ciphertext = oracle.encrypt(plaintext)
    assert oracle.verify(message, r, s), "gmalg must accept the openkms signature"
    gr, gs = oracle.sign(message)
    assert pub.verify_digest(pub.digest(message), encode_dss_signature(int.from_bytes(gr), int.from_bytes(gs)))
    theirs: dict[str, Callable[[], object]] = {
        "sign": lambda: oracle.sign(message),
        "verify": lambda: oracle.verify(message, r, s),
        "encrypt": lambda: oracle.encrypt(plaintext),
        "decrypt": lambda: oracle.decrypt(raw_ciphertext),
    }

    print(f"SM2, {os.cpu_count()} CPUs, {args.seconds:g} s per figure, ops/s")
    print(f"{'operation':<10}{'openkms':>10}{f'x {args.threads} threads':>14}{'gmalg':>10}{'ratio':>8}")
    for name, operation in ours.items():
        mine = rate(operation, args.seconds)
        concurrent = rate(operation, args.seconds, args.threads)
        other = rate(theirs[name], args.seconds)
        print(f"{name:<10}{mine:>10.0f}{concurrent:>14.0f}{other:>10.1f}{mine / other:>7.0f}x")


if __name__ == "__main__":
    main()
