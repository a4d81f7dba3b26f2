"""The replay-protection nonce cache shared by all workers of a node (storage/nonces.py)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from openkms.domain import errors
from openkms.storage import nonces
from openkms.storage.nonces import WINDOW_SECONDS, SqliteNonceCache

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
