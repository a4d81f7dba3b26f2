"""Replay protection shared by every node on one PostgreSQL database (storage/pg_nonces.py)."""

from __future__ import annotations

import logging
import math
import threading

import pytest
from sqlalchemy import create_engine

from openkms.domain import errors
from openkms.storage import pg_nonces
from openkms.storage.pg_nonces import BUCKET_SECONDS, PostgresNonceCache
from tests.stores import POSTGRES_ENV, POSTGRES_URL, run_sql

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason=f"{POSTGRES_ENV} is not set: no PostgreSQL server to test")

T0 = 1_700_000_000.0
WINDOW = 1800.0


def _cache(pg_url: str) -> PostgresNonceCache:
    return PostgresNonceCache.from_url(pg_url, window=WINDOW)


def test_a_nonce_is_claimed_once_and_free_again_after_the_window(pg_url: str) -> None:
    cache = _cache(pg_url)
    assert cache.claim("ak:n1", T0) is True
    assert cache.claim("ak:n1", T0 + 1) is False
    assert cache.claim("ak:n2", T0) is True
    assert cache.claim("ak:n1", T0 + WINDOW) is False  # the window's last moment still counts
    assert cache.claim("ak:n1", T0 + WINDOW + 0.5) is True
    assert cache.claim("ak:n1", T0 + WINDOW + 1) is False  # claimed again: the window starts again
    cache.close()


def test_two_nodes_share_their_claims(pg_url: str) -> None:
    node_a, node_b = _cache(pg_url), _cache(pg_url)
    assert node_a.claim("ak:shared", T0)
    assert not node_b.claim("ak:shared", T0 + 5)
    assert node_b.claim("ak:other", T0)
    assert not node_a.claim("ak:other", T0 + 5)
    node_a.close()
    node_b.close()


def test_concurrent_claims_of_one_nonce_have_one_winner(pg_url: str) -> None:
    caches = [_cache(pg_url) for _ in range(3)]
    barrier = threading.Barrier(9)
    results: list[bool] = []
    lock = threading.Lock()

    def claim(cache: PostgresNonceCache) -> None:
        barrier.wait()
        won = cache.claim("ak:raced", T0)
        with lock:
            results.append(won)

    threads = [threading.Thread(target=claim, args=(caches[i % 3],)) for i in range(9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 8 + [True]
    for cache in caches:
        cache.close()


def test_old_claims_are_dropped_a_bucket_at_a_time(pg_url: str) -> None:
    cache = _cache(pg_url)
    for n in range(5):
        assert cache.claim(f"ak:old-{n}", T0 + n)
    assert cache.claim("ak:recent", T0 + WINDOW)  # no whole bucket is past the window yet
    assert run_sql(pg_url, "SELECT count(*) FROM nonce_claims") == [(6,)]
    assert cache.claim("ak:later", T0 + WINDOW + 2 * BUCKET_SECONDS)
    assert run_sql(pg_url, "SELECT nonce FROM nonce_claims ORDER BY nonce") == [("ak:later",), ("ak:recent",)]
    cache.close()


def test_a_fresh_database_has_no_floor(pg_url: str) -> None:
    cache = _cache(pg_url)
    assert cache.claim("ak:first", T0, signed_at=T0)
    assert cache.floor == 0.0
    cache.close()


def test_after_the_database_server_restarted_requests_signed_before_its_start_are_refused(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A server crash loses the claims of its last moments (synchronous_commit = off): a node's
    next connection sees a start time other than the recorded one and raises the floor to it. The
    restart is simulated by recording another start time, as a real restart would leave it."""
    _cache(pg_url).claim("ak:before", T0)  # records the server's start
    run_sql(pg_url, "UPDATE nonce_floor SET server_started = server_started - 3600")
    started = run_sql(pg_url, "SELECT extract(epoch FROM pg_postmaster_start_time())::float8")[0][0]
    assert isinstance(started, float)
    with caplog.at_level(logging.WARNING, logger="openkms.nonces"):
        cache = _cache(pg_url)
        assert cache.claim("ak:signed-before", started + 10, signed_at=math.ceil(started) - 1) is False
    assert cache.floor == math.ceil(started)
    assert cache.claim("ak:signed-after", started + 10, signed_at=math.ceil(started)) is True
    assert "requests signed before" in caplog.text
    assert run_sql(pg_url, "SELECT signed_at FROM nonce_floor") == [(math.ceil(started),)]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="openkms.nonces"):
        again = _cache(pg_url)  # the same server start: the floor stays, no new warning
        assert again.claim("ak:third", started + 11, signed_at=math.ceil(started) - 1) is False
    assert "requests signed before" not in caplog.text
    cache.close()
    again.close()


def test_a_dropped_connection_is_replaced(pg_url: str) -> None:
    cache = PostgresNonceCache.from_url(pg_url, window=WINDOW, pool_size=1)
    assert cache.claim("ak:one", T0)
    raw = cache._engine.raw_connection()  # the pool's one idle connection: the one the claim used
    with raw.driver_connection.cursor() as cur:  # type: ignore[union-attr]
        cur.execute("SELECT pg_backend_pid()")
        (pid,) = cur.fetchone()
    raw.close()
    assert run_sql(pg_url, f"SELECT pg_terminate_backend({int(pid)})") == [(True,)]
    assert cache.claim("ak:two", T0)
    assert not cache.claim("ak:one", T0)
    cache.close()


def test_an_unreachable_database_is_backend_unavailable() -> None:
    cache = PostgresNonceCache.from_url("postgresql+psycopg://nobody@127.0.0.1:1/none", window=WINDOW)
    with pytest.raises(errors.BackendUnavailable) as err:
        cache.claim("ak:n", T0)
    assert err.value.message.endswith("The replay-protection store is not available.")
    cache.close()


def test_a_claim_commits_without_waiting_for_the_disk_and_leaves_the_session_as_it_was(pg_url: str) -> None:
    """The claim's own statement, asked what synchronous_commit is while it runs; the connection
    (which a pooler may hand to another client) keeps the server's setting afterwards."""
    engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    probe = pg_nonces._CLAIM.replace("RETURNING 1", "RETURNING current_setting('synchronous_commit') AS setting")
    probe = probe.replace("SELECT (SELECT count(*) FROM claimed)", "SELECT (SELECT min(setting) FROM claimed)")
    assert probe.count("setting) FROM claimed") == 1
    params = {"nonce": "ak:probe", "bucket": 1, "now": T0, "oldest": T0 - WINDOW}
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(probe, params)
            assert [row[0] for row in cur.fetchall()] == ["off"]
            cur.execute("SHOW synchronous_commit")
            assert cur.fetchall() == [("on",)]
    finally:
        raw.close()
        engine.dispose()
