"""How the console answers a service error: a status and a message for each kind of error, and
the field of a form that an error about one input belongs to.

The API answers the same errors through ``protocol/errors.py``'s table of Alibaba codes; the
console speaks no codes, so it reads only what each error class declares: its ``kind`` and the
``parameter`` it concerns (domain/errors.py). A new error class needs nothing here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from openkms.domain.errors import AccessDenied, ErrorKind, KmsError

INTERNAL_FAILURE = "Internal failure. The details are in the server log."
ASK_ADMIN = "Ask your administrator for a policy that allows it."

STATUS: Mapping[ErrorKind, int] = {
    ErrorKind.INVALID: 400,
    ErrorKind.CONFLICT: 400,
    ErrorKind.UNSUPPORTED: 400,
    ErrorKind.LIMIT: 400,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.THROTTLED: 429,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.STATE: 409,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.INTERNAL: 500,
}


def status_of(exc: KmsError) -> int:
    return STATUS[exc.kind]


def message_of(exc: KmsError) -> str:
    """The error's message; an internal failure's detail is for the server log only. A refusal of
    the authorizer names the action and the resource it was asked about."""
    if exc.kind is ErrorKind.INTERNAL:
        return INTERNAL_FAILURE
    if isinstance(exc, AccessDenied):
        why = "a policy denies" if exc.no_permission_type == "ExplicitDeny" else "no policy allows"
        return f"You are not allowed to do this: {why} {exc.action} on {exc.resource}. {ASK_ADMIN}"
    return exc.message


def title_of(exc: KmsError) -> str:
    """The error page's heading."""
    return "Access denied" if exc.kind is ErrorKind.FORBIDDEN else "The request failed"


def field_message(exc: KmsError) -> str:
    """Next to a field, the reason alone: the field already says which parameter it is."""
    return exc.detail or message_of(exc)


@dataclass(frozen=True)
class FormFields:
    """One form's fields: which holds each API parameter, and which shows a refusal of a kind that
    names no parameter. An error the form has no field for belongs to the form as a whole."""

    by_parameter: Mapping[str, str]
    by_kind: Mapping[ErrorKind, str] = field(default_factory=dict)

    def field_of(self, exc: KmsError, whole: str) -> str:
        if exc.parameter:
            return self.by_parameter.get(exc.parameter, whole)
        return self.by_kind.get(exc.kind, whole)


# The Create Key dialog. The one operation it can be refused that names no parameter is
# automatic rotation (for symmetric keys only).
CREATE_KEY_FIELDS = FormFields(
    {
        "KeySpec": "spec",
        "KeyUsage": "usage",
        "AliasName": "alias",
        "Description": "description",
        "RotationInterval": "rotation",
        "ProtectionLevel": "protection_level",
        "Origin": "origin",
        "PendingWindowInDays": "window",
        "Tags": "tag",
        "DKMSInstanceId": "key_store",
    },
    {ErrorKind.UNSUPPORTED: "rotation"},
)

# The import forms on a key's page. The only key spec there is the wrapping key's, and the
# operation a key store can refuse is unwrapping with the chosen algorithm.
IMPORT_FIELDS = FormFields(
    {
        "WrappingKeySpec": "wrapping_spec",
        "KeySpec": "wrapping_spec",
        "WrappingAlgorithm": "wrapping_algorithm",
        "KeyMaterialExpireUnix": "material_expiry",
        "ImportToken": "import_token",
        "EncryptedKeyMaterial": "material",
    },
    {ErrorKind.UNSUPPORTED: "wrapping_algorithm"},
)

# The Create Secret form on the Secrets page. A refusal of the chosen key (not found, disabled,
# not allowed) names no parameter of the form but is about Encryption Key.
CREATE_SECRET_FIELDS = FormFields(
    {
        "SecretName": "secret_name",
        "SecretData": "secret_data",
        "SecretDataType": "data_type",
        "EncryptionKeyId": "encryption_key",
        "KeyId": "encryption_key",
        "Description": "description",
        "VersionId": "version_id",
        "Tags": "tag",
    },
    {ErrorKind.NOT_FOUND: "encryption_key", ErrorKind.STATE: "encryption_key"},
)
