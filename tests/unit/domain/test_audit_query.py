"""domain/audit_query.py: ActionTrail's LookupEvents rules (the default window and page size, the
first two conditions, the later of two with one key, refusals), the times people and the API
write, and the text a matching line must hold."""

from __future__ import annotations

import json

import pytest

from openkms.domain import errors
from openkms.domain.audit import event_time
from openkms.domain.audit_query import AuditQuery, LookupRequest, lookup, parse_utc, parse_when

NOW = 1_800_000_000.0
DAY = 86_400


def test_utc_times_in_actiontrails_form() -> None:
    assert parse_utc("2027-01-15T08:00:00Z") == NOW
    assert parse_utc("2027-01-15T08:00:00.123Z") == NOW
    for bad in ("2027-01-15 08:00:00", "2027-01-15T08:00:00", "2027-02-30T00:00:00Z", "2027-01-15T08:00:00+08:00",
                "", "now", "２０２７-01-15T08:00:00Z"):  # fmt: skip
        assert parse_utc(bad) is None, bad


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2h", NOW - 7200), ("7d", NOW - 7 * DAY), ("30m", NOW - 1800), ("45s", NOW - 45), ("1w", NOW - 7 * DAY),
        ("2027-01-15T08:00:00Z", NOW), ("2027-01-15", NOW - 8 * 3600), ("2027-01-15T08:00", NOW),
        ("2027-01-15 08:00:00", NOW), (" 2h ", NOW - 7200),
    ],
)  # fmt: skip
def test_times_as_people_type_them(text: str, seconds: float) -> None:
    assert parse_when(text, NOW) == seconds


@pytest.mark.parametrize("text", ["yesterday", "2y", "-2h", "2027-13-01", "h"])
def test_times_not_understood(text: str) -> None:
    assert parse_when(text, NOW) is None


def test_lookup_defaults() -> None:
    asked = lookup(LookupRequest(), NOW)
    assert (asked.start_time, asked.end_time) == (event_time(NOW - 7 * DAY), event_time(NOW))
    assert (asked.query.limit, asked.query.oldest_first, asked.query.cursor) == (20, False, "")
    assert lookup(LookupRequest(max_results="0"), NOW).query.limit == 20
    assert lookup(LookupRequest(max_results="50"), NOW).query.limit == 50
    assert lookup(LookupRequest(direction="forward"), NOW).query.oldest_first
    # StartTime alone: EndTime is now; EndTime alone: StartTime is seven days before it.
    assert lookup(LookupRequest(end_time="2027-01-10T00:00:00Z"), NOW).start_time == "2027-01-03T00:00:00Z"


def test_lookup_conditions() -> None:
    asked = lookup(LookupRequest(attributes=(("EventName", "Decrypt"), ("ResourceName", "key-1"))), NOW)
    assert (asked.query.event_names, asked.query.resource) == (("Decrypt",), "key-1")
    later = lookup(LookupRequest(attributes=(("User", "bob"), ("User", "alice"))), NOW)
    assert later.query.user_name == "alice"
    third = lookup(LookupRequest(attributes=(("EventRW", "Read"), ("EventType", "ApiCall"), ("Bogus", "x"))), NOW)
    assert (third.query.event_rw, third.query.event_type) == ("Read", "ApiCall")
    empty = lookup(LookupRequest(attributes=(("EventName", ""),)), NOW)
    assert empty.query.event_names == ()


@pytest.mark.parametrize(
    ("request_", "parameter"),
    [
        (LookupRequest(start_time="2027-01-15"), "StartTime"),
        (LookupRequest(end_time="2027-01-15T25:00:00Z"), "EndTime"),
        (LookupRequest(start_time="2027-01-15T00:00:01Z", end_time="2027-01-15T00:00:00Z"), "StartTime"),
        (LookupRequest(max_results="51"), "MaxResults"),
        (LookupRequest(max_results="-1"), "MaxResults"),
        (LookupRequest(max_results="1.5"), "MaxResults"),
        (LookupRequest(direction="UP"), "Direction"),
        (LookupRequest(attributes=(("Colour", "red"),)), "LookupAttribute.N.Key"),
    ],
)
def test_lookup_refusals(request_: LookupRequest, parameter: str) -> None:
    with pytest.raises(errors.InvalidLookupParameter) as err:
        lookup(request_, NOW)
    assert err.value.parameter == parameter
    assert err.value.kind is errors.ErrorKind.INVALID


def test_needles_are_the_wanted_values_as_json_text() -> None:
    query = AuditQuery(resource="key-1", user_name='a"b', event_names=("Encrypt",), account_id="12")
    assert set(query.needles()) == {'"key-1"', json.dumps('a"b'), '"Encrypt"', '"12"'}
    assert AuditQuery(event_names=("Encrypt", "Decrypt")).needles() == ()  # any of several: none required
    line = json.dumps({"userIdentity": {"userName": 'a"b'}}, ensure_ascii=False)
    assert all(n in line for n in AuditQuery(user_name='a"b').needles())


def test_a_hashed_value_is_found_in_parameters_and_answers_at_any_depth() -> None:
    blob, context_value = "hmac-sha256:" + "a" * 64, "hmac-sha256:" + "b" * 64
    decrypt = {"requestParameters": {"CiphertextBlob": blob, "EncryptionContext": {"order": context_value}}}
    encrypt = {"responseElements": {"CiphertextBlob": blob, "KeyId": "key-1"}}
    listed = {"responseElements": {"Keys": {"Key": [{"KeyId": blob}]}}}
    for event in (decrypt, encrypt, listed):
        assert AuditQuery(parameter_value=blob).matches(event), event
    assert AuditQuery(parameter_value=context_value).matches(decrypt)
    assert not AuditQuery(parameter_value=context_value).matches(encrypt)
    # A value is matched whole: a prefix, or a parameter's name, is not the value.
    assert not AuditQuery(parameter_value=blob[:-1]).matches(decrypt)
    assert not AuditQuery(parameter_value="CiphertextBlob").matches(decrypt)
    assert not AuditQuery(parameter_value=blob).matches({"eventName": blob})  # only parameters and answers
    assert AuditQuery(parameter_value=blob).needles()[0] == json.dumps(blob)  # the rarest text, looked for first


def test_events_of_no_region_are_in_every_region() -> None:
    signin = {"eventName": "ConsoleSignin", "acsRegion": "", "recipientAccountId": "12"}
    assert AuditQuery(region="cn-shanghai", account_id="12").matches(signin)
    assert not AuditQuery(region="cn-shanghai").matches({"acsRegion": "cn-hangzhou"})
