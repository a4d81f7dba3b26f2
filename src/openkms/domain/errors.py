"""The domain's error hierarchy.

Errors carry data (which parameter, which state), never an HTTP status or an Alibaba code:
``protocol/errors.py`` maps each class to those in one table. Each class declares its *kind*
(what sort of refusal it is), which is all the console needs to answer it, and, where it concerns
one input, the API ``parameter`` it concerns, which the console turns into a form field. A new
error is one class with its kind here, plus its row in the API's table. Messages must never
contain plaintext, key material or secrets; they may name parameters and identifiers.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorKind(StrEnum):
    """What sort of refusal an error is, for entry points that do not speak Alibaba's codes."""

    INVALID = "invalid"  # the input is malformed or breaks a rule of its own
    NOT_FOUND = "not-found"  # what the request names does not exist (for this caller)
    CONFLICT = "conflict"  # it exists already
    FORBIDDEN = "forbidden"  # the caller may not do this, or the resource is protected from it
    STATE = "state"  # the key's state does not allow it now
    UNSUPPORTED = "unsupported"  # not offered for this key, spec, origin or key store
    LIMIT = "limit"  # a quota or count would be exceeded
    TOO_LARGE = "too-large"  # the request itself is larger than the server takes
    THROTTLED = "throttled"  # over the caller's request rate; retrying later succeeds
    UNAVAILABLE = "unavailable"  # a backend cannot serve now; retrying may succeed
    INTERNAL = "internal"  # a failure whose detail is for the operator's log only


class KmsError(Exception):
    """Base of every error the service layer raises on purpose.

    ``kind`` is declared by each class (inherited by its subclasses); a class that declares none
    is an internal failure. ``parameter`` is the API parameter the error concerns, empty when it
    concerns no single input. ``detail`` is the part of the message that says why, without the
    API's fixed wording (the console shows it next to a form field); empty when the message has
    no such part.
    """

    kind: ClassVar[ErrorKind] = ErrorKind.INTERNAL
    api: ClassVar[str] = "kms"  # "ram": raised only by the RAM API, whose statuses are its own
    parameter: str = ""
    detail: str = ""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    @property
    def audit_message(self) -> str:
        """The message as the audit trail keeps it: the caller's, unless that echoes the request."""
        return self.message


# --- input --------------------------------------------------------------------------------------


class InvalidParameter(KmsError):
    kind = ErrorKind.INVALID

    def __init__(self, name: str, reason: str = "") -> None:
        text = f'The specified parameter "{name}" is not valid.'
        super().__init__(f"{text} {reason}".strip())
        self.name = self.parameter = name
        self.reason = reason
        self.detail = reason


class MissingParameter(KmsError):
    kind = ErrorKind.INVALID

    def __init__(self, name: str) -> None:
        super().__init__(f'The parameter "{name}" is needed but not provided.')
        self.name = self.parameter = name


class InvalidCiphertext(InvalidParameter):
    """The blob is malformed, was tampered with, or its EncryptionContext does not match."""

    def __init__(self) -> None:
        super().__init__(
            "CiphertextBlob",
            "The ciphertext is corrupt or the EncryptionContext does not match the one used to encrypt.",
        )


class DryRunSucceeded(KmsError):
    """DryRun=true and the request would have succeeded."""

    kind = ErrorKind.INVALID

    def __init__(self) -> None:
        super().__init__("Request would have succeeded, but DryRun flag is set.")


class InvalidLookupParameter(KmsError):
    """A parameter of ActionTrail's LookupEvents (or of a search of the audit trail) that is not
    valid: a time not in ActionTrail's form, MaxResults out of range, a LookupAttribute key
    ActionTrail does not know, a NextToken this trail did not issue."""

    kind = ErrorKind.INVALID

    def __init__(self, name: str, reason: str = "") -> None:
        super().__init__(f'The specified parameter "{name}" is not valid. {reason}'.strip())
        self.parameter = name
        self.detail = reason


# --- lookups ------------------------------------------------------------------------------------


class NotFound(KmsError):
    kind = ErrorKind.NOT_FOUND


class KeyNotFound(NotFound):
    def __init__(self, key_id: str = "") -> None:
        super().__init__("The specified Key is not found.")
        self.key_id = key_id


class KeyVersionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("The specified Key version is not found.")


class AliasNotFound(NotFound):
    parameter = "AliasName"

    def __init__(self) -> None:
        super().__init__("The specified Alias is not found.")


class InstanceNotFound(NotFound):
    parameter = "KmsInstanceId"

    def __init__(self) -> None:
        super().__init__("The specified KMS instance is not found.")


class AccessResourceNotFound(NotFound):
    """An application access point, client key, its policy or network rule that does not exist."""

    def __init__(self, what: str, parameter: str = "Name") -> None:
        super().__init__(f"The specified {what} is not found.")
        self.parameter = parameter


class AccessResourceExists(KmsError):
    kind = ErrorKind.STATE
    parameter = "Name"

    def __init__(self, what: str) -> None:
        super().__init__(f"The {what} already exists in this region.")


class AccessResourceInUse(KmsError):
    kind = ErrorKind.STATE
    parameter = "Name"

    def __init__(self, what: str, user: str) -> None:
        super().__init__(f"The {what} is in use by {user}.")


class ClientKeyNotFound(NotFound):
    """A gateway request signed by a client key that does not exist (or was deleted)."""

    def __init__(self) -> None:
        super().__init__("The specified client key is not found.")


class ClientKeyNotValid(KmsError):
    """A gateway request signed by a client key outside its NotBefore..NotAfter window."""

    kind = ErrorKind.FORBIDDEN

    def __init__(self, reason: str) -> None:
        super().__init__(f"The client key is not valid: {reason}.")


class ClientKeySignatureMismatch(KmsError):
    """A gateway request whose signature does not verify with its client key's public key."""

    kind = ErrorKind.INVALID

    def __init__(self) -> None:
        super().__init__("The request signature does not verify with the client key.")


class SourceNotAllowed(KmsError):
    """A gateway request from an address none of its access point's policies' network rules admit."""

    kind = ErrorKind.FORBIDDEN

    def __init__(self, source: str) -> None:
        super().__init__(f"The source address {source} is not allowed by the access point's network rules.")


class AliasAlreadyExists(KmsError):
    kind = ErrorKind.CONFLICT
    parameter = "AliasName"

    def __init__(self) -> None:
        super().__init__("AliasName Already Exists.")


class AliasNotAllowed(KmsError):
    """An alias was given where the API takes only a key id."""

    kind = ErrorKind.INVALID

    def __init__(self) -> None:
        super().__init__("Alias is not valid for this api.")


# --- secrets ------------------------------------------------------------------------------------


class SecretNotFound(NotFound):
    parameter = "SecretName"

    def __init__(self) -> None:
        super().__init__("The specified secret is not found.")


class SecretVersionNotFound(NotFound):
    parameter = "VersionId"

    def __init__(self) -> None:
        super().__init__("The specified secret version or version stage is not found.")


class SecretAlreadyExists(KmsError):
    """Alibaba answers 409 Rejected.ResourceExist: a state of the region, hence kind STATE."""

    kind = ErrorKind.STATE
    parameter = "SecretName"

    def __init__(self) -> None:
        super().__init__("The secret already exists (or waits for its purge) in this region.")


class SecretVersionConflict(KmsError):
    """A VersionId given again with different data, stages or data type."""

    kind = ErrorKind.STATE
    parameter = "VersionId"

    def __init__(self) -> None:
        super().__init__("The VersionId already exists with different data.")


class SecretPendingDeletion(KmsError):
    kind = ErrorKind.STATE

    def __init__(self) -> None:
        super().__init__("The request was rejected because the secret is scheduled for deletion.")


# --- key state ----------------------------------------------------------------------------------


class StateRejected(KmsError):
    """The key's state forbids the operation; the subclass says which state."""

    kind = ErrorKind.STATE


class RejectedDisabled(StateRejected):
    def __init__(self) -> None:
        super().__init__("The request was rejected because the key state is Disabled.")


class RejectedPendingDeletion(StateRejected):
    def __init__(self) -> None:
        super().__init__("The request was rejected because the key state is PendingDeletion.")


class RejectedPendingImport(StateRejected):
    def __init__(self) -> None:
        super().__init__("The request was rejected because the key state is PendingImport.")


class StateModifiedFailed(StateRejected):
    def __init__(self, detail: str = "") -> None:
        super().__init__(f"Keystate modified failed. {detail}".strip())


class DeletionProtected(KmsError):
    kind = ErrorKind.FORBIDDEN

    def __init__(self) -> None:
        super().__init__(
            "The key is protected from deletion. Disable deletion protection (SetDeletionProtection) first."
        )


# --- capabilities -------------------------------------------------------------------------------


class UnsupportedOperation(KmsError):
    kind = ErrorKind.UNSUPPORTED

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"Unsupported operation. {detail}".strip())
        self.detail = detail


class UnsupportedKeySpec(KmsError):
    kind = ErrorKind.UNSUPPORTED
    parameter = "KeySpec"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnsupportedOrigin(KmsError):
    kind = ErrorKind.UNSUPPORTED
    parameter = "Origin"

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"This key origin is not valid for this api. {detail}".strip())
        self.detail = detail


class UnsupportedProtectionLevel(KmsError):
    kind = ErrorKind.UNSUPPORTED
    parameter = "ProtectionLevel"

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"This protection level is not valid for this region. {detail}".strip())
        self.detail = detail


class LimitExceeded(KmsError):
    kind = ErrorKind.LIMIT

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"The request was rejected because user create resource limit was exceeded. {detail}".strip())


class Throttled(KmsError):
    """Over the account's quota of requests of one class in one region (domain/quotas.py)."""

    kind = ErrorKind.THROTTLED

    def __init__(self, quota_class: str, retry_after: int) -> None:
        super().__init__("QPS Limit Exceeded")
        self.quota_class = quota_class
        self.retry_after = retry_after  # whole seconds until a request of the class would be taken


class ServiceAlreadyOpened(KmsError):
    kind = ErrorKind.CONFLICT

    def __init__(self) -> None:
        super().__init__("Your kms service has been opened.")


class InvalidRegion(KmsError):
    kind = ErrorKind.INVALID

    def __init__(self, region: str) -> None:
        super().__init__(f"The specified region {region!r} does not exist in this openkms catalogue.")
        self.region = region


# --- import ---------------------------------------------------------------------------------------


class InvalidImportToken(KmsError):
    kind = ErrorKind.INVALID
    parameter = "ImportToken"

    def __init__(self) -> None:
        super().__init__("import token is invalid.")


class ExpiredImportToken(KmsError):
    kind = ErrorKind.INVALID
    parameter = "ImportToken"

    def __init__(self) -> None:
        super().__init__("import token is expired.")


class InvalidKeyMaterial(KmsError):
    kind = ErrorKind.INVALID
    parameter = "EncryptedKeyMaterial"

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"key material is invalid. {detail}".strip())


# --- identity -----------------------------------------------------------------------------------


class AccessKeyNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Specified access key is not found.")


class AccessKeyDisabled(KmsError):
    kind = ErrorKind.FORBIDDEN

    def __init__(self) -> None:
        super().__init__("This AccessKey is not enabled.")


class AccessDenied(KmsError):
    """The authorizer refused: no policy allows the action on the resource, or one denies it.

    Carries what Alibaba's ``AccessDeniedDetail`` reports; never the policies themselves.
    """

    kind = ErrorKind.FORBIDDEN

    def __init__(
        self,
        action: str,
        resource: str,
        explicit: bool = False,
        principal_type: str = "",
        policy_type: str = "",
        principal_owner: str = "",
    ) -> None:
        super().__init__("User not authorized to operate on the specified resource, or this API doesn't support RAM.")
        self.action = action
        self.resource = resource
        self.no_permission_type = "ExplicitDeny" if explicit else "ImplicitDeny"
        self.principal_type = principal_type
        self.policy_type = policy_type
        self.principal_owner = principal_owner


# --- RAM (users, policies, attachments) ---------------------------------------------------------
# RAM's codes name the entity (EntityNotExist.User.AccessKey): each class carries it as data and
# protocol/errors.py builds the code from it.

_RAM_MESSAGES = {
    ("EntityNotExist", "User"): "The user does not exist.",
    ("EntityNotExist", "User.AccessKey"): "The user access key does not exist.",
    ("EntityNotExist", "User.Policy"): "The indicate policy of the user does not exist.",
    ("EntityNotExist", "Policy"): "The policy does not exist.",
    ("EntityNotExist", "Policy.Version"): "The policy version does not exist.",
    ("EntityAlreadyExists", "User"): "The user does already EXIST.",
    ("EntityAlreadyExists", "User.Policy"): "The user has already been attached this policy.",
    ("EntityAlreadyExists", "Policy"): "The policy does already EXIST.",
    ("DeleteConflict", "User.AccessKey"): "The user CAN NOT has any access key while deleting the user.",
    ("DeleteConflict", "User.Policy"): "The user CAN NOT has any attached policy while deleting the user.",
    ("DeleteConflict", "Policy.User"): "The policy CAN NOT been attached to any user while deleting the policy.",
    ("DeleteConflict", "Policy.Version"): "The policy CAN NOT has any version except the default version.",
    ("DeleteConflict", "Policy.Version.Default"): "The default policy version CAN NOT been deleted directly.",
    ("LimitExceeded", "User"): "The count of users beyond the current limits.",
    ("LimitExceeded", "User.AccessKey"): "The access key count of the user access keys beyond the current limits.",
    ("LimitExceeded", "User.Policy"): "The policy count of the user attached policies beyond the current limits.",
    ("LimitExceeded", "Policy"): "The count of policy beyond the current limits.",
    ("LimitExceeded", "Policy.Version"): "The count of policy version beyond the current limits.",
}


class RamError(KmsError):
    """Errors of the RAM API (2015-05-01), whose statuses are RAM's own (404, 409) rather than the
    KMS API's for the same kind of refusal."""

    family = ""
    api = "ram"

    def __init__(self, entity: str) -> None:
        super().__init__(_RAM_MESSAGES.get((self.family, entity), f"{self.family}: {entity}."))
        self.entity = entity


class EntityNotExist(RamError):
    family = "EntityNotExist"
    kind = ErrorKind.NOT_FOUND


class EntityAlreadyExists(RamError):
    family = "EntityAlreadyExists"
    kind = ErrorKind.CONFLICT


class DeleteConflict(RamError):
    family = "DeleteConflict"
    kind = ErrorKind.CONFLICT


class RamLimitExceeded(RamError):
    family = "LimitExceeded"
    kind = ErrorKind.LIMIT


_RAM_PARAMETER_MESSAGES = {
    "Length": 'The parameter - "{}" beyond the length limit.',
    "InvalidChars": 'The parameter - "{}" contains invalid chars.',
    "Format": 'The format of the parameter - "{}" is incorrect.',
    "": 'The parameter - "{}" is incorrect.',
}


class RamInvalidParameter(KmsError):
    """A RAM parameter that breaks its rule (Length, InvalidChars, Format, or "" for a value
    outside its set): code ``InvalidParameter.<parameter>[.<rule>]``, RAM's documented wording."""

    kind = ErrorKind.INVALID
    api = "ram"

    def __init__(self, parameter: str, rule: str = "") -> None:
        super().__init__(_RAM_PARAMETER_MESSAGES.get(rule, _RAM_PARAMETER_MESSAGES[""]).format(parameter))
        self.parameter = parameter
        self.rule_suffix = f".{rule}" if rule else ""
        self.detail = self.message


class MalformedPolicyDocument(KmsError):
    """A policy that breaks RAM's grammar; the message names the line of the first problem."""

    kind = ErrorKind.INVALID
    api = "ram"

    def __init__(self, reason: str, line: int) -> None:
        super().__init__(f"The policy document is malformed: line {line}: {reason}")
        self.reason = reason
        self.line = line
        self.detail = f"line {line}: {reason}"


# --- infrastructure -----------------------------------------------------------------------------


class BackendUnavailable(KmsError):
    """A storage or crypto backend cannot serve now; the caller may retry."""

    kind = ErrorKind.UNAVAILABLE

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"Service Unavailable Temporary. {detail}".strip())


class SecretRotationFailed(BackendUnavailable):
    """A rotator could not make or check a secret's new credential: the previous version stays
    ACSCurrent. The message names what failed, never a credential."""

    def __init__(self, detail: str) -> None:
        KmsError.__init__(self, detail)


class KeyObjectMissing(BackendUnavailable):
    """A key store no longer holds the object a reference names: it was destroyed outside
    openkms. Not an integrity failure of the data (the row is intact), and restoring the object
    from the token's backup brings the key back, so callers get a 503 rather than a 500."""

    def __init__(self, subject: str, key_store: str = "") -> None:
        where = f"key store {key_store}" if key_store else "its PKCS#11 token"
        super().__init__(f"The token object of {subject} is missing from {where} (removed outside openkms).")
        self.subject = subject
        self.key_store = key_store


class AuditUnavailable(BackendUnavailable):
    """The audit trail cannot record an event (a full or failed disk) in fail-closed mode: the
    request is refused rather than served without its record."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"The audit trail cannot be written: {reason}.")
        self.reason = reason


class IntegrityError(KmsError):
    """Sealed data failed authentication: the store was tampered with or the root key is wrong."""

    kind = ErrorKind.INTERNAL

    def __init__(self, what: str) -> None:
        super().__init__(f"Sealed {what} failed authentication.")
