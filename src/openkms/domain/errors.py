"""The domain's error hierarchy.

Errors carry data (which parameter, which state), never an HTTP status or an Alibaba code:
``protocol/errors.py`` maps each class to those in one table. Messages must never contain
plaintext, key material or secrets; they may name parameters and identifiers.
"""

from __future__ import annotations


class KmsError(Exception):
    """Base of every error the service layer raises on purpose.

    ``detail`` is the part of the message that says why, without the API's fixed wording (the
    console shows it next to a form field); empty when the message has no such part.
    """

    detail: str = ""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


# --- input --------------------------------------------------------------------------------------


class InvalidParameter(KmsError):
    def __init__(self, name: str, reason: str = "") -> None:
        text = f'The specified parameter "{name}" is not valid.'
        super().__init__(f"{text} {reason}".strip())
        self.name = name
        self.reason = reason
        self.detail = reason


class MissingParameter(KmsError):
    def __init__(self, name: str) -> None:
        super().__init__(f'The parameter "{name}" is needed but not provided.')
        self.name = name


class InvalidCiphertext(InvalidParameter):
    """The blob is malformed, was tampered with, or its EncryptionContext does not match."""

    def __init__(self) -> None:
        super().__init__(
            "CiphertextBlob",
            "The ciphertext is corrupt or the EncryptionContext does not match the one used to encrypt.",
        )


class DryRunSucceeded(KmsError):
    """DryRun=true and the request would have succeeded."""

    def __init__(self) -> None:
        super().__init__("Request would have succeeded, but DryRun flag is set.")


# --- lookups ------------------------------------------------------------------------------------


class NotFound(KmsError):
    pass


class KeyNotFound(NotFound):
    def __init__(self, key_id: str = "") -> None:
        super().__init__("The specified Key is not found.")
        self.key_id = key_id


class KeyVersionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("The specified Key version is not found.")


class AliasNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("The specified Alias is not found.")


class AliasAlreadyExists(KmsError):
    def __init__(self) -> None:
        super().__init__("AliasName Already Exists.")


class AliasNotAllowed(KmsError):
    """An alias was given where the API takes only a key id."""

    def __init__(self) -> None:
        super().__init__("Alias is not valid for this api.")


# --- key state ----------------------------------------------------------------------------------


class StateRejected(KmsError):
    """The key's state forbids the operation; the subclass says which state."""


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
    def __init__(self) -> None:
        super().__init__(
            "The key is protected from deletion. Disable deletion protection (SetDeletionProtection) first."
        )


# --- capabilities -------------------------------------------------------------------------------


class UnsupportedOperation(KmsError):
    def __init__(self, detail: str = "") -> None:
        super().__init__(f"Unsupported operation. {detail}".strip())
        self.detail = detail


class UnsupportedKeySpec(KmsError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnsupportedOrigin(KmsError):
    def __init__(self, detail: str = "") -> None:
        super().__init__(f"This key origin is not valid for this api. {detail}".strip())
        self.detail = detail


class UnsupportedProtectionLevel(KmsError):
    def __init__(self, detail: str = "") -> None:
        super().__init__(f"This protection level is not valid for this region. {detail}".strip())
        self.detail = detail


class LimitExceeded(KmsError):
    def __init__(self, detail: str = "") -> None:
        super().__init__(f"The request was rejected because user create resource limit was exceeded. {detail}".strip())


class ServiceAlreadyOpened(KmsError):
    def __init__(self) -> None:
        super().__init__("Your kms service has been opened.")


class InvalidRegion(KmsError):
    def __init__(self, region: str) -> None:
        super().__init__(f"The specified region {region!r} does not exist in this openkms catalogue.")
        self.region = region


# --- import ---------------------------------------------------------------------------------------


class InvalidImportToken(KmsError):
    def __init__(self) -> None:
        super().__init__("import token is invalid.")


class ExpiredImportToken(KmsError):
    def __init__(self) -> None:
        super().__init__("import token is expired.")


class InvalidKeyMaterial(KmsError):
    def __init__(self, detail: str = "") -> None:
        super().__init__(f"key material is invalid. {detail}".strip())


# --- identity -----------------------------------------------------------------------------------


class AccessKeyNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Specified access key is not found.")


class AccessKeyDisabled(KmsError):
    def __init__(self) -> None:
        super().__init__("This AccessKey is not enabled.")


class AccessDenied(KmsError):
    """The authorizer refused: no policy allows the action on the resource, or one denies it.

    Carries what Alibaba's ``AccessDeniedDetail`` reports; never the policies themselves.
    """

    def __init__(
        self, action: str, resource: str, explicit: bool = False, principal_type: str = "", policy_type: str = ""
    ) -> None:
        super().__init__("User not authorized to operate on the specified resource, or this API doesn't support RAM.")
        self.action = action
        self.resource = resource
        self.no_permission_type = "ExplicitDeny" if explicit else "ImplicitDeny"
        self.principal_type = principal_type
        self.policy_type = policy_type


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
    family = ""

    def __init__(self, entity: str) -> None:
        super().__init__(_RAM_MESSAGES[(self.family, entity)])
        self.entity = entity


class EntityNotExist(RamError):
    family = "EntityNotExist"


class EntityAlreadyExists(RamError):
    family = "EntityAlreadyExists"


class DeleteConflict(RamError):
    family = "DeleteConflict"


class RamLimitExceeded(RamError):
    family = "LimitExceeded"


_RAM_PARAMETER_MESSAGES = {
    "Length": 'The parameter - "{}" beyond the length limit.',
    "InvalidChars": 'The parameter - "{}" contains invalid chars.',
    "Format": 'The format of the parameter - "{}" is incorrect.',
    "": 'The parameter - "{}" is incorrect.',
}


class RamInvalidParameter(KmsError):
    """A RAM parameter that breaks its rule (Length, InvalidChars, Format, or "" for a value
    outside its set): code ``InvalidParameter.<parameter>[.<rule>]``, RAM's documented wording."""

    def __init__(self, parameter: str, rule: str = "") -> None:
        super().__init__(_RAM_PARAMETER_MESSAGES[rule].format(parameter))
        self.parameter = parameter
        self.rule = rule
        self.detail = self.message


class MalformedPolicyDocument(KmsError):
    """A policy that breaks RAM's grammar; the message names the line of the first problem."""

    def __init__(self, reason: str, line: int) -> None:
        super().__init__(f"The policy document is malformed: line {line}: {reason}")
        self.reason = reason
        self.line = line
        self.detail = f"line {line}: {reason}"


# --- infrastructure -----------------------------------------------------------------------------


class BackendUnavailable(KmsError):
    """A storage or crypto backend cannot serve now; the caller may retry."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"Service Unavailable Temporary. {detail}".strip())


class KeyObjectMissing(BackendUnavailable):
    """A key store no longer holds the object a reference names: it was destroyed outside
    openkms. Not an integrity failure of the data (the row is intact), and restoring the object
    from the token's backup brings the key back, so callers get a 503 rather than a 500."""

    def __init__(self, subject: str, key_store: str = "") -> None:
        where = f"key store {key_store}" if key_store else "its PKCS#11 token"
        super().__init__(f"The token object of {subject} is missing from {where} (removed outside openkms).")
        self.subject = subject
        self.key_store = key_store


class IntegrityError(KmsError):
    """Sealed data failed authentication: the store was tampered with or the root key is wrong."""

    def __init__(self, what: str) -> None:
        super().__init__(f"Sealed {what} failed authentication.")
