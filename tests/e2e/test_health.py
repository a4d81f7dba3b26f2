"""GET /healthz: 200 while the node can serve requests, 503 naming what fails when it cannot.

Every request reads the database and claims its nonce in the node's nonce file, so the check
does both: a node whose nonce file refuses writes (a full disk) refuses every request, reads too,
and must not answer a cheerful 200.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import raw
from tests.e2e.expect import expect_wire, ok
from tests.e2e.signed import Signer
from tests.servers import inprocess_server, process_server

NONCE_STORE_DOWN = {"status": "unavailable", "failing": ["nonce-store"]}
REFUSE_INSERTS = "CREATE TRIGGER refuse BEFORE INSERT ON nonces BEGIN SELECT RAISE(ABORT, 'disk full'); END"


def nonce_file_sql(data_dir: Path, statement: str) -> None:
    with contextlib.closing(sqlite3.connect(data_dir / "nonces.sqlite3")) as conn:
        conn.execute(statement)
        conn.commit()


def test_the_health_check_fails_when_the_database_cannot_be_read(tmp_path: Path) -> None:
    """/healthz reads the schema: a database that cannot be read is 503, not a cheerful 200."""
    with inprocess_server(tmp_path / "data") as srv:
        assert httpx.get(f"{srv.base_url}/healthz").json() == {"status": "ok"}
        (tmp_path / "data" / "openkms.sqlite3").write_bytes(b"not a database " * 4096)
        response = httpx.get(f"{srv.base_url}/healthz")
        assert (response.status_code, response.json()) == (503, {"status": "unavailable", "failing": ["database"]})


@pytest.mark.parametrize("workers", [2, 1])
def test_the_health_check_fails_when_the_nonce_store_cannot_take_a_claim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """Several workers claim every nonce in the file; one worker writes claims behind and refuses
    requests once too many could not be written (a cap lowered here from 100,000)."""
    monkeypatch.setattr("openkms.storage.nonces._MAX_PENDING", 3)
    with inprocess_server(tmp_path / "data", workers=workers) as srv:
        signer = Signer(srv.base_url, srv.access_key_id, srv.secret)
        nonce_file_sql(srv.data_dir, REFUSE_INSERTS)
        for _ in range(4 if workers == 1 else 0):  # the one-worker backlog fills up first
            signer.v1("DescribeRegions").send()
        response = httpx.get(f"{srv.base_url}/healthz")
        assert (response.status_code, response.json()) == (503, NONCE_STORE_DOWN)
        body = expect_wire(signer.v1("DescribeRegions").send(), 503, "ServiceUnavailableTemporary")
        assert "replay-protection store is not available" in body["Message"]

        nonce_file_sql(srv.data_dir, "DROP TRIGGER refuse")
        assert httpx.get(f"{srv.base_url}/healthz").json() == {"status": "ok"}
        ok(signer.v1("DescribeRegions").send())


# --- a real full disk ---------------------------------------------------------------------------


@contextlib.contextmanager
def small_filesystem(path: Path, size: str = "16m") -> Iterator[Path]:
    """A tmpfs of ``size`` at ``path`` (root only), unmounted afterwards."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=True)


def fill(directory: Path) -> Path:
    """Writes a file until the filesystem has no space left."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    return filler


def get_health(conn: http.client.HTTPConnection) -> tuple[int, dict[str, Any]]:
    conn.request("GET", "/healthz")
    response = conn.getresponse()
    data: dict[str, Any] = json.loads(response.read())
    return response.status, data


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small filesystem needs root")
def test_a_full_disk_is_reported_by_every_worker(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "data") as data_dir, process_server(data_dir, workers=2) as srv:
        admin = srv.admin()
        ak, secret = admin["AccessKeyId"], admin["AccessKeySecret"]
        held = raw.connections_by_worker(srv, 1)
        try:
            filler = fill(data_dir)
            for (conn,) in held.values():
                assert get_health(conn) == (503, NONCE_STORE_DOWN)
                status, body = raw.post(conn, raw.signed_body(ak, secret, "DescribeRegions"))
                assert (status, body["Code"]) == (503, "ServiceUnavailableTemporary")
            filler.unlink()
            for (conn,) in held.values():
                assert get_health(conn) == (200, {"status": "ok"})
                status, body = raw.post(conn, raw.signed_body(ak, secret, "DescribeRegions"))
                assert status == 200, body
        finally:
            raw.close_all(held)
        assert srv.stop() == 0
