"""What every HTTP benchmark here shares: starting a server under uvicorn, pre-signing requests,
driving them with wrk, and reading the server's CPU time from /proc.

wrk (Debian's package) is the load generator: one C thread that replays requests the harness
signed beforehand, so the client's cost per request is a few microseconds and signing never
competes with the server inside the measured window.
"""

from __future__ import annotations

import argparse
import base64
import functools
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlencode

import httpx

from openkms.protocol import signing

HERE = Path(__file__).resolve().parent
AK_ID = "LTAIbenchmark0000000001"
AK_SECRET = "benchmarkSecret0000000000000001"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- servers -------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    tls_port: int = 0  # openkms's HTTPS listener

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_port == self.port else 'http'}://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        return f"https://127.0.0.1:{self.tls_port}"

    def over_tls(self) -> Server:
        """The same server, driven through its HTTPS listener (wrk does not verify certificates)."""
        return replace(self, port=self.tls_port)

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process and all its descendants (the uvicorn workers)."""
        return sum(_proc_cpu(pid) for pid in _tree(self.process.pid))

    def rss_bytes(self) -> int:
        """Resident memory of the server process and all its descendants (VmRSS of each)."""
        return sum(_proc_rss(pid) for pid in _tree(self.process.pid))


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def _proc_rss(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else 0


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode} before it was ready")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} not ready after {timeout}s")


@contextmanager
def serve(
    name: str, argv: list[str], port: int, ready_path: str = "/", env: Mapping[str, str] | None = None
) -> Iterator[Server]:
    process = subprocess.Popen(
        argv, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}{ready_path}", process)
        yield Server(name, process, port)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def openkms(workers: int, extra_env: Mapping[str, str] | None = None, config: str | None = None) -> Iterator[Server]:
    """``openkms serve`` on a fresh data directory, with a known administrator AccessKey."""
    port, tls_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="openkms-bench-") as data_dir:
        argv = [sys.executable, "-m", "openkms.cli.main", "serve", "--port", str(port), "--workers", str(workers)]
        argv += ["--tls-port", str(tls_port)]
        argv += ["--data-dir", data_dir]
        if config is not None:
            path = Path(data_dir) / "openkms.toml"
            path.write_text(config)
            argv += ["--config", str(path)]
        env = {
            "OPENKMS_ADMIN_ACCESS_KEY_ID": AK_ID,
            "OPENKMS_ADMIN_ACCESS_KEY_SECRET": AK_SECRET,
            "OPENKMS_ROOT_KEY": base64.b64encode(os.urandom(32)).decode(),
            **(extra_env or {}),
        }
        with serve("openkms", argv, port, "/healthz", env) as server:
            yield replace(server, tls_port=tls_port)


def uvicorn_argv(app: str, port: int, workers: int, factory: bool = False, interface: str = "asgi3") -> list[str]:
    """The same uvicorn that ``openkms serve`` runs (uvloop, httptools), no access log."""
    argv = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--workers", str(workers)]
    argv += ["--no-access-log", "--log-level", "warning", "--interface", interface, "--app-dir", str(HERE)]
    return argv + (["--factory"] if factory else [])


# --- signed requests -----------------------------------------------------------------------------


def _timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@functools.cache
def _client() -> httpx.Client:
    # One client for all set-up calls: a new httpx client costs milliseconds (it loads the CA
    # bundle), more than a call.
    return httpx.Client(timeout=60)


def call(url: str, action: str, _version: str = "2016-01-20", **params: str) -> dict[str, object]:
    """One signed V1 call, for setting up (CreateKey and the like; RAM calls with ``_version``)."""
    response = _client().get(url, params=v1_params(action, params, version=_version))
    body: dict[str, object] = response.json()
    if response.status_code != 200:
        raise RuntimeError(f"{action} failed: {body}")
    return body


def v1_params(
    action: str,
    params: Mapping[str, str],
    access_key: tuple[str, str] = (AK_ID, AK_SECRET),
    version: str = "2016-01-20",
) -> dict[str, str]:
    ak_id, ak_secret = access_key
    p = {
        "Action": action,
        "Version": version,
        "Format": "JSON",
        "AccessKeyId": ak_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": uuid.uuid4().hex,
        "Timestamp": _timestamp(),
        **params,
    }
    p["Signature"] = signing.v1_signature(ak_secret, signing.v1_string_to_sign("GET", p))
    return p


def v1_line(action: str, params: Mapping[str, str], access_key: tuple[str, str] = (AK_ID, AK_SECRET)) -> str:
    """A signed GET, as the SDKs of the first generation send it."""
    return f"GET\t/?{urlencode(v1_params(action, params, access_key))}\t\t"


def v3_line(action: str, params: Mapping[str, str], host: str) -> str:
    """A signed ACS3-HMAC-SHA256 POST with a form body, as the current SDK sends it by default."""
    body = urlencode(params)
    payload_hash = signing.hash_hex("ACS3-HMAC-SHA256", body.encode())
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": "2016-01-20",
        "x-acs-date": _timestamp(),
        "x-acs-signature-nonce": uuid.uuid4().hex,
        "x-acs-content-sha256": payload_hash,
        "content-type": "application/x-www-form-urlencoded",
    }
    signed = sorted(headers)
    canonical = signing.v3_canonical_request(
        "POST", "/", [], {k: [v] for k, v in headers.items()}, signed, payload_hash
    )
    signature = signing.v3_signature(
        "ACS3-HMAC-SHA256", AK_SECRET, signing.v3_string_to_sign("ACS3-HMAC-SHA256", canonical)
    )
    headers["authorization"] = signing.v3_authorization("ACS3-HMAC-SHA256", AK_ID, signed, signature)
    del headers["host"]  # wrk sends its own Host header, the same value
    flat = "\1".join(f"{k}\1{v}" for k, v in headers.items())
    return f"POST\t/\t{flat}\t{body}"


def plain_line(method: str, path: str, headers: Mapping[str, str], body: str) -> str:
    flat = "\1".join(f"{k}\1{v}" for k, v in headers.items())
    return f"{method}\t{path}\t{flat}\t{body}"


# --- load ----------------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failed: int
    cpu_us: float  # server CPU time per request

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


_RESULT = re.compile(r"RESULT requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+) non2xx=(\d+) errors=(\d+)")


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    return wrk


def drive(
    server: Server,
    label: str,
    make_line: Callable[[], str],
    concurrency: int,
    seconds: float,
    expected_rate: float,
    wrk_threads: int = 1,
    alongside: Callable[[], object] | None = None,
) -> Result:
    """Replays ``expected_rate * seconds * 1.5`` distinct requests with wrk at ``concurrency``.

    The pool is sized above the rate the server can reach, so no request is sent twice; a
    request wrapped around would be refused as a replay and counted in ``failed``. ``alongside``
    runs once wrk has started (signing the pool first can take seconds), e.g. a profiler.
    """
    wrk = require_wrk()
    count = max(int(expected_rate * seconds * 1.5), 1000)
    with tempfile.NamedTemporaryFile("w", prefix="openkms-bench-", suffix=".requests", delete=False) as f:
        for _ in range(count):
            f.write(make_line())
            f.write("\n")
        path = f.name
    try:
        cpu_before = server.cpu_seconds()
        argv = [wrk, "-t", str(wrk_threads), "-c", str(concurrency), "-d", f"{round(seconds)}s", "--latency"]
        argv += ["-s", str(HERE / "cycle.lua"), server.url, "--", path, str(wrk_threads)]
        with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as load:
            if alongside is not None:
                alongside()
            out, _ = load.communicate()
        if load.returncode != 0:
            raise subprocess.CalledProcessError(load.returncode, argv, out)
        cpu = server.cpu_seconds() - cpu_before
    finally:
        os.unlink(path)
    match = _RESULT.search(out)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    requests, duration_us, p50, p99, non2xx, errs = (int(g) for g in match.groups())
    return Result(label, requests, duration_us / 1e6, p50 / 1e3, p99 / 1e3, non2xx + errs, 1e6 * cpu / max(requests, 1))


def median(results: list[Result]) -> Result:
    """The run with the median throughput (its own latencies and CPU go with it)."""
    ordered = sorted(results, key=lambda r: r.rps)
    return ordered[len(ordered) // 2]


def table(rows: list[tuple[Result, str]]) -> None:
    print(f"{'case':44} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10} {'failed':>6}  ratio")
    for r, ratio in rows:
        print(f"{r.label:44} {r.rps:>8.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {r.cpu_us:>10.0f} {r.failed:>6}  {ratio}")


# --- in-process baselines ------------------------------------------------------------------------


def _count_for(work: Callable[[], Callable[[], object]], seconds: float, start_at: float) -> tuple[int, float]:
    """Runs in a child process: builds its operation, waits for the common start, loops."""
    operation = work()
    operation()  # warm: key loaded, session open
    while time.time() < start_at:
        time.sleep(0.001)
    cpu = time.process_time()
    deadline, count = start_at + seconds, 0
    while time.time() < deadline:
        operation()
        count += 1
    return count, time.process_time() - cpu


def in_process(work: Callable[[], Callable[[], object]], processes: int, seconds: float) -> tuple[float, float]:
    """(operations per second, CPU microseconds per operation) of ``processes`` processes, each
    running the operation ``work()`` builds, for the same ``seconds`` of wall time. ``work`` must
    be picklable (a module-level function or a functools.partial of one)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # a clean process, as a server worker is
    with ctx.Pool(processes) as pool:
        start_at = time.time() + 3.0  # time for the children to start and build their keys
        results = pool.starmap(_count_for, [(work, seconds, start_at)] * processes)
    count = sum(c for c, _ in results)
    cpu = sum(t for _, t in results)
    return count / seconds, 1e6 * cpu / max(count, 1)


def versus_arguments(doc: str | None) -> argparse.Namespace:
    """The options of an HTTP-against-in-process benchmark."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="server workers = in-process processes")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    return parser.parse_args()


def version_of(url: str, key_id: str) -> str:
    versions = call(url, "ListKeyVersions", KeyId=key_id)["KeyVersions"]["KeyVersion"]  # type: ignore[index]
    return str(versions[0]["KeyVersionId"])  # type: ignore[index]


def versus_in_process(
    rows: list[tuple[str, list[tuple[float, float]], list[Result]]], target: float, rounds: int, seconds: float
) -> None:
    """The table of HTTP against in-process. ``rows``: per operation, one (rate, CPU us per op)
    in-process and one HTTP Result per round, in round order. Prints the medians of each side,
    the ratio of those medians, the median of the rounds' own ratios (each round's two sides ran
    back to back, so a noisy neighbour weighs on both), and the CPU ratio: in-process CPU per op
    over server CPU per request, the share of the server's work that is the operation itself,
    which is what bounds the throughput ratio and barely moves with the machine's load."""
    print(f"\nmedian of {rounds} rounds, {seconds:.0f} s each")
    width = max(len(label) for label, _, _ in rows)
    head = f"{'operation':{width}} {'in-proc/s':>9} {'CPU us':>6} {'HTTP/s':>7} {'CPU us':>6}"
    print(f"{head} {'p50 ms':>6} {'p99 ms':>6} {'ratio':>5} {'rounds':>6} {'CPU':>5}  target {target:.2f}")
    for label, baseline, results in rows:
        rate = statistics.median(r for r, _ in baseline)
        cpu = statistics.median(c for _, c in baseline)
        h = median(results)
        ratio = h.rps / rate
        per_round = statistics.median(r.rps / b for (b, _), r in zip(baseline, results, strict=True))
        cpu_ratio = cpu / statistics.median(r.cpu_us for r in results)
        verdict = "met" if min(ratio, per_round) >= target else "MISSED"
        print(
            f"{label:{width}} {rate:>9.0f} {cpu:>6.0f} {h.rps:>7.0f} {h.cpu_us:>6.0f} {h.p50_ms:>6.2f} {h.p99_ms:>6.2f}"
            f" {ratio:>5.2f} {per_round:>6.2f} {cpu_ratio:>5.2f}  {verdict} (failed {h.failed})"
        )
