"""Rotation interval syntax, bounds, the normalised wire form, and the reported status."""

from __future__ import annotations

import pytest

from openkms.domain import errors, rotation
from openkms.domain.rotation import DAY, RotationStatus
from openkms.domain.states import KeyState


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("7d", 7 * DAY),
        ("30d", 30 * DAY),
        ("90d", 90 * DAY),
        ("180d", 180 * DAY),
        ("365d", 365 * DAY),
        ("730d", 730 * DAY),
        ("168h", 7 * DAY),
        ("10080m", 7 * DAY),
        ("604800s", 7 * DAY),
        ("63072000s", 730 * DAY),
        (" 30d ", 30 * DAY),  # surrounding blanks are tolerated
    ],
)
def test_parse_interval(text: str, seconds: int) -> None:
    assert rotation.parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "d", "30D", "30 d", "-7d", "7.5d", "30w", "1e6s", "30dd", "٣٠d"])
def test_parse_interval_refuses_bad_syntax(text: str) -> None:
    with pytest.raises(errors.InvalidParameter) as err:
        rotation.parse_interval(text)
    assert err.value.name == "RotationInterval"


@pytest.mark.parametrize("text", ["6d", "3d", "604799s", "731d", "63072001s", "0s", "999999999999d"])
def test_parse_interval_refuses_out_of_range(text: str) -> None:
    with pytest.raises(errors.InvalidParameter, match="7 days to 730 days"):
        rotation.parse_interval(text)


def test_the_parameter_name_is_reported() -> None:
    with pytest.raises(errors.InvalidParameter) as err:
        rotation.parse_interval("3d", "Interval")
    assert err.value.name == "Interval"


def test_presets_are_in_range() -> None:
    for days in rotation.PRESET_DAYS:
        rotation.check_interval(days * DAY)
    assert rotation.PRESET_DAYS == (30, 90, 180, 365)


def test_format_is_seconds_with_s_and_round_trips() -> None:
    assert rotation.format_interval(7 * DAY) == "604800s"
    for text in ("7d", "168h", "30d", "730d"):
        seconds = rotation.parse_interval(text)
        assert rotation.parse_interval(rotation.format_interval(seconds)) == seconds


@pytest.mark.parametrize(
    ("enabled", "state", "expected"),
    [
        (False, KeyState.ENABLED, RotationStatus.DISABLED),
        (False, KeyState.DISABLED, RotationStatus.DISABLED),
        (False, KeyState.PENDING_DELETION, RotationStatus.DISABLED),
        (True, KeyState.ENABLED, RotationStatus.ENABLED),
        (True, KeyState.DISABLED, RotationStatus.SUSPENDED),
        (True, KeyState.PENDING_DELETION, RotationStatus.SUSPENDED),
    ],
)
def test_status(enabled: bool, state: KeyState, expected: RotationStatus) -> None:
    assert rotation.status(enabled, state) is expected


def test_status_spellings() -> None:
    assert [s.value for s in RotationStatus] == ["Enabled", "Disabled", "Suspended"]


@pytest.mark.parametrize("text", ["+7d", "-7d", "7 d", "٣٠d", "²d", "1e3d", "7", "d", "", "7x", "1_000s", "3０d"])
def test_the_number_in_an_interval_is_ascii_digits_only(text: str) -> None:
    with pytest.raises(errors.InvalidParameter) as err:
        rotation.parse_interval(text)
    assert err.value.reason.startswith("Use <number><d|h|m|s>")
