"""Where a signed request's server CPU goes: py-spy on one ``openkms serve`` worker under wrk.

It starts ``openkms serve`` (one worker, default settings: access log and audit trail on),
creates the request's key, measures the server CPU per request with wrk and no profiler
attached, then drives the same load again while py-spy samples the worker. Each sample is
given to one component of the request path (the table below, in the order the rules are tried)
and the component's share of the samples, times the CPU per request measured without the
profiler, is its cost in microseconds. Sampling overhead and the profiler's stack errors make
the figures estimates (within a few microseconds); the shares add up to the measured total.

    python benchmarks/request_profile.py [--case encrypt-v1|encrypt-v3|get-secret-value] [--seconds 12]

Needs wrk and py-spy (``pip install py-spy``; it reads the worker's memory: run as root or with
ptrace allowed).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from functools import partial
from pathlib import Path

import harness
from nonce_cost import postgres_schema, postgres_url

PLAINTEXT = base64.b64encode(os.urandom(32)).decode()

# A sample belongs to the outermost frame that matches one of these (file part, function part)
# rules: the purpose of the work (an AccessKey lookup that reads the database is the lookup's
# cost). An empty function part matches any function of the file.
PURPOSES: list[tuple[str, tuple[tuple[str, str], ...]]] = [
    ("background: key pool filling", (("openkms/crypto/keypool.py", ""),)),
    ("audit trail", (("openkms/service/audit.py", "AuditRecorder.request"), ("openkms/audit/", ""))),
    (
        "access log and metrics",
        (
            ("openkms/protocol/app.py", "_log"),
            ("openkms/protocol/app.py", "report"),
            ("prometheus_client/", ""),
        ),
    ),
    ("quotas", (("openkms/service/quotas.py", ""), ("openkms/domain/quotas.py", ""))),
    ("AccessKey lookup", (("openkms/service/identity.py", "credential"),)),
    (
        "nonce claim",
        (
            ("openkms/protocol/verify.py", "_finish"),
            ("openkms/storage/nonces.py", ""),
            ("openkms/storage/pg_claims.py", ""),  # the batch, sent by a task of its own
        ),
    ),
    ("authorization (policies)", (("openkms/service/authorizer.py", ""), ("openkms/service/access.py", ""))),
    ("key + version lookup, state", (("openkms/service/resolve.py", ""),)),
    ("crypto (HKDF, AES-GCM, blob, base64)", (("openkms/service/crypto.py", "_seal"), ("openkms/crypto/", ""))),
    ("parameter parsing", (("openkms/protocol/request.py", ""), ("openkms/protocol/params.py", ""))),
    ("signature: canonical form + HMAC", (("openkms/protocol/signing.py", ""), ("hmac.py", ""))),
    (
        "timestamp, request id, region, JSON",
        (
            ("openkms/protocol/verify.py", "parse_timestamp"),
            ("uuid.py", ""),
            ("openkms/domain/regions.py", ""),
            ("openkms/protocol/render.py", ""),
            ("json/", ""),
        ),
    ),
]
# Samples no purpose claims, by their innermost matching frame.
FALLBACKS: list[tuple[str, tuple[str, ...]]] = [
    ("hand-off to a worker thread", ("anyio/", "threading.py", "queue.py", "concurrent/", "openkms/offload.py")),
    ("HTTP: uvicorn, limits, event loop, socket", ("uvicorn/", "openkms/cli/http_limits.py", "asyncio/", "uvloop")),
    ("handler glue (dispatch, handlers, dataclasses)", ("openkms/", "<string>", "contextlib.py")),
]
# A thread waiting, sampled all the same (py-spy cannot always tell): not CPU.
IDLE = {"Condition.wait", "Event.wait", "Queue.get", "sleep", "select", "Thread.join"}
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::\d+)?\)$")


def _component(stack: list[tuple[str, str]]) -> str:
    for function, file in stack:  # outermost first
        for name, rules in PURPOSES:
            if any(part in file and fn in function for part, fn in rules):
                return name
    for _function, file in reversed(stack):
        for name, parts in FALLBACKS:
            if any(part in file for part in parts):
                return name
    return "other (interpreter, GC, libraries)"


def components(raw: str) -> Counter[str]:
    """Samples per component from py-spy's raw (collapsed) output."""
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        if not line.strip():
            continue
        stack_text, _, count = line.rpartition(" ")
        if stack_text.rsplit(";", 1)[-1].split(" (")[0] in IDLE:
            continue
        stack = []
        for frame in stack_text.split(";"):
            match = _FRAME.match(frame.strip())
            if match:
                stack.append((match["function"], match["file"]))
        counts[_component(stack)] += int(count)
    return counts


def _line(server: harness.Server, case: str) -> partial[str]:
    url = server.url
    if case == "get-secret-value":
        harness.call(url, "CreateSecret", SecretName="bench/secret", VersionId="v1", SecretData="s3cr3t-value")
        return partial(harness.v1_line, "GetSecretValue", {"SecretName": "bench/secret"})
    key_id = str(harness.call(url, "CreateKey")["KeyMetadata"]["KeyId"])  # type: ignore[index]
    params = {"KeyId": key_id, "Plaintext": PLAINTEXT}
    if case == "encrypt-v3":
        return partial(harness.v3_line, "Encrypt", params, f"127.0.0.1:{server.port}")
    return partial(harness.v1_line, "Encrypt", params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=("encrypt-v1", "encrypt-v3", "get-secret-value"), default="encrypt-v1")
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--postgres", action="store_true", help="on OPENKMS_TEST_POSTGRES_URL (a fresh schema)")
    parser.add_argument("--keep", metavar="FILE", help="also write py-spy's raw samples here")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; case {args.case}", flush=True)
    with contextlib.ExitStack() as stack:
        env = {}
        if args.postgres:
            url, _ = stack.enter_context(postgres_schema(postgres_url(where="")))
            env["OPENKMS_DATABASE_URL"] = url
        server = stack.enter_context(harness.openkms(1, env))
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        line = _line(server, args.case)
        harness.drive(server, "warm-up", line, args.concurrency, 3, 14000)
        plain = harness.drive(server, "measure", line, args.concurrency, args.seconds, 14000)
        worker = harness._tree(server.process.pid)[-1]
        out = Path(tmp) / "raw.txt"
        argv = [py_spy, "record", "-p", str(worker), "-d", str(round(args.seconds)), "-r", "500", "-f", "raw"]
        # The worker is stopped for each sample: with --nonblocking, a stack read while Python
        # runs is often torn and dropped, while one read during a system call is not, so the
        # socket writes came out at twice their share. Only the thread holding the GIL: a thread
        # waiting in C for the database (PostgreSQL) is not spending CPU, though py-spy cannot
        # always tell it from one that is.
        argv += ["--gil", "-o", str(out)]
        # The load runs longer than the sampling: py-spy takes a moment to attach, and samples of
        # an idle server would dilute the shares.
        spy = partial(subprocess.run, argv, check=True, capture_output=True)
        harness.drive(server, "profiled", line, args.concurrency, args.seconds + 3, plain.rps * 1.3, alongside=spy)
        raw = out.read_text()
        if args.keep:
            Path(args.keep).write_text(raw)
        counts = components(raw)
    total = sum(counts.values())
    print(f"\n{plain.cpu_us:.0f} us server CPU per request without the profiler ({plain.rps:.0f} req/s, "
          f"c{args.concurrency}); {total} samples while profiled")  # fmt: skip
    print(f"{'component':48} {'share':>6} {'us/request':>10}")
    for name, count in counts.most_common():
        print(f"{name:48} {100 * count / total:5.1f}% {plain.cpu_us * count / total:10.0f}")


if __name__ == "__main__":
    main()
