"""The one table from errors to HTTP status, Alibaba error code and message.

Domain errors carry data, never a status; this module decides how each class looks on the
wire, walking the MRO so a subclass inherits its parent's mapping unless it has its own row.
Anything not mapped is a 500 ``InternalFailure`` whose detail stays in the server log.
A row's status is Alibaba's for its code, and agrees with the class's ``kind`` (a test holds
them together), which is what the console answers by.
"""

from __future__ import annotations

from dataclasses import dataclass

from openkms.domain import errors as d


class ProtocolError(d.KmsError):
    """Errors of the wire protocol itself: signatures, timestamps, actions, versions."""

    kind = d.ErrorKind.INVALID


class IncompleteSignature(ProtocolError):
    def __init__(self, detail: str = "") -> None:
        super().__init__(f"The request signature does not conform to Alibaba Cloud standards. {detail}".strip())


class SignatureDoesNotMatch(ProtocolError):
    _TEXT = "Specified signature is not matched with our calculation."

    def __init__(self, string_to_sign: str) -> None:
        # The official old-generation SDK splits this message on ':' and compares the second part
        # with its own string to sign, so the wording and the trailing string must stay exactly so.
        super().__init__(f"{self._TEXT} server string to sign is:{string_to_sign}")

    @property
    def audit_message(self) -> str:
        return self._TEXT  # the string to sign holds every parameter: a Plaintext too


class IllegalTimestamp(ProtocolError):
    def __init__(self, name: str = "Timestamp") -> None:
        super().__init__(f'The input parameter "{name}" that is mandatory for processing this request is not supplied.')


class TimestampFormat(ProtocolError):
    def __init__(self, name: str = "Timestamp", form: str = "YYYY-MM-DDThh:mm:ssZ (UTC)") -> None:
        super().__init__(f'The specified parameter "{name}" is not valid: use {form}.')


class TimestampExpired(ProtocolError):
    def __init__(self) -> None:
        super().__init__("Specified time stamp or date value is expired.")


class NonceUsed(ProtocolError):
    def __init__(self) -> None:
        super().__init__("Specified signature nonce was used already.")


class ActionNotFound(ProtocolError):
    kind = d.ErrorKind.NOT_FOUND

    def __init__(self, action: str) -> None:
        super().__init__(f"Specified api is not found, please check your url and method. Action={action!r}")


class InvalidVersion(ProtocolError):
    def __init__(self, version: str) -> None:
        super().__init__(
            f"Specified api version {version!r} is not valid; openkms speaks 2016-01-20 (KMS), 2015-05-01 (RAM) "
            "and 2020-07-06 (ActionTrail)."
        )


class BodyDigestMismatch(ProtocolError):
    """The instance gateway: the body is not what ``content-sha256`` (which the signature covers) says."""

    def __init__(self) -> None:
        super().__init__("The content-sha256 header does not match the request body.")


class UnsupportedHttpMethod(ProtocolError):
    kind = d.ErrorKind.FORBIDDEN

    def __init__(self) -> None:
        super().__init__("This http method is not supported.")


class ParseRequestParameter(ProtocolError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"Server parse parameters exception. {detail}".strip())


class BodyTooLarge(ProtocolError):
    """openkms's own code: the cloud documents none for a body over its size limit."""

    kind = d.ErrorKind.TOO_LARGE

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than {limit} bytes.")


class NotAdministrator(ProtocolError):
    """The test control API (``/_openkms/``) is the administrator's alone."""

    kind = d.ErrorKind.FORBIDDEN

    def __init__(self) -> None:
        super().__init__("The control API accepts only the administrator's own AccessKey.")


class UnknownControl(ProtocolError):
    kind = d.ErrorKind.NOT_FOUND

    def __init__(self, method: str, path: str) -> None:
        super().__init__(f"No control endpoint {method} {path}.")


class NotDevMode(ProtocolError):
    """A seed export writes key material in clear: a dev server's only."""

    kind = d.ErrorKind.FORBIDDEN

    def __init__(self) -> None:
        super().__init__("Seed export is for dev mode only (openkms serve --dev): it writes key material in clear.")


class InvalidControl(ProtocolError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"The control request is not valid: {detail}.")


@dataclass(frozen=True, slots=True)
class WireError:
    status: int
    code: str
    message: str
    # Alibaba's AccessDeniedDetail for a denial (the SDKs read it into access_denied_detail).
    access_denied: dict[str, str] | None = None
    audit_message: str = ""  # what the audit trail keeps of the message (KmsError.audit_message)
    retry_after: int | None = None  # seconds, for a Retry-After header (a throttled request's)


# (class, HTTP status, code). Order does not matter: lookup walks the raised class's MRO.
_TABLE: dict[type[BaseException], tuple[int, str]] = {
    # protocol
    IncompleteSignature: (400, "IncompleteSignature"),
    SignatureDoesNotMatch: (400, "SignatureDoesNotMatch"),
    BodyDigestMismatch: (400, "SignatureDoesNotMatch"),
    IllegalTimestamp: (400, "IllegalTimestamp"),
    TimestampFormat: (400, "InvalidTimeStamp.Format"),
    TimestampExpired: (400, "InvalidTimeStamp.Expired"),
    NonceUsed: (400, "SignatureNonceUsed"),
    ActionNotFound: (404, "InvalidAction.NotFound"),
    InvalidVersion: (400, "InvalidVersion"),
    UnsupportedHttpMethod: (403, "UnsupportedHTTPMethod"),
    ParseRequestParameter: (400, "ParseRequestParameterException"),
    BodyTooLarge: (413, "RequestEntityTooLarge"),
    # identity
    d.AccessKeyNotFound: (404, "InvalidAccessKeyId.NotFound"),
    d.AccessKeyDisabled: (403, "Forbidden.AccessKey"),
    # input
    d.InvalidParameter: (400, "InvalidParameter"),
    d.MissingParameter: (400, "MissingParameter"),
    d.DryRunSucceeded: (400, "DryRunOperationError"),
    d.InvalidRegion: (400, "InvalidRegionId"),
    # lookups
    d.KeyNotFound: (404, "Forbidden.KeyNotFound"),
    d.KeyVersionNotFound: (404, "Forbidden.KeyVersionNotFound"),
    d.AliasNotFound: (404, "Forbidden.AliasNotFound"),
    d.AliasAlreadyExists: (400, "AliasAlreadyExists"),
    d.AliasNotAllowed: (400, "Unsupported.Alias"),
    d.InstanceNotFound: (404, "Forbidden.ResourceNotFound"),
    d.AccessResourceNotFound: (404, "Forbidden.ResourceNotFound"),
    d.AccessResourceExists: (409, "Rejected.ResourceExist"),
    d.AccessResourceInUse: (409, "Rejected.ResourceInUse"),
    d.ClientKeyNotFound: (404, "InvalidAccessKeyId.NotFound"),
    d.ClientKeyNotValid: (403, "Forbidden.ClientKey"),
    d.SourceNotAllowed: (403, "Forbidden.NetworkRule"),
    d.ClientKeySignatureMismatch: (400, "SignatureDoesNotMatch"),
    # secrets
    d.SecretNotFound: (404, "Forbidden.ResourceNotFound"),
    d.SecretVersionNotFound: (404, "Forbidden.ResourceNotFound"),
    d.SecretAlreadyExists: (409, "Rejected.ResourceExist"),
    d.SecretVersionConflict: (409, "Rejected.ResourceExist"),
    d.SecretPendingDeletion: (409, "Rejected.PendingDeletion"),
    # state
    d.RejectedDisabled: (409, "Rejected.Disabled"),
    d.RejectedPendingDeletion: (409, "Rejected.PendingDeletion"),
    d.RejectedPendingImport: (409, "Rejected.PendingImport"),
    d.StateModifiedFailed: (409, "Rejected.StateModifiedFailed"),
    d.DeletionProtected: (403, "Forbidden.DeletionProtection"),
    d.AccessDenied: (403, "Forbidden.RAM"),
    # capabilities
    d.UnsupportedOperation: (400, "Rejected.UnsupportedOperation"),
    d.UnsupportedKeySpec: (400, "Unsupported.KeySpec"),
    d.UnsupportedOrigin: (400, "Unsupported.Origin"),
    d.UnsupportedProtectionLevel: (400, "Unsupported.ProtectionLevel"),
    d.LimitExceeded: (400, "Rejected.LimitExceeded"),
    d.ServiceAlreadyOpened: (400, "Forbidden.Opened"),
    # quotas: the cloud's code and message for a request over its class's rate (the CreateSecret page)
    d.Throttled: (429, "Rejected.Throttling"),
    # import
    d.InvalidImportToken: (400, "InvalidImportToken"),
    d.ExpiredImportToken: (400, "ExpiredImportToken"),
    d.InvalidKeyMaterial: (400, "InvalidKeyMaterial"),
    # RAM (2015-05-01): codes name the entity or parameter, from the error's own data
    d.EntityNotExist: (404, "EntityNotExist.{entity}"),
    d.EntityAlreadyExists: (409, "EntityAlreadyExists.{entity}"),
    d.DeleteConflict: (409, "DeleteConflict.{entity}"),
    d.RamLimitExceeded: (409, "LimitExceeded.{entity}"),
    d.RamInvalidParameter: (400, "InvalidParameter.{parameter}{rule_suffix}"),
    d.MalformedPolicyDocument: (400, "MalformedPolicyDocument"),
    # ActionTrail (2020-07-06): its documented code for a parameter value it refuses
    d.InvalidLookupParameter: (400, "InvalidParameterValue"),
    # the test control API (/_openkms/), openkms's own codes
    NotAdministrator: (403, "Forbidden.NotAdministrator"),
    UnknownControl: (404, "InvalidControl.NotFound"),
    InvalidControl: (400, "InvalidControl"),
    NotDevMode: (403, "Forbidden.NotDevMode"),
    # infrastructure
    d.BackendUnavailable: (503, "ServiceUnavailableTemporary"),
    # A token object removed outside openkms: the row is intact and a token backup restores the
    # key, so it is an unavailable key store (503), not an integrity failure (500).
    d.KeyObjectMissing: (503, "ServiceUnavailableTemporary"),
    d.SecretRotationFailed: (503, "ServiceUnavailableTemporary"),
    d.AuditUnavailable: (503, "ServiceUnavailableTemporary"),
    d.IntegrityError: (500, "InternalFailure"),
}

INTERNAL = WireError(500, "InternalFailure", "Internal Failure.", None, "Internal Failure.")


# Where the RAM API (2015-05-01) answers otherwise than KMS for the same error.
RAM_OVERRIDES: dict[type[BaseException], tuple[int, str]] = {d.AccessDenied: (403, "NoPermission")}
# By the request's API version: RAM's, and ActionTrail's (which answers a denial as RAM does).
OVERRIDES: dict[str, dict[type[BaseException], tuple[int, str]]] = {
    "2015-05-01": RAM_OVERRIDES,
    "2020-07-06": RAM_OVERRIDES,
}


def to_wire(exc: BaseException, overrides: dict[type[BaseException], tuple[int, str]] | None = None) -> WireError:
    for cls in type(exc).__mro__:
        row = (overrides or {}).get(cls) or _TABLE.get(cls)
        if row is not None:
            status, code = row
            if isinstance(exc, d.IntegrityError):
                return INTERNAL  # the detail is for the operator's log, not for the caller
            if "{" in code:
                code = code.format_map(vars(exc))
            if not isinstance(exc, d.KmsError):
                return WireError(status, code, "")
            retry_after = exc.retry_after if isinstance(exc, d.Throttled) else None
            return WireError(status, code, exc.message, _detail(exc), exc.audit_message, retry_after)
    return INTERNAL


def _detail(exc: BaseException) -> dict[str, str] | None:
    if not isinstance(exc, d.AccessDenied):
        return None
    return {
        "AuthAction": exc.action,
        "AuthPrincipalType": exc.principal_type,
        "AuthPrincipalOwnerId": exc.principal_owner,
        "NoPermissionType": exc.no_permission_type,
        "PolicyType": exc.policy_type,
    }


def table() -> dict[type[BaseException], tuple[int, str]]:
    """A copy of the mapping, for tests and documentation."""
    return dict(_TABLE)
