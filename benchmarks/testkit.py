"""The test kit's costs (issue 16): how long a dev server takes to start, in a thread of the test
process and as a process; a reset with 100 keys; a suite of small tests with a reset before each
against the same suite without; what the control API adds to every request.

    python benchmarks/testkit.py [--rounds 5] [--tests 200] [--only seed]

A reset back to a seed of 100 keys (each with an alias, a tag and derived material) is measured
against a reset to empty on the same server, in the same run: as the client sees it (a signed
HTTP call) and as the server reports it (``ElapsedMs``, the reset alone).

Every figure is the median of ``--rounds`` (the suite: of one run each way, taking turns). The
first thread start of a process pays for importing the server; it is reported apart.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alibabacloud_kms20160120 import models


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def starts(rounds: int) -> None:
    started = time.perf_counter()
    from openkms.testing import OpenKms

    print(f"import openkms.testing: {(time.perf_counter() - started) * 1000:.0f} ms")
    first = time.perf_counter()
    with OpenKms():
        print(f"first thread start (imports the server): {(time.perf_counter() - first) * 1000:.0f} ms")
    for mode in ("thread", "process"):
        times = []
        for _ in range(rounds):
            kit = OpenKms(mode=mode)
            times.append(timed(kit.__enter__))
            kit.__exit__(None, None, None)
        print(f"{mode} start, later ones: median {statistics.median(times) * 1000:.0f} ms "
              f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})")  # fmt: skip


def reset_and_suite(rounds: int, tests: int) -> None:
    from openkms.testing import OpenKms

    with OpenKms() as kit:
        client = kit.client()
        resets = []
        for _ in range(rounds):
            for _ in range(100):
                client.create_key(models.CreateKeyRequest())
            resets.append(timed(kit.reset))
        print(f"reset with 100 keys: median {statistics.median(resets) * 1000:.1f} ms "
              f"(min {min(resets) * 1000:.1f}, max {max(resets) * 1000:.1f})")  # fmt: skip

        def small_test() -> None:
            key_id = client.create_key(models.CreateKeyRequest()).body.key_metadata.key_id
            client.encrypt(models.EncryptRequest(key_id=key_id, plaintext="aGVsbG8="))

        with_reset, without = [], []
        for _ in range(rounds):
            with_reset.append(timed(lambda: [(kit.reset(), small_test()) for _ in range(tests)]))
            without.append(timed(lambda: [small_test() for _ in range(tests)]))
        a, b = statistics.median(with_reset), statistics.median(without)
        print(f"{tests} small tests (CreateKey + Encrypt): with a reset before each {a:.2f} s, "
              f"without {b:.2f} s, ratio {a / b:.2f}")  # fmt: skip


def seed_with_keys(path: Path, keys: int) -> None:
    lines = ["version = 1", 'material_seed = "benchmark"']
    for i in range(keys):
        lines += ["", "[[keys]]", f'id = "key-bench-{i:04d}"', f'aliases = ["alias/bench-{i:04d}"]',
                  f'tags = {{ n = "{i}" }}', "  [[keys.versions]]", "  derive = true"]  # fmt: skip
    lines += ["", "[[secrets]]", 'name = "bench"', 'key = "key-bench-0000"', "  [[secrets.versions]]",
              '  id = "v1"', '  value = "x"', '  stages = ["ACSCurrent"]']  # fmt: skip
    path.write_text("\n".join(lines) + "\n")


def seeded_reset(rounds: int, keys: int = 100) -> None:
    import tempfile

    from openkms.testing import OpenKms

    seed = Path(tempfile.mkdtemp()) / "seed.toml"
    seed_with_keys(seed, keys)
    with OpenKms(seed=seed) as kit:
        client = kit.client()
        rows = []
        for to in ("empty", "seed"):
            seen, server = [], []
            for _ in range(rounds):
                for _ in range(5):  # a test's own changes, for the reset to undo
                    client.create_key(models.CreateKeyRequest())
                started = time.perf_counter()
                answer = kit.control.call("POST", "/reset", {"To": to})
                seen.append(time.perf_counter() - started)
                server.append(answer["ElapsedMs"] / 1000)
            rows.append((to, statistics.median(seen), statistics.median(server), max(server)))
        assert len(client.list_keys(models.ListKeysRequest(page_size=100)).body.keys.key) == min(keys, 100)
    print(f"{'reset to':<26}{'client ms (median)':>20}{'server ms (median)':>20}{'server ms (max)':>18}")
    for to, seen_s, server_s, worst in rows:
        label = f"seed of {keys} keys" if to == "seed" else "empty"
        print(f"{label:<26}{seen_s * 1000:>20.1f}{server_s * 1000:>20.1f}{worst * 1000:>18.1f}")
    print(f"ratio seed / empty (server): {rows[1][2] / rows[0][2]:.1f}")


def per_request(calls: int) -> None:
    """What the control API adds to every request in-process: the clock's refresh (a stat), an
    empty fault list, the request log's redacted entry."""
    import tempfile

    from openkms import bootstrap
    from openkms.settings import Settings

    cfg = Settings.load(env={}, data_dir=Path(tempfile.mkdtemp()), dev=True, rsa_pool_size=0)
    bootstrap.prepare(cfg)
    runtime = bootstrap.build(cfg)
    control = runtime.control
    assert control is not None
    params = {"Action": "Encrypt", "KeyId": "k", "Plaintext": "aGVsbG8=", "Signature": "x", "Version": "2016-01-20"}

    def one() -> None:
        control.clock.refresh()
        control.faults.pick("Encrypt", "account")
        control.requests.record(0.0, "id", "Encrypt", "LTAI", params, 200, "-", 1.0)

    each = min(timed(lambda: [one() for _ in range(calls)]) for _ in range(3)) / calls
    print(f"control API's cost per request (refresh + fault check + log entry): {each * 1e6:.1f} us")
    runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--only", choices=["seed"], help="only the reset to a seed of 100 keys")
    args = parser.parse_args()
    seeded_reset(args.rounds)
    if args.only == "seed":
        return
    starts(args.rounds)
    reset_and_suite(args.rounds, args.tests)
    per_request(20_000)


if __name__ == "__main__":
    main()
