"""The trail's reader: every chain and segment, newest first or oldest first, filters, paging that
never repeats or skips an event, segments skipped by time, and cursors it did not issue refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from openkms.audit import files
from openkms.audit.reader import SLACK, TrailReader
from openkms.audit.trail import AuditTrail
from openkms.domain import errors
from openkms.domain.audit import KEY_RESOURCE, RAM_SOURCE, AuditEvent, EventRW, UserIdentity, event_time
from openkms.domain.audit_query import AuditQuery
from tests.unit.audit.conftest import START, TrailFactory, event


def _event(n: int, **fields: Any) -> AuditEvent:
    """Event n at START + n seconds, with ``fields`` replaced."""
    return replace(event(n), **fields)


def _ids(reader: TrailReader, query: AuditQuery) -> list[str]:
    """Every event the query finds, page after page."""
    found: list[str] = []
    while True:
        page = reader.search(query)
        found += [e["eventId"] for e in page.events]
        if not page.cursor:
            return found
        query = replace(query, cursor=page.cursor)


@pytest.fixture
def reader(tmp_path: Path) -> TrailReader:
    return TrailReader(tmp_path / "audit")


def _two_chains(make_trail: TrailFactory, count: int = 30) -> tuple[AuditTrail, AuditTrail]:
    """Events 0..count-1, the even ones in chain n-0 and the odd ones in chain n-1."""
    first, second = make_trail(segment_bytes=3000), make_trail(segment_bytes=3000)
    for n in range(count):
        (first if n % 2 == 0 else second).record(event(n))
    return first, second


def test_newest_first_across_chains_and_segments(make_trail: TrailFactory, reader: TrailReader, tmp_path: Path) -> None:
    _two_chains(make_trail)
    assert len(files.chains(tmp_path / "audit")) == 2
    assert len(files.segments(tmp_path / "audit" / "n-0")) > 2
    page = reader.search(AuditQuery(limit=5))
    assert [e["eventId"] for e in page.events] == [f"event-{n}" for n in (29, 28, 27, 26, 25)]
    assert page.cursor
    assert _ids(reader, AuditQuery(limit=7)) == [f"event-{n}" for n in range(29, -1, -1)]
    assert _ids(reader, AuditQuery(limit=0)) == [f"event-{n}" for n in range(29, -1, -1)]


def test_oldest_first(make_trail: TrailFactory, reader: TrailReader) -> None:
    _two_chains(make_trail)
    assert _ids(reader, AuditQuery(limit=4, oldest_first=True)) == [f"event-{n}" for n in range(30)]


def test_a_page_at_the_end_has_no_cursor(make_trail: TrailFactory, reader: TrailReader) -> None:
    _two_chains(make_trail, 4)
    assert reader.search(AuditQuery(limit=4)).cursor == ""
    assert reader.search(AuditQuery(limit=3)).cursor != ""


def test_later_events_and_later_chains_stay_off_the_following_pages(
    make_trail: TrailFactory, reader: TrailReader
) -> None:
    first, _ = _two_chains(make_trail, 10)
    page = reader.search(AuditQuery(limit=4))
    first.record(event(100))
    make_trail().record(event(101))  # a third chain, begun after the first page
    rest = _ids(reader, AuditQuery(limit=4, cursor=page.cursor))
    assert rest == [f"event-{n}" for n in range(5, -1, -1)]
    assert _ids(reader, AuditQuery(limit=4))[:2] == ["event-101", "event-100"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (AuditQuery(event_names=("Decrypt",)), [3]),
        (AuditQuery(event_names=("Decrypt", "CreateUser")), [4, 3]),
        (AuditQuery(resource="key-2"), [2, 1]),  # referencedResources, and the KeyId parameter
        (AuditQuery(resource="key-2", resource_type=KEY_RESOURCE), [2]),
        (AuditQuery(resource_type="ACS::RAM::User"), [4]),
        (AuditQuery(access_key_id="LTAIother"), [5]),
        (AuditQuery(user_name="alice"), [5]),
        (AuditQuery(account_id="1234"), [4, 3, 2, 1, 0]),  # recipientAccountId first, then the caller's
        (AuditQuery(account_id="5678"), [5]),
        (AuditQuery(region="cn-shanghai"), [4, 0]),  # RAM's events are in every region
        (AuditQuery(event_rw="Read"), [3]),
        (AuditQuery(failed=True), [2]),
        (AuditQuery(failed=False), [5, 4, 3, 1, 0]),
        (AuditQuery(service_name="Ram"), [4]),
        (AuditQuery(source_ip="198.51.100.7"), [1]),
        (AuditQuery(event_id="event-3"), [3]),
        (AuditQuery(role_name="any"), []),
        (AuditQuery(since=event_time(START + 2), until=event_time(START + 4)), [4, 3, 2]),
        (AuditQuery(access_key_id="LTAIexample", event_names=("Encrypt",), since=event_time(START + 1)), [2, 1]),
    ],
)
def test_filters(make_trail: TrailFactory, reader: TrailReader, query: AuditQuery, expected: list[int]) -> None:
    trail = make_trail()
    for e in (
        _event(0, acs_region="cn-shanghai"),
        _event(1, request_parameters={"KeyId": "key-2"}, source_ip_address="198.51.100.7"),
        _event(2, referenced_resources={KEY_RESOURCE: ("key-2",)}, error_code="Forbidden.RAM"),
        _event(3, event_name="Decrypt", event_rw=EventRW.READ, recipient_account_id="1234"),
        _event(4, event_name="CreateUser", event_source=RAM_SOURCE, service_name="Ram",
               referenced_resources={"ACS::RAM::User": ("alice",)}),
        _event(5, user_identity=UserIdentity("ram-user", "99", "5678", "LTAIother", "alice"),
               recipient_account_id="5678"),
    ):  # fmt: skip
        trail.record(e)
    assert _ids(reader, replace(query, limit=2)) == [f"event-{n}" for n in expected]


def test_a_hashed_parameter_value(make_trail: TrailFactory, reader: TrailReader) -> None:
    """A ciphertext's keyed hash finds the Encrypt that answered it and the Decrypt that was sent it,
    across chains, newest first."""
    blob, other = "hmac-sha256:" + "1" * 64, "hmac-sha256:" + "2" * 64
    first, second = make_trail(), make_trail()
    first.record(_event(0, event_name="Encrypt", response_elements={"CiphertextBlob": blob}))
    second.record(_event(1, event_name="Decrypt", request_parameters={"CiphertextBlob": other}))
    first.record(_event(2, event_name="Decrypt", request_parameters={"CiphertextBlob": blob}))
    second.record(_event(3, event_name="Encrypt", request_parameters={"EncryptionContext": {"k": blob}}))
    assert _ids(reader, AuditQuery(parameter_value=blob, limit=1)) == ["event-3", "event-2", "event-0"]
    asked = AuditQuery(parameter_value=blob, event_names=("Decrypt",))
    assert _ids(reader, asked) == ["event-2"]


def test_segments_outside_the_window_are_not_read(
    make_trail: TrailFactory, reader: TrailReader, tmp_path: Path
) -> None:
    trail = make_trail(segment_bytes=3000)
    late = int(3 * SLACK)
    for n in [*range(6), *range(late, late + 6)]:
        trail.record(event(n))
    chain = tmp_path / "audit" / "n-0"
    oldest = files.segments(chain)[0][1]
    # A line in the oldest segment claiming a time in the window: a reader that skips the segment
    # by its first line's time never sees it (the bound this relies on: events are written within
    # SLACK of their time).
    planted = files.make_line(event(late + 2).to_json().replace("event-", "planted-"), "0" * 64, 99)
    oldest.write_bytes(oldest.read_bytes() + planted + b"\n")
    window = AuditQuery(since=event_time(START + late), limit=0)
    assert _ids(reader, window) == [f"event-{n}" for n in range(late + 5, late - 1, -1)]
    assert _ids(reader, replace(window, oldest_first=True)) == [f"event-{n}" for n in range(late, late + 6)]
    assert "planted-" in str(_ids(reader, AuditQuery(limit=0)))  # read when the window includes it


def test_a_line_being_written_is_left_out(make_trail: TrailFactory, reader: TrailReader, tmp_path: Path) -> None:
    trail = make_trail()
    for n in range(3):
        trail.record(event(n))
    (_, segment), *_ = files.segments(tmp_path / "audit" / "n-0")
    with segment.open("ab") as f:
        f.write(b'{"event":{"eventTime":"2027-01-01T00:00:00Z"')
    assert _ids(reader, AuditQuery(limit=0)) == ["event-2", "event-1", "event-0"]
    assert _ids(reader, AuditQuery(limit=0, oldest_first=True)) == ["event-0", "event-1", "event-2"]


def test_long_lines_across_read_blocks(make_trail: TrailFactory, reader: TrailReader) -> None:
    trail = make_trail()
    for n in range(5):  # lines spanning two blocks of 1 MiB, and lines longer than one
        trail.record(_event(n, request_parameters={"Description": "x" * (1_500_000 if n % 2 else 700_000)}))
    assert _ids(reader, AuditQuery(limit=2)) == [f"event-{n}" for n in range(4, -1, -1)]
    assert _ids(reader, AuditQuery(limit=2, oldest_first=True)) == [f"event-{n}" for n in range(5)]
    assert _ids(reader, AuditQuery(event_id="event-3", limit=0)) == ["event-3"]


def test_an_empty_or_missing_trail(tmp_path: Path) -> None:
    assert TrailReader(tmp_path / "nothing").search(AuditQuery()).events == ()


@pytest.mark.parametrize("cursor", ["garbage", "eyJ2IjoxfQ", "e30", "!!!"])
def test_cursors_it_did_not_issue_are_refused(make_trail: TrailFactory, reader: TrailReader, cursor: str) -> None:
    _two_chains(make_trail, 4)
    with pytest.raises(errors.InvalidLookupParameter) as err:
        reader.search(AuditQuery(cursor=cursor))
    assert err.value.parameter == "NextToken"


def test_a_cursor_is_for_one_direction(make_trail: TrailFactory, reader: TrailReader) -> None:
    _two_chains(make_trail, 4)
    cursor = reader.search(AuditQuery(limit=1)).cursor
    with pytest.raises(errors.InvalidLookupParameter):
        reader.search(AuditQuery(limit=1, cursor=cursor, oldest_first=True))


def test_a_trail_it_cannot_read_is_unavailable(make_trail: TrailFactory, reader: TrailReader, tmp_path: Path) -> None:
    make_trail().record(event(0))
    (tmp_path / "audit" / "n-0" / files.segment_name(99)).mkdir()  # where a segment file should be
    with pytest.raises(errors.BackendUnavailable, match="cannot be read: Is a directory"):
        reader.search(AuditQuery())
