"""Signed requests as raw bytes, for tests that control connections themselves: replaying one
request, holding connections open on a chosen worker, firing a burst before a signal.

The SDKs pool connections and sign each call afresh, so they cannot do these things; the
signature here is RPC V1 (HMAC-SHA1), which the SDK e2e tests prove the server verifies.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

from openkms.protocol import signing
from tests.servers import ProcessServer


def signed_body(access_key_id: str, secret: str, action: str, method: str = "POST", **params: str) -> bytes:
    """A signed V1 request as a form body (or, signed for GET, a query string)."""
    query = {
        "Action": action,
        "Version": "2016-01-20",
        "Format": "JSON",
        "AccessKeyId": access_key_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": uuid.uuid4().hex,
        "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **params,
    }
    query["Signature"] = signing.v1_signature(secret, signing.v1_string_to_sign(method, query))
    return urllib.parse.urlencode(query).encode()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def send(conn: http.client.HTTPConnection, body: bytes) -> None:
    conn.request("POST", "/", body=body, headers=FORM)


def receive(conn: http.client.HTTPConnection) -> tuple[int, dict[str, Any]]:
    response = conn.getresponse()
    data: dict[str, Any] = json.loads(response.read())
    return response.status, data


def post(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, dict[str, Any]]:
    send(conn, body)
    return receive(conn)


def call_body(srv: ProcessServer, body: bytes) -> tuple[int, dict[str, Any]]:
    """A signed body sent as it is (a replay, when sent again) on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        return post(conn, body)
    finally:
        conn.close()


def call(endpoint: str, access_key_id: str, secret: str, action: str, **params: str) -> tuple[int, dict[str, Any]]:
    """One signed call on a fresh connection."""
    host, port = endpoint.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        return post(conn, signed_body(access_key_id, secret, action, **params))
    finally:
        conn.close()


def _tcp_inode(server_port: int, client_port: int) -> int | None:
    """The inode of the server-side socket of the connection from ``client_port`` (IPv4, /proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return int(fields[9])
    return None


def owner_of(conn: http.client.HTTPConnection, server_port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` holds the server side of ``conn`` (an open, already answered connection)."""
    assert conn.sock is not None
    inode = _tcp_inode(server_port, conn.sock.getsockname()[1])
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if fd.readlink().as_posix() == target:
                    return pid
            except OSError:
                continue
    return None


def connections_by_worker(srv: ProcessServer, per_worker: int) -> dict[int, list[http.client.HTTPConnection]]:
    """Open connections until each worker holds ``per_worker`` of them (each already answered once)."""
    pids = srv.worker_pids()
    held: dict[int, list[http.client.HTTPConnection]] = {pid: [] for pid in pids}
    spare: list[http.client.HTTPConnection] = []
    for _ in range(200):
        if all(len(conns) >= per_worker for conns in held.values()):
            break
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        conn.request("GET", "/healthz")
        assert conn.getresponse().read() == b'{"status":"ok"}'
        owner = owner_of(conn, srv.port, pids)
        assert owner in held
        (held[owner] if len(held[owner]) < per_worker else spare).append(conn)
    for conn in spare:
        conn.close()
    assert all(len(conns) >= per_worker for conns in held.values()), {p: len(c) for p, c in held.items()}
    return held


def close_all(held: dict[int, list[http.client.HTTPConnection]]) -> None:
    for conns in held.values():
        for conn in conns:
            conn.close()
