"""protocol/verify.parse_timestamp, which keeps the texts it parsed: a refusal is never kept, and
each name gets its own message."""

from __future__ import annotations

import calendar

import pytest

from openkms.protocol.errors import IllegalTimestamp, TimestampFormat
from openkms.protocol.verify import parse_timestamp


def test_a_text_parses_to_the_same_second_every_time() -> None:
    expected = float(calendar.timegm((2026, 12, 3, 19, 20, 0, 0, 0, 0)))
    for _ in range(3):
        assert parse_timestamp("2026-12-03T19:20:00Z", "Timestamp") == expected
        assert parse_timestamp("2026-12-03T19:20:00.123Z", "x-acs-date") == expected


@pytest.mark.parametrize("text", ["2026-02-30T00:00:00Z", "2026-12-03 19:20:00", "tomorrow"])
def test_a_refused_text_is_refused_every_time_under_its_own_name(text: str) -> None:
    for name in ("Timestamp", "x-acs-date", "Timestamp"):
        with pytest.raises(TimestampFormat) as refused:
            parse_timestamp(text, name)
        expected = f'The specified parameter "{name}" is not valid: use YYYY-MM-DDThh:mm:ssZ (UTC).'
        assert refused.value.message == expected


def test_a_missing_text_is_refused_every_time() -> None:
    for value in (None, "", None):
        with pytest.raises(IllegalTimestamp):
            parse_timestamp(value, "Timestamp")
