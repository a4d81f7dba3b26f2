"""Automatic rotation rules: interval syntax and bounds, the reported status, the next date."""

from __future__ import annotations

from enum import StrEnum

from openkms.domain import errors, numbers
from openkms.domain.states import KeyState

DAY = 86_400
MIN_INTERVAL = 7 * DAY
MAX_INTERVAL = 730 * DAY
# The console's presets (the seed's "Rotation Period"); any whole number of days 7-730 is accepted.
PRESET_DAYS = (30, 90, 180, 365)

_MAX_INTERVAL_DIGITS = 12
_UNIT = {"d": DAY, "h": 3_600, "m": 60, "s": 1}


class RotationStatus(StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    SUSPENDED = "Suspended"


def parse_interval(text: str, name: str = "RotationInterval") -> int:
    """``7d`` / ``168h`` / ``604800s`` -> seconds, within 7-730 days."""
    stripped = text.strip()
    count = numbers.digits(stripped[:-1], _MAX_INTERVAL_DIGITS)  # no sign, no space before the unit
    unit = _UNIT.get(stripped[-1:])
    if count is None or unit is None:
        raise errors.InvalidParameter(name, "Use <number><d|h|m|s>, for example 30d or 604800s.")
    seconds = count * unit
    check_interval(seconds, name)
    return seconds


def check_interval(seconds: int, name: str = "RotationInterval") -> None:
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise errors.InvalidParameter(name, "The rotation interval must be from 7 days to 730 days.")


def format_interval(seconds: int) -> str:
    return f"{seconds}s"


def status(enabled: bool, state: KeyState) -> RotationStatus:
    if not enabled:
        return RotationStatus.DISABLED
    if state in (KeyState.DISABLED, KeyState.PENDING_DELETION):
        return RotationStatus.SUSPENDED
    return RotationStatus.ENABLED
