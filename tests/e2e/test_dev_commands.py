"""``openkms dev``: the control API from the command line, against the plugin's dev server."""

from __future__ import annotations

import argparse
import json

import pytest

from openkms.cli.dev_control import duration
from openkms.cli.main import main
from openkms.testing import OpenKms
from tests.e2e.clients import Kms
from tests.e2e.expect import expect_error


def dev(capsys: pytest.CaptureFixture[str], kit: OpenKms, *args: str) -> dict[str, object]:
    assert main(["dev", "--endpoint", kit.endpoint, *args]) == 0
    answer: dict[str, object] = json.loads(capsys.readouterr().out)
    return answer


@pytest.mark.parametrize(("text", "seconds"), [("31d", 31 * 86_400), ("1d12h", 129_600), ("90s", 90), ("-2h", -7200)])
def test_durations(text: str, seconds: float) -> None:
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["31", "d", "1x", "1d 2h", ""])
def test_a_duration_without_its_unit_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        duration(text)


def test_clock_faults_reset_and_requests(openkms: OpenKms, capsys: pytest.CaptureFixture[str]) -> None:
    kms = Kms("new-v3", openkms.endpoint, openkms.access_key_id, openkms.access_key_secret)
    key_id = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    kms.call("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=30)
    moved = dev(capsys, openkms, "clock", "advance", "31d")
    assert moved["Scheduler"]["Purged"] == [key_id]  # type: ignore[index]
    assert dev(capsys, openkms, "clock")["OffsetSeconds"] == pytest.approx(31 * 86_400)
    dev(capsys, openkms, "fault", "add", "--action", "ListKeys", "--preset", "throttle", "--count", "1")
    assert dev(capsys, openkms, "fault", "list")["Faults"][0]["Count"] == 1  # type: ignore[index]
    expect_error(429, "Rejected.Throttling", kms, "ListKeys")
    assert [r["Action"] for r in dev(capsys, openkms, "requests", "--limit", "1")["Requests"]] == ["ListKeys"]  # type: ignore[attr-defined]
    dev(capsys, openkms, "reset")
    assert dev(capsys, openkms, "clock")["OffsetSeconds"] == 0.0


def test_a_refusal_is_one_line(openkms: OpenKms, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["dev", "--endpoint", openkms.endpoint, "fault", "add", "--action", "Encrypt"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "InvalidControl" in err
