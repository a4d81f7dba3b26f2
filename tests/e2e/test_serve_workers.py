"""``openkms serve --workers 2``: two processes share one port and one data directory.

Connections are pinned to a worker by holding them open and asking the kernel which process owns
the server side (``/proc``), so each test knows which worker answered.
"""

from __future__ import annotations

import base64
import http.client
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import raw
from tests.servers import ProcessServer, process_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessServer]:
    with process_server(tmp_path_factory.mktemp("workers") / "data", workers=2) as server:
        assert len(server.worker_pids()) == 2
        yield server


def test_both_workers_serve_the_same_keys(srv: ProcessServer) -> None:
    admin = srv.admin()
    ak, secret = admin["AccessKeyId"], admin["AccessKeySecret"]
    held = raw.connections_by_worker(srv, 1)
    try:
        (a,), (b,) = held.values()
        status, created = raw.post(a, raw.signed_body(ak, secret, "CreateKey", Description="made by worker A"))
        assert status == 200, created
        key_id = created["KeyMetadata"]["KeyId"]
        plaintext = base64.b64encode(b"across workers").decode()
        status, enc = raw.post(b, raw.signed_body(ak, secret, "Encrypt", KeyId=key_id, Plaintext=plaintext))
        assert status == 200, enc
        status, dec = raw.post(a, raw.signed_body(ak, secret, "Decrypt", CiphertextBlob=enc["CiphertextBlob"]))
        assert (status, dec["Plaintext"]) == (200, plaintext)
        status, _ = raw.post(b, raw.signed_body(ak, secret, "DisableKey", KeyId=key_id))
        assert status == 200
        status, err = raw.post(a, raw.signed_body(ak, secret, "Encrypt", KeyId=key_id, Plaintext=plaintext))
        assert (status, err["Code"]) == (409, "Rejected.Disabled")  # worker A sees worker B's write at once
    finally:
        raw.close_all(held)


def test_a_replayed_nonce_is_refused_by_every_worker(srv: ProcessServer) -> None:
    admin = srv.admin()
    body = raw.signed_body(admin["AccessKeyId"], admin["AccessKeySecret"], "DescribeRegions")
    held = raw.connections_by_worker(srv, 4)
    conns = [(pid, conn) for pid, cs in held.items() for conn in cs]
    results: dict[int, tuple[int, int, dict[str, Any]]] = {}
    start = threading.Barrier(len(conns))

    def replay(i: int, pid: int, conn: http.client.HTTPConnection) -> None:
        start.wait(10)
        status, data = raw.post(conn, body)
        results[i] = (pid, status, data)

    threads = [threading.Thread(target=replay, args=(i, pid, c)) for i, (pid, c) in enumerate(conns)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        raw.close_all(held)

    assert len(results) == len(conns) == 8
    accepted = [(pid, data) for pid, status, data in results.values() if status == 200]
    refused = [(pid, status, data["Code"]) for pid, status, data in results.values() if status != 200]
    assert len(accepted) == 1
    winner = accepted[0][0]
    assert {code for _, _, code in refused} == {"SignatureNonceUsed"}
    assert {status for _, status, _ in refused} == {400}
    assert any(pid != winner for pid, _, _ in refused)  # the other worker knew of the nonce too

    # Fresh connections later, wherever they land, are refused as well.
    for _ in range(6):
        status, data = raw.call(srv.endpoint, admin["AccessKeyId"], admin["AccessKeySecret"], "DescribeRegions")
        assert status == 200  # a new nonce each time
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        try:
            status, data = raw.post(conn, body)
        finally:
            conn.close()
        assert (status, data["Code"]) == (400, "SignatureNonceUsed")


def _lease_holder(data_dir: Path) -> tuple[str, int] | None:
    """The scheduler lease's holder (node/pid/...) and epoch, from the node's database."""
    with sqlite3.connect(data_dir / "openkms.sqlite3") as conn:
        row = conn.execute("SELECT holder, epoch FROM leases WHERE name = 'scheduler'").fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def test_the_scheduler_runs_in_exactly_one_worker(srv: ProcessServer) -> None:
    deadline = time.monotonic() + 10
    while (held := _lease_holder(srv.data_dir)) is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the first worker takes the lease as its lifespan starts
    assert held is not None
    node, pid, _ = held[0].split("/")
    assert node == (srv.data_dir / "node-id").read_text().strip()
    assert int(pid) in srv.worker_pids()
    assert held[1] == 1  # taken once, never changed hands
    assert srv.stderr().count("leads the background jobs") == 1  # one worker of the two
