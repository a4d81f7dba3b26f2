"""The access log holds one line per request, and nothing a caller can shape into more lines."""

from __future__ import annotations

import logging

import pytest

from tests.inproc import Inproc


def test_an_unknown_action_cannot_forge_log_lines(rt: Inproc, caplog: pytest.LogCaptureFixture) -> None:
    forged = "Nope\n2024-01-01 00:00:00 INFO openkms.access FORGED 200"
    with caplog.at_level(logging.INFO, logger="openkms.access"):
        resp = rt.request(forged)
    assert resp.status == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "openkms.access"]
    assert len(lines) == 1
    assert "\n" not in lines[0]
    assert "FORGED" not in lines[0]


def test_a_known_action_is_logged_by_name(rt: Inproc, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="openkms.access"):
        assert rt.request("DescribeRegions").status == 200
    (line,) = [r.getMessage() for r in caplog.records if r.name == "openkms.access"]
    assert " DescribeRegions 200 " in line
