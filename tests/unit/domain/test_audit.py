"""domain/audit.py: the event's canonical JSON in ActionTrail's names, and the redaction table."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from openkms.domain.audit import (
    KMS_SOURCE,
    PARAMETERS,
    AuditEvent,
    EventRW,
    EventType,
    Treatment,
    UserIdentity,
    event_time,
    redact,
    treatment,
)

KEY = b"k" * 32


def keyed(value: bytes) -> str:
    return "hmac-sha256:" + hmac.new(KEY, value, hashlib.sha256).hexdigest()


def _event(**changes: object) -> AuditEvent:
    base: dict[str, object] = {
        "event_id": "e-1",
        "event_name": "Encrypt",
        "event_source": KMS_SOURCE,
        "event_type": EventType.API_CALL,
        "event_rw": EventRW.WRITE,
        "event_time": event_time(1_800_000_000),
        "acs_region": "cn-hangzhou",
        "request_id": "r-1",
        "api_version": "2016-01-20",
        "user_identity": UserIdentity("root-account", "1234", "1234", "LTAI5", ""),
    }
    base.update(changes)
    return AuditEvent(**base)  # type: ignore[arg-type]


def test_the_event_is_one_canonical_object_in_actiontrail_names() -> None:
    text = _event(request_parameters={"KeyId": "k", "Algorithm": "x"}, source_ip_address="10.0.0.1").to_json()
    assert " " not in text
    doc = json.loads(text)
    assert list(doc) == sorted(doc)
    assert set(doc) == {
        "eventId", "eventName", "eventSource", "eventType", "eventRW", "eventTime", "acsRegion", "requestId",
        "apiVersion", "errorCode", "errorMessage", "sourceIpAddress", "userAgent", "userIdentity",
        "requestParameters", "responseElements", "eventVersion", "recipientAccountId", "serviceName",
        "referencedResources",
    }  # fmt: skip
    assert doc["eventVersion"] == 1
    assert doc["eventType"] == "ApiCall"
    assert doc["eventRW"] == "Write"
    assert doc["eventTime"] == "2027-01-15T08:00:00Z"
    assert doc["userIdentity"] == {
        "type": "root-account", "principalId": "1234", "accountId": "1234", "accessKeyId": "LTAI5", "userName": "",
    }  # fmt: skip
    assert text == json.dumps(doc, sort_keys=True, separators=(",", ":"))
    assert list(doc["requestParameters"]) == ["Algorithm", "KeyId"]


def test_referenced_resources_are_lists_by_resource_type() -> None:
    doc = json.loads(_event(referenced_resources={"ACS::KMS::Key": ("key-1",)}, service_name="Kms").to_json())
    assert doc["referencedResources"] == {"ACS::KMS::Key": ["key-1"]}
    assert doc["serviceName"] == "Kms"


def test_non_ascii_is_written_as_is() -> None:
    assert "密钥" in _event(request_parameters={"Description": "密钥"}).to_json()


def test_redaction_keeps_identifiers_hashes_blobs_and_drops_secrets() -> None:
    params = {
        "KeyId": "key-1",
        "KeyVersionId": "v-1",
        "AliasName": "alias/a",
        "KeySpec": "Aliyun_AES_256",
        "Algorithm": "RSAES_OAEP_SHA_256",
        "CiphertextBlob": "QUJD",
        "EncryptionContext": '{"tenant":"acme","n":3}',
        "Plaintext": "c2VjcmV0",
        "SecretData": "pw",
        "AccessKeySecret": "s",
        "Tag.1.Key": "team",
        "Tag.1.Value": "a",
        "PolicyDocument": '{"Version":"1"}',
        "SomethingNew": "unknown names are dropped",
    }
    out = redact(params, keyed)
    assert out == {
        "KeyId": "key-1",
        "KeyVersionId": "v-1",
        "AliasName": "alias/a",
        "KeySpec": "Aliyun_AES_256",
        "Algorithm": "RSAES_OAEP_SHA_256",
        "CiphertextBlob": keyed(b"QUJD"),
        "EncryptionContext": {"tenant": keyed(b"acme"), "n": keyed(b"3")},
        "Tag.1.Key": "team",
        "Tag.1.Value": "a",
        "PolicyDocument": '{"Version":"1"}',
    }


def test_nested_answers_are_redacted_name_by_name() -> None:
    answer = {
        "KeyId": "k",
        "Plaintext": "p",
        "CiphertextBlob": "c",
        "AccessKey": {"AccessKeyId": "LTAI", "AccessKeySecret": "never"},
        "KeyMetadata": {"KeyId": "k", "KeyState": "Enabled", "Secret": "dropped"},
        "KeyVersions": {"KeyVersion": [{"KeyVersionId": "v", "Plaintext": "x"}]},
    }
    out = redact(answer, keyed)
    assert out == {
        "KeyId": "k",
        "CiphertextBlob": keyed(b"c"),
        "KeyMetadata": {"KeyId": "k", "KeyState": "Enabled"},
        "KeyVersions": {"KeyVersion": [{"KeyVersionId": "v"}]},
    }


def test_a_context_given_as_an_object_is_hashed_value_by_value() -> None:
    assert redact({"EncryptionContext": {"a": "b"}}, keyed) == {"EncryptionContext": {"a": keyed(b"b")}}


@pytest.mark.parametrize(
    ("name", "how"),
    [
        ("Plaintext", Treatment.DROP),
        ("SecretData", Treatment.DROP),
        ("Password", Treatment.DROP),
        ("Pin", Treatment.DROP),
        ("PrivateKey", Treatment.DROP),
        ("EncryptedKeyMaterial", Treatment.HASH),
        ("PublicKeyBlob", Treatment.HASH),
        ("ImportToken", Treatment.HASH),
        ("Policy", Treatment.KEEP),
        ("Tag.12.Value", Treatment.KEEP),
        ("NotInTheTable", Treatment.DROP),
    ],
)
def test_the_table(name: str, how: Treatment) -> None:
    assert treatment(name) is how


def test_no_name_is_in_two_rows() -> None:
    from openkms.domain import audit

    rows = [audit._KEEP.split(), audit._HASH.split(), audit._DROP.split()]
    names = [n for row in rows for n in row]
    assert len(names) == len(set(names)) == len(PARAMETERS)


def test_a_lone_surrogate_from_a_malformed_request_is_escaped_and_still_hashes() -> None:
    text = _event(request_parameters={"Description": "a\udcffb"}).to_json()
    assert text.encode()  # a line is UTF-8
    assert json.loads(text)["requestParameters"]["Description"] == "a\udcffb"
    assert redact({"CiphertextBlob": "\ud800"}, keyed)["CiphertextBlob"].startswith("hmac-sha256:")


def test_secret_values_and_extended_config_never_reach_the_trail() -> None:
    request = {"SecretName": "db", "VersionId": "v1", "SecretData": "pw", "ExtendedConfig": '{"p":1}',
               "VersionStages": '["ACSCurrent"]', "SecretType": "Rds", "EncryptionKeyId": "k"}  # fmt: skip
    assert redact(request, keyed) == {"SecretName": "db", "VersionId": "v1", "VersionStages": '["ACSCurrent"]',
                                      "SecretType": "Rds", "EncryptionKeyId": "k"}  # fmt: skip
    answer = {"SecretValues": [{"SecretName": "db", "SecretData": "pw"}], "Errors": [{"SecretName": "x", "Code": "c"}]}
    assert redact(answer, keyed) == {
        "SecretValues": [{"SecretName": "db"}],
        "Errors": [{"SecretName": "x", "Code": "c"}],
    }


def test_event_time_is_the_seconds_own_time_whatever_was_asked_before() -> None:
    # One second's text is remembered: asking for another second, or going back, gives that one's.
    assert event_time(1_800_000_000.9) == "2027-01-15T08:00:00Z"
    assert event_time(1_800_000_000.0) == "2027-01-15T08:00:00Z"
    assert event_time(1_800_000_001.0) == "2027-01-15T08:00:01Z"
    assert event_time(1_799_999_999.99) == "2027-01-15T07:59:59Z"
    assert event_time(1_800_000_001.5) == "2027-01-15T08:00:01Z"
