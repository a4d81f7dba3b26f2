"""Nonce claims batched on the event loop (storage/pg_claims.py), as a request's handler makes them
from its greenlet (openkms/offload.py): the same answers as one statement per claim."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine

from openkms.domain import errors
from openkms.offload import in_greenlet
from openkms.storage import pg_claims
from openkms.storage.pg_nonces import PostgresNonceCache
from tests.loops import run_loop
from tests.stores import POSTGRES_ENV, POSTGRES_URL, run_sql

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason=f"{POSTGRES_ENV} is not set: no PostgreSQL server to test")

T0 = 1_700_000_000.0
WINDOW = 1800.0


@pytest.fixture
def cache(pg_url: str) -> Iterator[PostgresNonceCache]:
    made = PostgresNonceCache.from_url(pg_url, window=WINDOW)
    yield made
    made.close()


async def _claims(cache: PostgresNonceCache, nonces: list[str], now: float = T0) -> list[bool]:
    """Each nonce claimed by a handler of its own, all at once on this loop."""
    return list(await asyncio.gather(*(in_greenlet(cache.claim, nonce, now) for nonce in nonces)))


def test_concurrent_claims_go_as_one_statement_and_a_nonce_twice_in_it_has_one_winner(
    pg_url: str, cache: PostgresNonceCache
) -> None:
    nonces = [f"ak:n{i}" for i in range(12)] + ["ak:twice", "ak:n3", "ak:twice"]
    won = run_loop(_claims(cache, nonces))
    assert won[:12] == [True] * 12
    assert won[12:] == [True, False, False]  # the first claim of "ak:twice" wins; n3 was claimed
    # One transaction wrote every row: they share its id (xmin).
    assert run_sql(pg_url, "SELECT count(*), count(DISTINCT xmin::text) FROM nonce_claims") == [(13, 1)]
    assert run_loop(_claims(cache, ["ak:n0", "ak:new"], T0 + 5)) == [False, True]


def test_batched_and_single_claims_refuse_each_other(pg_url: str, cache: PostgresNonceCache) -> None:
    """A handler's claim (batched) and a thread's (one statement) share the table."""
    assert run_loop(_claims(cache, ["ak:batched"])) == [True]
    other = PostgresNonceCache.from_url(pg_url, window=WINDOW)
    assert other.claim("ak:batched", T0 + 1) is False
    assert other.claim("ak:single", T0) is True
    other.close()
    assert run_loop(_claims(cache, ["ak:single", "ak:batched"], T0 + 2)) == [False, False]


def test_a_claim_is_free_again_after_the_window(cache: PostgresNonceCache) -> None:
    assert run_loop(_claims(cache, ["ak:w"])) == [True]
    assert run_loop(_claims(cache, ["ak:w"], T0 + WINDOW)) == [False]  # the window's last moment
    assert run_loop(_claims(cache, ["ak:w"], T0 + WINDOW + 0.5)) == [True]


def test_the_change_counter_read_by_the_batch_is_handed_on(cache: PostgresNonceCache, pg_url: str) -> None:
    seen: list[int] = []
    cache.on_changes = seen.append
    run_loop(_claims(cache, ["ak:c1", "ak:c2"]))
    raise_to_41 = "INSERT INTO store_changes (id, counter) VALUES (1, 41) ON CONFLICT (id) DO UPDATE SET counter = 41"
    run_sql(pg_url, raise_to_41)
    run_loop(_claims(cache, ["ak:c3"]))
    assert seen == [0, 0, 41]


def test_a_claim_after_its_connection_was_killed_is_sent_again_on_a_new_one(
    pg_url: str, cache: PostgresNonceCache
) -> None:
    async def scenario() -> tuple[list[bool], list[bool]]:
        first = await _claims(cache, ["ak:before"])
        (batcher,) = cache._batchers.values()
        assert batcher._conn is not None
        pid = batcher._conn.info.backend_pid
        assert run_sql(pg_url, f"SELECT pg_terminate_backend({pid})") == [(True,)]
        return first, await _claims(cache, ["ak:after", "ak:before"])

    assert run_loop(scenario()) == ([True], [True, False])


def test_an_unreachable_database_is_backend_unavailable_for_every_claim_of_the_batch() -> None:
    cache = PostgresNonceCache.from_url("postgresql+psycopg://nobody@127.0.0.1:1/none", window=WINDOW)

    async def scenario() -> list[BaseException | bool]:
        calls = (in_greenlet(cache.claim, f"ak:{i}", T0) for i in range(3))
        return list(await asyncio.gather(*calls, return_exceptions=True))

    for outcome in run_loop(scenario()):
        assert isinstance(outcome, errors.BackendUnavailable)
        assert outcome.message.endswith("The replay-protection store is not available.")
    cache.close()


def test_the_floor_is_raised_and_read_on_the_loops_connection(pg_url: str) -> None:
    """As test_pg_nonces' restart test, for a batcher's new connection: requests signed before the
    database server's start are refused."""
    PostgresNonceCache.from_url(pg_url, window=WINDOW).claim("ak:first", T0)  # records the server's start
    run_sql(pg_url, "UPDATE nonce_floor SET server_started = server_started - 3600")
    started = run_sql(pg_url, "SELECT extract(epoch FROM pg_postmaster_start_time())::float8")[0][0]
    assert isinstance(started, float)
    cache = PostgresNonceCache.from_url(pg_url, window=WINDOW)

    async def scenario() -> list[bool]:
        before = in_greenlet(cache.claim, "ak:signed-before", started + 10, started - 1)
        after = in_greenlet(cache.claim, "ak:signed-after", started + 10, started + 1)
        return list(await asyncio.gather(before, after))

    assert run_loop(scenario()) == [False, True]
    assert cache.floor == math.ceil(started)
    cache.close()


def test_the_batch_commits_without_waiting_for_the_disk_and_leaves_the_session_as_it_was(pg_url: str) -> None:
    """The batch statement, asked what synchronous_commit is while it runs (as test_pg_nonces asks
    the single claim); the connection keeps the server's setting afterwards."""
    probe = pg_claims._BATCH_CLAIM.replace(
        "RETURNING nonce)", "RETURNING current_setting('synchronous_commit') AS nonce)"
    )
    assert probe != pg_claims._BATCH_CLAIM
    params = {"claims": json.dumps([["ak:p1", 1, T0], ["ak:p2", 1, T0]]), "window": WINDOW}
    engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(probe, params)
            assert cur.fetchall() == [(["off", "off"], None)]
            cur.execute("SHOW synchronous_commit")
            assert cur.fetchall() == [("on",)]
    finally:
        raw.close()
        engine.dispose()


_OTHER_PROCESS = """
import asyncio, sys
from openkms.offload import in_greenlet
from openkms.storage.pg_nonces import PostgresNonceCache
cache = PostgresNonceCache.from_url(sys.argv[1], window=1800.0)
won = asyncio.run(in_greenlet(cache.claim, sys.argv[2], 1_700_000_000.0))
cache.close()
print("won" if won else "refused")
"""


def test_a_nonce_claimed_in_another_process_is_refused_here_and_the_reverse(
    pg_url: str, cache: PostgresNonceCache
) -> None:
    def other(nonce: str) -> str:
        run = subprocess.run(
            [sys.executable, "-c", _OTHER_PROCESS, pg_url, nonce], capture_output=True, text=True, check=True
        )
        return run.stdout.strip()

    assert other("ak:there") == "won"
    assert run_loop(_claims(cache, ["ak:there", "ak:here"])) == [False, True]
    assert other("ak:here") == "refused"
