"""Automatic rotation rules: interval syntax and bounds, the reported status, the next date."""

from __future__ import annotations

import re
from enum import StrEnum

from openkms.domain import errors
from openkms.domain.states import KeyState

DAY = 86_400
MIN_INTERVAL = 7 * DAY
MAX_INTERVAL = 730 * DAY
# The console's presets (the seed's "Rotation Period"); any whole number of days 7-730 is accepted.
PRESET_DAYS = (30, 90, 180, 365)

_INTERVAL = re.compile(r"([0-9]{1,12})([dhms])")  # ASCII digits only; \d takes any Unicode digit
_UNIT = {"d": DAY, "h": 3_600, "m": 60, "s": 1}


class RotationStatus(StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    SUSPENDED = "Suspended"


def parse_interval(text: str, name: str = "RotationInterval") -> int:
    """``7d`` / ``168h`` / ``604800s`` -> seconds, within 7-730 days."""
    match = _INTERVAL.fullmatch(text.strip())
    if match is None:
        raise errors.InvalidParameter(name, "Use <number><d|h|m|s>, for example 30d or 604800s.")
    seconds = int(match.group(1)) * _UNIT[match.group(2)]
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
