"""A request acknowledged just before ``kill -9`` cannot be replayed after the restart (one-worker
node, whose nonces are written behind): before the fix all of them were accepted again. A clean
stop needs no such rule, so requests signed before it are judged by their nonces alone."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.e2e import raw
from tests.servers import process_server


def _signed(admin: dict[str, str], n: int) -> list[bytes]:
    return [raw.signed_body(admin["AccessKeyId"], admin["AccessKeySecret"], "DescribeRegions") for _ in range(n)]


def test_requests_acknowledged_before_a_kill_are_not_accepted_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with process_server(data) as srv:
        admin = srv.admin()
        bodies = _signed(admin, 50)
        for body in bodies:
            status, answer = raw.call_body(srv, body)
            assert status == 200, answer
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(10)
    with process_server(data) as srv:
        replays = [raw.call_body(srv, body) for body in bodies]
        assert [(status, answer.get("Code")) for status, answer in replays] == [(400, "SignatureNonceUsed")] * 50
        status, answer = raw.call_body(srv, _signed(admin, 1)[0])  # signed after the restart
        assert status == 200, answer
        assert "refused as possible replays" in srv.stderr()


def test_after_a_clean_stop_only_the_nonces_decide(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with process_server(data) as srv:
        admin = srv.admin()
        used, unused = _signed(admin, 2)
        assert raw.call_body(srv, used)[0] == 200
    with process_server(data) as srv:  # stopped with SIGTERM: every nonce was written
        status, answer = raw.call_body(srv, used)
        assert (status, answer["Code"]) == (400, "SignatureNonceUsed")
        assert raw.call_body(srv, unused)[0] == 200  # signed before the restart, never sent: accepted
        assert "refused as possible replays" not in srv.stderr()
