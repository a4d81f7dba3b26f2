"""The replay-protection nonce cache shared by all workers of a node (storage/nonces.py)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from openkms.domain import errors
from openkms.storage import nonces
from openkms.storage.nonces import WINDOW_SECONDS, ProcessNonceCache, SqliteNonceCache

T0 = 1_700_000_000.0


def test_a_nonce_is_claimed_once(tmp_path: Path) -> None:
    cache = SqliteNonceCache(tmp_path / "nonces.sqlite3")
    assert cache.claim("ak:n1", T0) is True
    assert cache.claim("ak:n1", T0) is False
    assert cache.claim("ak:n1", T0 + 1) is False
    assert cache.claim("ak:n2", T0) is True


def test_the_window_is_fifteen_minutes() -> None:
    assert WINDOW_SECONDS == 15 * 60


def test_a_nonce_is_free_again_after_the_window(tmp_path: Path) -> None:
    cache = SqliteNonceCache(tmp_path / "nonces.sqlite3")
    assert cache.claim("n", T0)
    assert not cache.claim("n", T0 + WINDOW_SECONDS)  # the window's last moment still counts
    assert cache.claim("n", T0 + WINDOW_SECONDS + 0.001)
    # Claiming again restarts the window from the new claim.
    assert not cache.claim("n", T0 + WINDOW_SECONDS + 10)
    assert cache.claim("n", T0 + 2 * WINDOW_SECONDS + 1)


def test_two_instances_on_one_file_share_claims(tmp_path: Path) -> None:
    """Two worker processes of a node open the same file: a nonce used in one is used in both."""
    path = tmp_path / "nonces.sqlite3"
    worker_a, worker_b = SqliteNonceCache(path), SqliteNonceCache(path)
    assert worker_a.claim("ak:shared", T0)
    assert not worker_b.claim("ak:shared", T0 + 5)
    assert worker_b.claim("ak:other", T0)
    assert not worker_a.claim("ak:other", T0 + 5)
    assert worker_b.claim("ak:shared", T0 + WINDOW_SECONDS + 1)
    assert not worker_a.claim("ak:shared", T0 + WINDOW_SECONDS + 2)


def test_concurrent_claims_of_one_nonce_have_one_winner(tmp_path: Path) -> None:
    path = tmp_path / "nonces.sqlite3"
    caches = [SqliteNonceCache(path) for _ in range(4)]
    results: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def claim(cache: SqliteNonceCache) -> None:
        barrier.wait()
        got = cache.claim("ak:race", T0)
        with lock:
            results.append(got)

    threads = [threading.Thread(target=claim, args=(caches[i % 4],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_expired_nonces_are_purged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nonces, "_PURGE_EVERY", 4)
    path = tmp_path / "nonces.sqlite3"
    cache = SqliteNonceCache(path)
    for i in range(3):
        cache.claim(f"old{i}", T0)
    cache.claim("new", T0 + WINDOW_SECONDS + 1)  # the fourth claim purges
    with sqlite3.connect(path) as conn:
        assert [r[0] for r in conn.execute("SELECT nonce FROM nonces")] == ["new"]


def test_a_broken_store_is_backend_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "nonces.sqlite3"
    cache = SqliteNonceCache(path)
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE nonces")
    with pytest.raises(errors.BackendUnavailable) as err:
        cache.claim("n", T0)
    assert "replay-protection store is not available" in err.value.message


# --- one-process nodes: lookups in the file, claims written behind -----------------------------


def test_a_process_cache_claims_once_and_frees_after_the_window(tmp_path: Path) -> None:
    cache = ProcessNonceCache(tmp_path / "nonces.sqlite3")
    assert cache.claim("ak:n", T0)
    assert not cache.claim("ak:n", T0 + WINDOW_SECONDS)
    assert cache.claim("ak:n", T0 + WINDOW_SECONDS + 0.001)
    assert not cache.claim("ak:n", T0 + WINDOW_SECONDS + 10)
    cache.close()


def test_a_process_cache_refuses_nonces_already_written_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nonces, "_FLUSH_BATCH", 2)
    cache = ProcessNonceCache(tmp_path / "nonces.sqlite3")
    assert cache.claim("a", T0)
    assert cache.claim("b", T0)  # the batch is written: memory is empty again
    assert cache._pending == {}
    assert not cache.claim("a", T0 + 5)
    assert not cache.claim("b", T0 + 5)
    assert cache.claim("a", T0 + WINDOW_SECONDS + 1)


def test_a_restarted_process_still_refuses_replays(tmp_path: Path) -> None:
    """The batch in memory reaches the file at close, and the next process looks there."""
    path = tmp_path / "nonces.sqlite3"
    first = ProcessNonceCache(path)
    assert first.claim("ak:before-restart", T0)
    first.close()
    second = ProcessNonceCache(path)
    assert not second.claim("ak:before-restart", T0 + 60)
    assert second.claim("ak:fresh", T0 + 60)
    second.close()
    third = ProcessNonceCache(path)
    assert third.claim("ak:before-restart", T0 + WINDOW_SECONDS + 61)  # past the window


def test_a_process_cache_writes_behind_in_batches_and_purges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nonces, "_FLUSH_BATCH", 3)
    monkeypatch.setattr(nonces, "_FLUSH_SECONDS", 3600.0)
    path = tmp_path / "nonces.sqlite3"
    cache = ProcessNonceCache(path)

    def stored() -> list[str]:
        with sqlite3.connect(path) as conn:
            return sorted(r[0] for r in conn.execute("SELECT nonce FROM nonces"))

    cache.claim("a", T0)
    cache.claim("b", T0)
    assert stored() == []
    assert not cache.claim("b", T0 + 1)  # refused from memory, and not queued again
    cache.claim("c", T0)  # the third claim writes the batch
    assert stored() == ["a", "b", "c"]
    cache.claim("d", T0 + WINDOW_SECONDS + 5)
    cache.close()
    assert stored() == ["d"]  # expired nonces are purged when a batch is written


def test_memory_holds_at_most_one_batch(tmp_path: Path) -> None:
    cache = ProcessNonceCache(tmp_path / "nonces.sqlite3")
    for i in range(3 * nonces._FLUSH_BATCH + 7):
        assert cache.claim(f"n{i}", T0)
    assert len(cache._pending) < nonces._FLUSH_BATCH
    cache.close()


def test_a_failed_write_behind_does_not_fail_the_request(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "nonces.sqlite3"
    cache = ProcessNonceCache(path)
    with sqlite3.connect(path) as conn:  # a real write failure, while lookups still work
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON nonces BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    assert cache.claim("n", T0)
    cache.close()
    assert "could not persist 1 replay-protection nonces" in caplog.text
    assert not cache.claim("n", T0 + 1)  # the batch is kept in memory for the next write
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER refuse")
    cache.close()
    assert not ProcessNonceCache(path).claim("n", T0 + 2)


def test_a_broken_file_is_backend_unavailable_for_a_process_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A nonce the file may hold (here: one written to it) is looked up there."""
    monkeypatch.setattr(nonces, "_FLUSH_BATCH", 1)
    path = tmp_path / "nonces.sqlite3"
    cache = ProcessNonceCache(path)
    assert cache.claim("n", T0)
    assert cache._pending == {}
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE nonces")
    with pytest.raises(errors.BackendUnavailable):
        cache.claim("n", T0 + 1)


def test_a_fresh_nonce_is_not_looked_up_in_the_file(tmp_path: Path) -> None:
    """The filter answers for a nonce neither claimed nor in the file: the (broken) file is not read."""
    path = tmp_path / "nonces.sqlite3"
    cache = ProcessNonceCache(path)
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE nonces RENAME TO moved")
    assert all(cache.claim(f"fresh-{i}", T0) for i in range(100))


def test_the_nonces_in_the_file_at_the_start_are_refused(tmp_path: Path) -> None:
    """Written by a process before this one (another node's file copied in, an older run): the
    filter is filled from the file when the process starts."""
    path = tmp_path / "nonces.sqlite3"
    SqliteNonceCache(path).claim("ak:earlier", T0)
    cache = ProcessNonceCache(path)
    assert not cache.claim("ak:earlier", T0 + 60)
    assert cache.claim("ak:earlier", T0 + WINDOW_SECONDS + 1)
    cache.close()


def test_the_filter_finds_a_nonce_for_the_whole_window_whatever_its_generation() -> None:
    seen = nonces._Filter(window=100.0)
    seen.turn(T0)
    seen.add("early")
    seen.turn(T0 + 99)
    seen.add("late")  # the generation's last moment
    seen.turn(T0 + 100)  # a new generation: the earlier one is still asked
    assert seen.may_hold("early")
    assert seen.may_hold("late")
    seen.turn(T0 + 199)
    assert seen.may_hold("late")  # 100 seconds after it was added
    seen.turn(T0 + 200)
    assert not seen.may_hold("early")  # two generations on: gone (a false "maybe" is 1 in millions here)
    assert not seen.may_hold("never added")


def test_claims_are_refused_once_too_many_could_not_be_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that keeps refusing writes (a full disk) does not make memory grow without end:
    past the cap requests are refused, and nothing already claimed is forgotten."""
    monkeypatch.setattr(nonces, "_FLUSH_BATCH", 2)
    monkeypatch.setattr(nonces, "_MAX_PENDING", 4)
    path = tmp_path / "nonces.sqlite3"
    cache = ProcessNonceCache(path)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON nonces BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    for i in range(4):
        assert cache.claim(f"n{i}", T0)
    with pytest.raises(errors.BackendUnavailable):
        cache.claim("n4", T0)
    assert not cache.claim("n0", T0 + 1)  # still remembered
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER refuse")
    assert cache.claim("n4", T0 + 1)  # the file takes writes again: the backlog is written
    assert len(cache._pending) < 4


@pytest.mark.parametrize("cache_type", [SqliteNonceCache, ProcessNonceCache])
def test_a_thread_that_cannot_open_the_file_is_backend_unavailable(
    tmp_path: Path, cache_type: type[SqliteNonceCache | ProcessNonceCache]
) -> None:
    """Each thread opens its own connection at its first claim: a file that cannot be opened then is
    the same 503 as a claim that fails, not an unexpected error (a 500)."""
    path = tmp_path / "nonces.sqlite3"
    cache = cache_type(path)
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    path.mkdir()  # where the file was, something SQLite cannot open
    raised: list[BaseException] = []

    def claim() -> None:
        try:
            cache.claim("n", T0)
        except Exception as exc:
            raised.append(exc)

    thread = threading.Thread(target=claim)
    thread.start()
    thread.join()
    assert [type(exc) for exc in raised] == [errors.BackendUnavailable]


_OPEN_AND_END = """
import os, signal, sys, time
from pathlib import Path
from openkms.storage.nonces import ProcessNonceCache
cache = ProcessNonceCache(Path(sys.argv[1]))
assert cache.claim("ak:before", time.time(), time.time())
if sys.argv[2] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)  # the claim is still in memory, not written
cache.close()
"""


def _run_and_end(path: Path, how: str) -> int:
    return subprocess.run([sys.executable, "-c", _OPEN_AND_END, str(path), how], check=False).returncode


def test_after_a_process_died_with_claims_unwritten_requests_signed_before_the_restart_are_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "nonces.sqlite3"
    assert _run_and_end(path, "kill") == -9
    signed_before = time.time() - 1  # V1 timestamps are whole seconds; the restart takes longer than one
    restarted = ProcessNonceCache(path)
    assert restarted.floor == int(restarted.floor) >= int(signed_before)
    assert restarted.claim("ak:before", signed_before + 1, int(signed_before)) is False  # lost: refused as a replay
    assert restarted.claim("ak:new", restarted.floor + 1, restarted.floor) is True  # signed in the restart's second
    restarted.close()
    again = ProcessNonceCache(path)  # the restarted process closed cleanly: the floor is kept, not raised
    assert again.floor == restarted.floor
    again.close()


def test_after_a_clean_stop_there_is_no_floor(tmp_path: Path) -> None:
    path = tmp_path / "nonces.sqlite3"
    assert _run_and_end(path, "close") == 0
    cache = ProcessNonceCache(path)
    assert cache.floor == 0.0
    assert cache.claim("ak:before", T0, T0) is False  # written at close: refused by the file itself
    assert cache.claim("ak:other", T0, T0 - 60) is True
    cache.close()


def test_a_live_process_is_not_taken_for_a_dead_one(tmp_path: Path) -> None:
    path = tmp_path / "nonces.sqlite3"
    first = ProcessNonceCache(path)
    second = ProcessNonceCache(path)  # e.g. `openkms accesskey` beside a running server
    assert second.floor == 0.0
    second.close()
    first.close()
    assert list((tmp_path / "nonce-runs").iterdir()) == []
