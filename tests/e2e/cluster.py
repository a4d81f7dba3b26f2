"""Several ``openkms serve`` nodes on one PostgreSQL database: their common environment, a kill
that closes nothing, and a look at the database the nodes share."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from openkms.crypto.sealing import encode_root_key, new_root_key
from tests.servers import ProcessServer
from tests.stores import POSTGRES_ENV, POSTGRES_URL, database_url

ADMIN_ID = "LTAIclusternodes00001"
ADMIN_SECRET = "cluster-nodes-secret-0123456789"
needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason=f"{POSTGRES_ENV} is not set: no PostgreSQL server to test")


@contextmanager
def cluster_env(**settings: str) -> Iterator[dict[str, str]]:
    """The settings every node shares: one fresh database, one root key, one administrator."""
    with database_url("postgres") as url:
        assert url is not None
        yield {
            "OPENKMS_DATABASE_URL": url,
            "OPENKMS_ROOT_KEY": encode_root_key(new_root_key()),
            "OPENKMS_ADMIN_ACCESS_KEY_ID": ADMIN_ID,
            "OPENKMS_ADMIN_ACCESS_KEY_SECRET": ADMIN_SECRET,
            "OPENKMS_RSA_POOL_SIZE": "0",
            **settings,
        }


def kill_node(node: ProcessServer, workers: int = 2) -> None:
    """SIGKILL to the supervisor and to each worker: nothing of the node closes anything."""
    pids = node.worker_pids()
    assert len(pids) == workers
    node.proc.send_signal(signal.SIGKILL)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    node.proc.wait(10)


def query(env: dict[str, str], sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows from the nodes' database."""
    engine = create_engine(env["OPENKMS_DATABASE_URL"])
    try:
        with engine.begin() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()
