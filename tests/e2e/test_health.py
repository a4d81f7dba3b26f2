"""GET /healthz: 200 once the server can read its database, 503 when it cannot."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.servers import inprocess_server


def test_the_health_check_fails_when_the_database_cannot_be_read(tmp_path: Path) -> None:
    """/healthz reads the schema: a database that cannot be read is 503, not a cheerful 200."""
    with inprocess_server(tmp_path / "data") as srv:
        assert httpx.get(f"{srv.base_url}/healthz").json() == {"status": "ok"}
        (tmp_path / "data" / "openkms.sqlite3").write_bytes(b"not a database " * 4096)
        response = httpx.get(f"{srv.base_url}/healthz")
        assert (response.status_code, response.json()) == (503, {"status": "unavailable"})
