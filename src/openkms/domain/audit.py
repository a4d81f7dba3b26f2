"""The audit trail's model: one event per API call, console operation or background change, in
Alibaba ActionTrail's field names, and the redaction of what a request and its answer carried.

An event is written as one canonical JSON object (``AuditEvent.to_json``: keys sorted, no spaces,
UTF-8), so the bytes an event is hashed and signed as follow from its content alone. Parameters
and response elements pass ``redact`` first: a table says per name whether a value is kept in
clear (identifiers, algorithms, specs, configuration), replaced by a keyed hash
(``hmac-sha256:<hex>``: ciphertexts, EncryptionContext values and other opaque blobs, which an
operator finds again with ``openkms audit hash``) or dropped (plaintexts, data keys, secrets,
passwords). A name the table does not know is dropped: a parameter added later stays out of the
trail until someone decides it may be there.

Where the trail is written is the ``AuditSink`` port's business (``domain/ports.py``).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

KMS_SOURCE = "kms.aliyuncs.com"
RAM_SOURCE = "ram.aliyuncs.com"
EVENT_VERSION = 1  # ActionTrail's event format version
KEY_RESOURCE = "ACS::KMS::Key"
ALIAS_RESOURCE = "ACS::KMS::Alias"
SECRET_RESOURCE = "ACS::KMS::Secret"  # noqa: S105 (a resource type)


class EventType(StrEnum):
    API_CALL = "ApiCall"
    CONSOLE_OPERATION = "ConsoleOperation"
    CONSOLE_SIGNIN = "ConsoleSignin"
    SERVICE_EVENT = "AliyunServiceEvent"  # what openkms did by itself: rotation, deletion, retention


class EventRW(StrEnum):
    READ = "Read"
    WRITE = "Write"


_last_second: tuple[int, str] = (-1, "")  # every event of a second has the same time: made once


def event_time(seconds: float) -> str:
    """ActionTrail's ``eventTime``: UTC, ISO 8601 to the second (``2026-12-01T08:30:00Z``)."""
    global _last_second  # noqa: PLW0603 (one entry, replaced whole: safe between threads)
    whole = math.floor(seconds)
    second, text = _last_second
    if second != whole:
        text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(whole))
        _last_second = (whole, text)
    return text


@dataclass(frozen=True, slots=True)
class UserIdentity:
    """Who acted: ``type`` is ActionTrail's (``root-account``, ``ram-user``, ``system`` for openkms
    itself); ``principal_id`` the account uid or the RAM user's id."""

    type: str
    principal_id: str = ""
    account_id: str = ""
    access_key_id: str = ""
    user_name: str = ""


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One event. ``request_parameters`` and ``response_elements`` are already redacted."""

    event_id: str
    event_name: str  # the action: "Encrypt", "CreateUser"
    event_source: str  # KMS_SOURCE or RAM_SOURCE
    event_type: EventType
    event_rw: EventRW
    event_time: str  # event_time(seconds)
    acs_region: str
    request_id: str
    api_version: str  # "2016-01-20", "2015-05-01"
    user_identity: UserIdentity
    source_ip_address: str = ""
    user_agent: str = ""
    error_code: str = ""  # empty: the action succeeded
    error_message: str = ""
    request_parameters: Mapping[str, Any] = field(default_factory=dict)
    response_elements: Mapping[str, Any] = field(default_factory=dict)
    # The account whose trail holds the event: the owner of the resources acted on (another
    # account's key used through its key policy is the key owner's event), else the caller's.
    recipient_account_id: str = ""
    service_name: str = ""  # ActionTrail's "Kms", "Ram", "Actiontrail"
    # Resource type -> ids acted on, as ActionTrail writes them: {"ACS::KMS::Key": ["key-..."]}.
    referenced_resources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """ActionTrail's names and values (enums as their text)."""
        who = self.user_identity
        return {
            "eventId": self.event_id,
            "eventName": self.event_name,
            "eventSource": self.event_source,
            "eventType": self.event_type.value,
            "eventRW": self.event_rw.value,
            "eventVersion": EVENT_VERSION,
            "eventTime": self.event_time,
            "acsRegion": self.acs_region,
            "requestId": self.request_id,
            "apiVersion": self.api_version,
            "errorCode": self.error_code,
            "errorMessage": self.error_message,
            "sourceIpAddress": self.source_ip_address,
            "userAgent": self.user_agent,
            "userIdentity": {
                "type": who.type,
                "principalId": who.principal_id,
                "accountId": who.account_id,
                "accessKeyId": who.access_key_id,
                "userName": who.user_name,
            },
            "requestParameters": self.request_parameters,
            "responseElements": self.response_elements,
            "recipientAccountId": self.recipient_account_id,
            "serviceName": self.service_name,
            "referencedResources": {kind: list(ids) for kind, ids in self.referenced_resources.items()},
        }

    def to_json(self) -> str:
        """One canonical JSON object: keys sorted at every level, no spaces, non-ASCII as is."""
        text = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        try:
            text.encode()
        except UnicodeEncodeError:  # a lone surrogate (a malformed request's text): escaped, so the line is UTF-8
            return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return text


# --- redaction ----------------------------------------------------------------------------------


class Treatment(Enum):
    KEEP = "keep"  # in clear; an object or list under it is redacted name by name in turn
    HASH = "hash"  # hmac-sha256:<hex> of the value; an object (an EncryptionContext): each value
    DROP = "drop"  # left out of the trail


KeyedHash = Callable[[bytes], str]  # bytes -> "hmac-sha256:<hex>"

_KEEP = """
    AccessKeyId Action Algorithm Alias AliasArn AliasName Aliases Arn AttachDate AttachmentCount
    AutomaticRotation CascadingDelete CertificateId Comments CreateDate CreationDate Creator
    DKMSInstanceId DefaultPolicyVersion DefaultVersion DeleteDate DeletionProtection
    DeletionProtectionDescription Description DestinationKeyId DisplayName DryRun Effect Enabled
    EnableAutomaticRotation EnableDeletionProtection ExcludeCharacters ExcludeLowercase ExcludeNumbers
    ExcludePunctuation ExcludeUppercase Filters IsDefaultVersion IsTruncated Key KeyArn KeyId
    KeyMaterialExpireUnix KeyMetadata KeySpec KeyState KeyUsage KeyVersion KeyVersionId KeyVersions
    Keys LastLoginDate LastRotationDate Marker MaterialExpireTime MaxItems NewUserName NextRotationDate
    NextToken NumberOfBytes Origin PageNumber PageSize PasswordLength PendingWindowInDays Policies
    Policy PolicyDocument PolicyName PolicyType PolicyVersion PolicyVersions PrimaryKeyVersion
    ProtectedResourceArn ProtectionLevel RegionId RequestId RequireEachIncludedType ResourceGroupId
    ResourceId ResourceType RotateStrategy RotationInterval SecretName SetAsDefault
    SourceEncryptionAlgorithm SourceKeyId SourceKeyVersionId Status Tag Tag.N.Key Tag.N.Value TagKey
    TagKeys TagValue Tags TokenExpireTime TotalCount UpdateDate User UserAccessKeyId UserId UserName
    Users Version VersionId WrappingAlgorithm WrappingKeySpec
    Code CreateTime EncryptionKeyId Errors FetchExtendedConfig FetchTags ForceDeleteWithoutRecovery
    HttpStatus IncludeDeprecated Message MoveToVersion OwingService PlannedDeleteTime
    RecoveryWindowInDays RemoveFromVersion SecretDataType SecretList SecretType SecretValues
    SecretsList UpdateTime VersionIds VersionStage VersionStages
"""
_HASH = """
    CiphertextBlob DestinationEncryptionContext Digest Email EncryptedKeyMaterial EncryptionContext
    ExportedDataKey ImportToken MobilePhone PublicKey PublicKeyBlob SourceEncryptionContext Value
"""
_DROP = """
    AccessKeySecret CustomData DataKey ExtendedConfig NewPassword Password Pin Plaintext PrivateKey
    RandomPassword SecretData Signature
"""

# Parameter name (indices as N: "Tag.1.Key" is "Tag.N.Key") -> what the trail holds of its value.
PARAMETERS: Mapping[str, Treatment] = {
    **dict.fromkeys(_KEEP.split(), Treatment.KEEP),
    **dict.fromkeys(_HASH.split(), Treatment.HASH),
    **dict.fromkeys(_DROP.split(), Treatment.DROP),
}
_INDEX = re.compile(r"\.[0-9]+(?=\.|$)")


def treatment(name: str) -> Treatment:
    """The table's row for ``name``; unknown names are dropped."""
    found = PARAMETERS.get(name)
    if found is None:
        found = PARAMETERS.get(_INDEX.sub(".N", name), Treatment.DROP) if "." in name else Treatment.DROP
    return found


def _hash_value(value: Any, keyed_hash: KeyedHash) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _hash_value(v, keyed_hash) for k, v in value.items()}
    if isinstance(value, str) and value.startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):  # an EncryptionContext sent as JSON text: its keys stay readable
            return {str(k): _hash_value(v, keyed_hash) for k, v in parsed.items()}
    if isinstance(value, bytes):
        return keyed_hash(value)
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return keyed_hash(text.encode("utf-8", "surrogatepass"))


def _keep_value(value: Any, keyed_hash: KeyedHash) -> Any:
    if type(value) is str:  # most values: before the (slower) abstract class checks
        return value
    if isinstance(value, Mapping):
        return redact(value, keyed_hash)
    if isinstance(value, list | tuple):
        return [_keep_value(item, keyed_hash) for item in value]
    return value


def redact(values: Mapping[str, Any], keyed_hash: KeyedHash) -> dict[str, Any]:
    """``values`` (request parameters, or response elements) as the trail may hold them: each name
    treated by ``PARAMETERS``, nested objects name by name. ``keyed_hash`` hashes the value's
    UTF-8 text as sent (a CiphertextBlob's base64, a context value)."""
    out: dict[str, Any] = {}
    known = PARAMETERS.get
    for name, value in values.items():
        how = known(name) or treatment(name)  # the table first: most names are in it as they are
        if how is Treatment.KEEP:
            out[name] = _keep_value(value, keyed_hash)
        elif how is Treatment.HASH:
            out[name] = _hash_value(value, keyed_hash)
    return out
