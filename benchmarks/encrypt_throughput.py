"""Encrypt over HTTP: openkms next to the ceiling of its stack and next to moto.

In one run, on the same uvicorn (uvloop + httptools) with the same worker count, it starts
openkms (``openkms serve``, default settings: its access log and its audit trail on; then again
with the access log off, to show its cost), a minimal Starlette endpoint (``minimal_app.py``) and
moto's KMS server (``moto_app.py``), and drives each with wrk at concurrency 16 and 64. openkms
gets signed requests, each with its own nonce: V1 (HMAC-SHA1, GET, as the first-generation SDK
sends) and V3 (ACS3-HMAC-SHA256, POST form, as the current SDK sends by default). moto gets what
botocore sends (JSON body, a SigV4 Authorization header that moto does not check). Every figure
is the median of ``--rounds`` rounds; the servers take turns within a round, so a noisy
neighbour hurts all alike.

The table gives each case's server CPU per request over the minimal endpoint's (issue 18's
target: signed Encrypt at 3x or less) and its throughput over moto's (target: 15x or more).
``--others`` adds AsymmetricSign (RSA_2048, EC_P256) and GetSecretValue on the same server, for
the same CPU ratio (a signature's own cost dominates those two).

    python benchmarks/encrypt_throughput.py [--workers 1] [--seconds 10] [--rounds 3] [--others]

Needs wrk (``apt-get install wrk``) and moto (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import time
from collections import defaultdict
from functools import partial

import harness
from harness import Result

PLAINTEXT = base64.b64encode(os.urandom(32)).decode()  # a data key's worth
MOTO_ALIAS = "alias/openkms-bench"
DIGEST = base64.b64encode(hashlib.sha256(b"openkms benchmark").digest()).decode()
CPU_TARGET, MOTO_TARGET = 3.0, 15.0  # issue 18


def moto_line() -> str:
    day = time.strftime("%Y%m%d", time.gmtime())
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "TrentService.Encrypt",
        "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        "Authorization": f"AWS4-HMAC-SHA256 Credential=AKIDBENCH/{day}/us-east-1/kms/aws4_request, "
        f"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={'0' * 64}",
    }
    return harness.plain_line("POST", "/", headers, json.dumps({"KeyId": MOTO_ALIAS, "Plaintext": PLAINTEXT}))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", default="16,64")
    parser.add_argument("--others", action="store_true", help="also AsymmetricSign and GetSecretValue")
    return parser.parse_args()


def _openkms_lines(server: harness.Server, others: bool) -> dict[str, tuple[partial[str], float]]:
    """Each case's request maker and the rate to size its pool for, on a server just started."""
    url = server.url
    key_id = str(harness.call(url, "CreateKey")["KeyMetadata"]["KeyId"])  # type: ignore[index]
    params = {"KeyId": key_id, "Plaintext": PLAINTEXT}
    lines = {
        "Encrypt V1": (partial(harness.v1_line, "Encrypt", params), 14000.0),
        "Encrypt V3": (partial(harness.v3_line, "Encrypt", params, f"127.0.0.1:{server.port}"), 14000.0),
    }
    if not others:
        return lines
    for spec, algorithm, rate in (("RSA_2048", "RSA_PSS_SHA_256", 2000.0), ("EC_P256", "ECDSA_SHA_256", 8000.0)):
        key = harness.call(url, "CreateKey", KeySpec=spec, KeyUsage="SIGN/VERIFY")
        sign_id = str(key["KeyMetadata"]["KeyId"])  # type: ignore[index]
        sign = {"KeyId": sign_id, "KeyVersionId": harness.version_of(url, sign_id)}
        sign |= {"Algorithm": algorithm, "Digest": DIGEST}
        lines[f"AsymmetricSign {spec}"] = (partial(harness.v1_line, "AsymmetricSign", sign), rate)
    harness.call(url, "CreateSecret", SecretName="bench/secret", VersionId="v1", SecretData="s3cr3t-value")
    lines["GetSecretValue"] = (partial(harness.v1_line, "GetSecretValue", {"SecretName": "bench/secret"}), 14000.0)
    return lines


def main() -> None:
    args = _arguments()
    levels = [int(c) for c in args.concurrency.split(",")]
    runs: dict[str, list[Result]] = defaultdict(list)

    def run(server: harness.Server, label: str, line: partial[str], concurrency: int, rate: float) -> None:
        r = harness.drive(server, label, line, concurrency, args.seconds, rate)
        runs[label].append(r)
        print(f"  {label:36} {r.rps:8.0f} req/s  p99 {r.p99_ms:7.2f} ms  {r.cpu_us:5.0f} us CPU/req  failed {r.failed}")

    def warm_up(server: harness.Server, line: partial[str]) -> None:
        """Unmeasured load first: imports, caches, and the RSA key pool filling at start."""
        harness.drive(server, "warm-up", line, 16, 3, 14000)

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; workers={args.workers}", flush=True)
    for round_no in range(1, args.rounds + 1):
        print(f"round {round_no}", flush=True)
        port = harness.free_port()
        with harness.serve("minimal", harness.uvicorn_argv("minimal_app:app", port, args.workers), port) as server:
            line = partial(harness.v1_line, "Encrypt", {"KeyId": "alias/bench", "Plaintext": PLAINTEXT})
            warm_up(server, line)
            for c in levels:
                run(server, f"minimal endpoint c{c}", line, c, 40000)
        for quiet in (False, True):
            # The access log is on by default; the second server shows what it costs.
            env = {"OPENKMS_LOG_LEVEL": "warning"} if quiet else {}
            with harness.openkms(args.workers, env) as server:
                lines = _openkms_lines(server, args.others and not quiet)
                warm_up(server, lines["Encrypt V1"][0])
                for c in levels:
                    for case, (line, rate) in lines.items():
                        if not quiet or case == "Encrypt V1":
                            run(server, f"openkms {case} c{c}{' no log' if quiet else ''}", line, c, rate)
        port = harness.free_port()
        moto_argv = harness.uvicorn_argv("moto_app:app", port, args.workers, interface="wsgi")
        with harness.serve("moto", moto_argv, port, "/moto-api/") as server:
            warm_up(server, partial(moto_line))
            for c in levels:
                run(server, f"moto Encrypt c{c}", partial(moto_line), c, 4000)
    _table(runs, levels, args)


def _table(runs: dict[str, list[Result]], levels: list[int], args: argparse.Namespace) -> None:
    print(f"\nmedian of {args.rounds} rounds, {args.seconds:.0f} s each, workers={args.workers}, wrk 1 thread")
    print(f"ratio: server CPU per request over the minimal endpoint's (target for Encrypt <= {CPU_TARGET}x), ")
    print(f"throughput over moto's (target >= {MOTO_TARGET}x)")
    rows = []
    for c in levels:
        minimal, moto = harness.median(runs[f"minimal endpoint c{c}"]), harness.median(runs[f"moto Encrypt c{c}"])
        rows.append((minimal, "ceiling"))
        for label in [k for k in runs if k.startswith("openkms ") and k.endswith((f" c{c}", f" c{c} no log"))]:
            ours = harness.median(runs[label])
            cpu = ours.cpu_us / minimal.cpu_us
            verdict = ""
            if " Encrypt " in label and not label.endswith("no log"):
                verdict = "  met" if cpu <= CPU_TARGET and ours.rps / moto.rps >= MOTO_TARGET else "  MISSED"
            rows.append((ours, f"CPU {cpu:.2f}x minimal, {ours.rps / moto.rps:.1f}x moto{verdict}"))
        rows.append((moto, ""))
    harness.table(rows)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
