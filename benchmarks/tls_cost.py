"""What HTTPS costs an Encrypt: the same ``openkms serve`` driven through its plain and its TLS
listener, on kept-alive connections and with a new connection (so a new handshake) per request;
then a configured RSA-2048 certificate in place of the local CA's ECDSA P-256 one, for the
handshake. The listeners take turns within a round, and every figure is the median of the rounds.

    python benchmarks/tls_cost.py [--workers 1] [--seconds 10] [--rounds 3] [--concurrency 16]

Needs wrk (``apt-get install wrk``); wrk does not verify the certificate, a client's own cost.
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import harness
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from harness import Result

PLAINTEXT = base64.b64encode(os.urandom(32)).decode()


def closing(line: Callable[[], str]) -> str:
    """The request with ``Connection: close``: wrk then opens a new connection for the next one."""
    method, path, headers, body = line().split("\t", 3)
    headers = "connection\1close" + ("\1" + headers if headers else "")
    return f"{method}\t{path}\t{headers}\t{body}"


def rsa_certificate(directory: Path) -> str:
    """A self-signed RSA-2048 certificate and key in ``directory``; the ``[tls]`` table naming them."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (directory / "rsa.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "rsa-key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return f'[tls]\ncert_file = "{directory}/rsa.pem"\nkey_file = "{directory}/rsa-key.pem"\n'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    c = args.concurrency
    runs: dict[str, list[Result]] = defaultdict(list)

    def run(server: harness.Server, label: str, line: Callable[[], str], rate: float) -> None:
        r = harness.drive(server, label, line, c, args.seconds, rate)
        runs[label].append(r)
        latency = f"p50 {r.p50_ms:6.2f} p99 {r.p99_ms:7.2f} ms"
        print(f"  {label:40} {r.rps:8.0f} req/s  {latency}  {r.cpu_us:5.0f} us CPU/req  failed {r.failed}")

    def encrypt_lines(server: harness.Server, key_id: str) -> Callable[[], str]:
        """Signed for this listener: the Host header, port included, is signed."""
        return partial(
            harness.v3_line, "Encrypt", {"KeyId": key_id, "Plaintext": PLAINTEXT}, f"127.0.0.1:{server.port}"
        )

    def new_key(server: harness.Server) -> str:
        return str(harness.call(server.url, "CreateKey")["KeyMetadata"]["KeyId"])  # type: ignore[index]

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; workers={args.workers}", flush=True)
    with tempfile.TemporaryDirectory(prefix="openkms-bench-rsa-") as tmp:
        rsa_config = rsa_certificate(Path(tmp))
        for round_no in range(1, args.rounds + 1):
            print(f"round {round_no}", flush=True)
            with harness.openkms(args.workers) as server:
                key_id = new_key(server)
                harness.drive(server, "warm-up", encrypt_lines(server, key_id), c, 3, 10000)
                for where, target in (("HTTP", server), ("HTTPS P-256", server.over_tls())):
                    v3 = encrypt_lines(target, key_id)
                    run(target, f"{where} kept-alive", v3, 10000)
                    run(target, f"{where} new connection each", partial(closing, v3), 3000)
            with harness.openkms(args.workers, config=rsa_config) as server:
                tls = server.over_tls()
                v3 = encrypt_lines(tls, new_key(server))
                harness.drive(tls, "warm-up", v3, c, 3, 10000)
                run(tls, "HTTPS RSA-2048 new connection each", partial(closing, v3), 3000)
            time.sleep(1)  # the previous server's sockets gone before the next starts

    print(f"\nmedian of {args.rounds} rounds, {args.seconds:.0f} s each, c{c}, workers={args.workers}, wrk 1 thread")
    base = harness.median(runs["HTTP kept-alive"])
    rows = []
    for results in runs.values():
        r = harness.median(results)
        rows.append((r, f"{r.rps / base.rps:.2f} of HTTP kept-alive"))
    harness.table(rows)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
