"""AsymmetricSign over HTTP next to the same signature made in-process, on the same cores.

For each of RSA_2048 (RSA_PSS_SHA_256), EC_P256 (ECDSA_SHA_256) and EC_SM2 (SM2DSA), in one run:

* HTTP: ``openkms serve --workers N`` and wrk at concurrency 16 replaying signed V1
  AsymmetricSign requests (one nonce each) for a key of that spec;
* in-process: N processes, each with the server's crypto backend (``SoftwareBackend``, a key
  made by its ``create_asymmetric`` under a fresh root key) calling its ``sign`` with a
  ``KeyVersion`` on the same 32-byte digest in a loop: the same backend call the service makes
  (the unsealed private key cached after the first call, as in the server), but no HTTP, no
  request signature check, no database.

The target is HTTP >= 70% of the in-process rate. Figures are medians of ``--rounds`` rounds.

    python benchmarks/sign_throughput.py [--workers 2] [--seconds 10] [--rounds 3]

Needs wrk (``apt-get install wrk``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Callable
from functools import partial

import harness

from openkms.crypto.sealing import AesGcmSealer, new_root_key
from openkms.crypto.software import SoftwareBackend
from openkms.domain.asymmetric import SignAlgorithm
from openkms.domain.keys import KeyVersion
from openkms.domain.specs import SPECS

CASES = (("RSA_2048", "RSA_PSS_SHA_256"), ("EC_P256", "ECDSA_SHA_256"), ("EC_SM2", "SM2DSA"))
DIGEST = hashlib.sha256(b"openkms benchmark").digest()


def signer(spec_name: str, algorithm: str) -> Callable[[], object]:
    """Built in each child process: the backend, a fresh key of the spec, one signature per call."""
    backend = SoftwareBackend(AesGcmSealer(new_root_key()), pool_size=0)
    spec, version_id = SPECS[spec_name], str(uuid.uuid4())
    ref, public_key = backend.create_asymmetric(spec, version_id)
    version = KeyVersion(version_id, "k", 0, ref, public_key)
    return partial(backend.sign, spec, version, SignAlgorithm(algorithm), DIGEST)


def main() -> None:
    args = harness.versus_arguments(__doc__)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; workers={args.workers}", flush=True)

    inproc: dict[str, list[tuple[float, float]]] = {spec: [] for spec, _ in CASES}
    http: dict[str, list[harness.Result]] = {spec: [] for spec, _ in CASES}
    for round_no in range(1, args.rounds + 1):
        print(f"round {round_no}", flush=True)
        # One server per round, idle while the in-process side runs; each spec's two sides run
        # back to back, so a noisy neighbour affects both alike.
        with harness.openkms(args.workers) as server:
            for spec, algorithm in CASES:
                rate, cpu = harness.in_process(partial(signer, spec, algorithm), args.workers, args.seconds)
                inproc[spec].append((rate, cpu))
                print(f"  in-process {spec:10} {rate:8.0f} signs/s  {cpu:6.0f} us CPU/sign", flush=True)
                key = harness.call(server.url, "CreateKey", KeySpec=spec, KeyUsage="SIGN/VERIFY")
                key_id = str(key["KeyMetadata"]["KeyId"])  # type: ignore[index]
                params = {
                    "KeyId": key_id,
                    "KeyVersionId": harness.version_of(server.url, key_id),
                    "Algorithm": algorithm,
                    "Digest": base64.b64encode(DIGEST).decode(),
                }
                line = partial(harness.v1_line, "AsymmetricSign", params)
                expected = min(rate * 1.2, 10000)  # HTTP stays far below EC_P256's in-process rate
                harness.drive(server, "warm-up", line, args.concurrency, 2, expected)
                r = harness.drive(server, spec, line, args.concurrency, args.seconds, expected)
                http[spec].append(r)
                print(f"  HTTP       {spec:10} {r.rps:8.0f} signs/s  {r.cpu_us:6.0f} us CPU/sign  failed {r.failed}")

    rows = [(f"{spec} {algorithm}", inproc[spec], http[spec]) for spec, algorithm in CASES]
    harness.versus_in_process(rows, 0.70, args.rounds, args.seconds)
    print(f"{args.workers} server workers / in-process processes, wrk concurrency {args.concurrency}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
