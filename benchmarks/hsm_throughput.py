"""HSM-protected keys over HTTP next to the same operation on the token in-process, same cores.

For Aliyun_AES_256 Encrypt (per-message key derived inside the token, AES-GCM in the token),
RSA_2048 AsymmetricSign (RSA_PSS_SHA_256) and EC_P256 AsymmetricSign (ECDSA_SHA_256), in one run:

* HTTP: ``openkms serve --workers N`` with its own SoftHSM2 token (the default key store when
  SoftHSM2 is installed), keys created with ``ProtectionLevel=HSM``, and wrk at concurrency 16
  replaying signed V1 requests (one nonce each);
* in-process: N processes, each with its own SoftHSM2 token and ``Pkcs11Backend`` (the class the
  server uses), making the same call in a loop: no HTTP, no signature check, no database.

The target is HTTP >= 70% of the in-process rate. Figures are medians of ``--rounds`` rounds.

    python benchmarks/hsm_throughput.py [--workers 2] [--seconds 10] [--rounds 3]

Needs wrk and softhsm2 (``apt-get install wrk softhsm2``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

import harness

from openkms.crypto import softhsm
from openkms.crypto.pkcs11 import Pkcs11Backend
from openkms.crypto.sealing import AesGcmSealer, new_root_key
from openkms.domain.asymmetric import SignAlgorithm
from openkms.domain.keys import KeyVersion
from openkms.domain.specs import SPECS

DIGEST = hashlib.sha256(b"openkms benchmark").digest()
PLAINTEXT = os.urandom(32)  # a data key's worth
AAD = b"k" * 36 + b"\x01"  # the size of the associated data of a blob without context
# (label, KeySpec, action, algorithm)
CASES = (
    ("Aliyun_AES_256 Encrypt", "Aliyun_AES_256", "Encrypt", ""),
    ("RSA_2048 sign (PSS)", "RSA_2048", "AsymmetricSign", "RSA_PSS_SHA_256"),
    ("EC_P256 sign (ECDSA)", "EC_P256", "AsymmetricSign", "ECDSA_SHA_256"),
)


def token_operation(parent: str, spec_name: str, algorithm: str) -> Callable[[], object]:
    """Built in each child process: its own token, one key of the spec, the backend's call."""
    home = Path(parent) / str(os.getpid())
    backend = Pkcs11Backend(softhsm.ensure_token(home, AesGcmSealer(new_root_key())))
    spec, version_id = SPECS[spec_name], str(uuid.uuid4())
    if spec.cipher is not None:
        version = KeyVersion(version_id, "k", 0, backend.create_symmetric(spec, version_id))
        return partial(backend.encrypt, spec, version, AAD, PLAINTEXT)
    ref, public_key = backend.create_asymmetric(spec, version_id)
    version = KeyVersion(version_id, "k", 0, ref, public_key)
    return partial(backend.sign, spec, version, SignAlgorithm(algorithm), DIGEST)


def request_params(url: str, spec: str, action: str, algorithm: str) -> dict[str, str]:
    usage = "ENCRYPT/DECRYPT" if action == "Encrypt" else "SIGN/VERIFY"
    key = harness.call(url, "CreateKey", KeySpec=spec, KeyUsage=usage, ProtectionLevel="HSM")
    key_id = str(key["KeyMetadata"]["KeyId"])  # type: ignore[index]
    if action == "Encrypt":
        return {"KeyId": key_id, "Plaintext": base64.b64encode(PLAINTEXT).decode()}
    return {
        "KeyId": key_id,
        "KeyVersionId": harness.version_of(url, key_id),
        "Algorithm": algorithm,
        "Digest": base64.b64encode(DIGEST).decode(),
    }


def main() -> None:
    args = harness.versus_arguments(__doc__)
    if softhsm.find_module() is None:
        raise SystemExit("SoftHSM2 is not installed: apt-get install softhsm2")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; workers={args.workers}", flush=True)

    inproc: dict[str, list[tuple[float, float]]] = {label: [] for label, *_ in CASES}
    http: dict[str, list[harness.Result]] = {label: [] for label, *_ in CASES}
    for round_no in range(1, args.rounds + 1):
        print(f"round {round_no}", flush=True)
        # One server per round, idle while the in-process side runs; each operation's two sides
        # run back to back, so a noisy neighbour affects both alike.
        with harness.openkms(args.workers) as server:
            for label, spec, action, algorithm in CASES:
                with tempfile.TemporaryDirectory(prefix="openkms-hsm-bench-") as parent:
                    work = partial(token_operation, parent, spec, algorithm)
                    rate, cpu = harness.in_process(work, args.workers, args.seconds)
                inproc[label].append((rate, cpu))
                print(f"  in-process {label:24} {rate:8.0f} ops/s  {cpu:6.0f} us CPU/op", flush=True)
                line = partial(harness.v1_line, action, request_params(server.url, spec, action, algorithm))
                expected = min(rate * 1.2, 10000)  # HTTP stays far below EC_P256's in-process rate
                harness.drive(server, "warm-up", line, args.concurrency, 2, expected)
                r = harness.drive(server, label, line, args.concurrency, args.seconds, expected)
                http[label].append(r)
                print(f"  HTTP       {label:24} {r.rps:8.0f} ops/s  {r.cpu_us:6.0f} us CPU/op  failed {r.failed}")

    rows = [(label, inproc[label], http[label]) for label, *_ in CASES]
    harness.versus_in_process(rows, 0.70, args.rounds, args.seconds)
    print(f"{args.workers} server workers / in-process processes, wrk concurrency {args.concurrency}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
