"""What the metrics cost an Encrypt: two ``openkms serve`` (``--workers``) side by side, one with
``[metrics] enabled = false`` (nothing counted), one with the default metrics (prometheus-client in
multi-process mode: per request an in-flight gauge up and down, one counter and one histogram
observation on cached label children), driven by wrk with pre-signed V1 requests at concurrency 16.
The servers take turns within each round, in an order that alternates, so machine load hurts both
alike. Reports server CPU per request and throughput, and their ratios to metrics off.

On a busy machine the HTTP figures move more between rounds than the metrics cost, so a second
table measures the request pipeline in this process (``RpcHandler.handle``, the server's own code
for a signed Encrypt, no HTTP): the same handler with no metrics and with the prometheus-client
adapter in multi-process mode, taking turns in blocks, CPU time per request.

    python benchmarks/metrics_cost.py [--workers 1] [--seconds 10] [--rounds 3] [--in-process-only]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path
from urllib.parse import quote

# Before prometheus-client is first imported, as `openkms serve` does for its workers.
_METRICS_DIR = tempfile.TemporaryDirectory(prefix="openkms-bench-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _METRICS_DIR.name

import harness  # noqa: E402

from openkms import bootstrap  # noqa: E402
from openkms.domain.node_ports import NoMetrics, RequestMetrics  # noqa: E402
from openkms.metrics import prometheus  # noqa: E402
from openkms.protocol import signing  # noqa: E402
from openkms.protocol.app import RpcHandler  # noqa: E402
from openkms.settings import Settings  # noqa: E402

PLAINTEXT = base64.b64encode(os.urandom(32)).decode()
MODES = {"metrics off": "[metrics]\nenabled = false\n", "metrics on": "[metrics]\nenabled = true\n"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-process-only", action="store_true")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; workers={args.workers}", flush=True)
    if not args.in_process_only:
        over_http(args)
    in_process(args.rounds)


def over_http(args: argparse.Namespace) -> None:
    cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
    rps: dict[str, list[float]] = {mode: [] for mode in MODES}
    with contextlib.ExitStack() as stack:
        servers = {
            mode: stack.enter_context(harness.openkms(args.workers, config=config)) for mode, config in MODES.items()
        }
        lines = {}
        for mode, server in servers.items():
            key_id = str(harness.call(server.url, "CreateKey")["KeyMetadata"]["KeyId"])  # type: ignore[index]
            lines[mode] = partial(harness.v1_line, "Encrypt", {"KeyId": key_id, "Plaintext": PLAINTEXT})
            harness.drive(server, "warm-up", lines[mode], 16, 2, 14000)
        counted = harness._client().get(servers["metrics on"].url + "/metrics").text
        if "openkms_requests_total" not in counted:
            raise SystemExit("the server with metrics on serves no openkms_requests_total")
        for round_no in range(1, args.rounds + 1):
            order = list(MODES) if round_no % 2 else list(MODES)[::-1]
            for mode in order:
                r = harness.drive(servers[mode], mode, lines[mode], 16, args.seconds, 14000)
                if r.failed:
                    raise SystemExit(f"{mode}: {r.failed} requests failed")
                cpu[mode].append(r.cpu_us)
                rps[mode].append(r.rps)
                print(f"  round {round_no} {mode:12} {r.rps:8.0f} req/s  {r.cpu_us:5.0f} us CPU/req", flush=True)
    off_cpu, off_rps = statistics.median(cpu["metrics off"]), statistics.median(rps["metrics off"])
    print(f"\nEncrypt, {args.workers} worker(s), concurrency 16, median of {args.rounds} rounds")
    print(f"{'case':12} {'req/s':>8} {'req/s vs off':>13} {'CPU us/req':>11} {'CPU vs off':>11}  CPU ratio per round")
    for mode in MODES:
        mine_cpu, mine_rps = statistics.median(cpu[mode]), statistics.median(rps[mode])
        rounds = ", ".join(f"{c / o:.2f}" for c, o in zip(cpu[mode], cpu["metrics off"], strict=True))
        print(
            f"{mode:12} {mine_rps:>8.0f} {mine_rps / off_rps:>13.2f} {mine_cpu:>11.0f} {mine_cpu / off_cpu:>11.2f}"
            f"  {rounds}"
        )


BLOCK = 2000  # requests per turn
HEADERS = [(b"host", b"127.0.0.1"), (b"content-type", b"application/x-www-form-urlencoded")]


def _body(access_key: tuple[str, str], action: str, params: dict[str, str]) -> bytes:
    """A signed V1 form body with a nonce of its own, as the current SDK POSTs it."""
    p = harness.v1_params(action, params, access_key)
    del p["Signature"]  # v1_params signs a GET
    p["Signature"] = signing.v1_signature(access_key[1], signing.v1_string_to_sign("POST", p))
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in p.items()).encode()


def _turn(handler: RpcHandler, bodies: list[bytes]) -> float:
    """CPU microseconds per request for one block (bodies signed before the window)."""
    started = time.process_time()
    for body in bodies:
        resp = handler.handle("POST", "/", b"", HEADERS, body, "127.0.0.1")
        if resp.status != 200:
            raise SystemExit(f"in-process Encrypt failed: {resp.body!r}")
    return (time.process_time() - started) / len(bodies) * 1e6


def in_process(rounds: int) -> None:
    metrics: dict[str, RequestMetrics] = {"metrics off": NoMetrics(), "metrics on": prometheus.PrometheusMetrics()}
    cpu: dict[str, list[float]] = {mode: [] for mode in metrics}
    with tempfile.TemporaryDirectory(prefix="openkms-bench-") as data_dir:
        cfg = Settings.load(env={}, data_dir=Path(data_dir), rsa_pool_size=0)
        bootstrap.prepare(cfg)
        runtime = bootstrap.build(cfg)
        try:
            issued = runtime.services.identity.create_access_key(new_account=True)
            ak = (issued.access_key.id, issued.secret)
            handlers = {
                mode: RpcHandler(runtime.services, runtime.nonces, runtime.auth_clock, metrics=m)
                for mode, m in metrics.items()
            }
            made = handlers["metrics off"].handle("POST", "/", b"", HEADERS, _body(ak, "CreateKey", {}), "127.0.0.1")
            key_id = json.loads(made.body)["KeyMetadata"]["KeyId"]
            encrypt = {"KeyId": key_id, "Plaintext": PLAINTEXT}
            for mode in metrics:
                _turn(handlers[mode], [_body(ak, "Encrypt", encrypt) for _ in range(500)])  # warm-up
            for turn in range(1, rounds * 5 + 1):
                for mode in list(metrics) if turn % 2 else list(metrics)[::-1]:
                    cpu[mode].append(_turn(handlers[mode], [_body(ak, "Encrypt", encrypt) for _ in range(BLOCK)]))
        finally:
            runtime.close()
    calls = _calls_alone()
    off = statistics.median(cpu["metrics off"])
    turns = len(cpu["metrics off"])
    print(f"\nEncrypt in-process (RpcHandler.handle, no HTTP), {BLOCK} requests a turn, median of {turns} turns")
    print(f"{'case':12} {'CPU us/req':>11} {'vs off':>7} {'metrics us/req':>15}")
    for mode in metrics:
        mine = statistics.median(cpu[mode])
        print(f"{mode:12} {mine:>11.1f} {mine / off:>7.3f} {mine - off:>15.1f}")
    print(
        f"the request path's metric calls alone (in-flight up and down, counter, histogram): {calls:.1f} us/req, "
        f"{calls / off:.3f} of Encrypt's in-process CPU"
    )


def _calls_alone(count: int = 200_000) -> float:
    """CPU microseconds of one request's metric calls, on the multi-process files."""
    m = prometheus.PrometheusMetrics()
    started = time.process_time()
    for _ in range(count):
        m.started()
        m.finished("Encrypt", "OK", 0.0004)
    return (time.process_time() - started) / count * 1e6


if __name__ == "__main__":
    main()
