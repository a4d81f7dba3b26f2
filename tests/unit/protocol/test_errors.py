"""protocol/errors.py: every error class has a row (HTTP status + Alibaba code, spec section 5),
anything unmapped is a 500 InternalFailure with no detail, and IntegrityError never leaks."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from openkms.domain import errors as d
from openkms.protocol import errors as p
from openkms.protocol.errors import INTERNAL, table, to_wire

# Bases that are never raised themselves: each concrete subclass has its own row.
ABSTRACT: set[type[BaseException]] = {d.KmsError, d.NotFound, d.StateRejected, d.RamError, p.ProtocolError}

# Spec section 5 (and 1.9 for the protocol rows): code -> HTTP status.
SPEC_STATUS = {
    "InternalFailure": 500,
    "ServiceUnavailableTemporary": 503,
    "InvalidAccessKeyId.NotFound": 404,
    "Forbidden.KeyNotFound": 404,
    "Forbidden.KeyVersionNotFound": 404,
    "Forbidden.AliasNotFound": 404,
    # Secrets Manager (docs/shared spec: secrets-and-instance-gateway.md section 3, the API reference)
    "Forbidden.ResourceNotFound": 404,
    "Rejected.ResourceExist": 409,
    "Forbidden.AccessKey": 403,
    "Forbidden.RAM": 403,
    # RAM 2015-05-01 (docs/reference/ram-2015-05-01.md section 4): the code names the entity
    "EntityNotExist.{entity}": 404,
    "EntityAlreadyExists.{entity}": 409,
    "DeleteConflict.{entity}": 409,
    "LimitExceeded.{entity}": 409,
    "InvalidParameter.{parameter}{rule_suffix}": 400,
    "MalformedPolicyDocument": 400,  # RAM API reference: a request no policy allows
    "UnsupportedHTTPMethod": 403,
    "ParseRequestParameterException": 400,
    "MissingParameter": 400,
    "InvalidParameter": 400,
    "IncompleteSignature": 400,
    "IllegalTimestamp": 400,
    "InvalidTimeStamp.Expired": 400,
    "InvalidTimeStamp.Format": 400,
    "SignatureNonceUsed": 400,
    "SignatureDoesNotMatch": 400,
    "Rejected.LimitExceeded": 400,
    "Rejected.Throttling": 429,  # the CreateSecret page; its Message "QPS Limit Exceeded"
    "AliasAlreadyExists": 400,
    "InvalidKeyMaterial": 400,
    "InvalidImportToken": 400,
    "ExpiredImportToken": 400,
    "Unsupported.Origin": 400,
    "Unsupported.Alias": 400,
    "Unsupported.ProtectionLevel": 400,
    "Unsupported.KeySpec": 400,
    "Rejected.UnsupportedOperation": 400,
    "Rejected.StateModifiedFailed": 409,
    "Rejected.Disabled": 409,
    "Rejected.PendingDeletion": 409,
    "Rejected.PendingImport": 409,
    "Forbidden.Opened": 400,
    "DryRunOperationError": 400,
    "InvalidAction.NotFound": 404,
    "InvalidVersion": 400,
    "Forbidden.DeletionProtection": 403,
    "InvalidRegionId": 400,
    # ActionTrail 2020-07-06's common code for a parameter value it refuses (LookupEvents)
    "InvalidParameterValue": 400,
    # openkms's own (the cloud documents no code for it): a body over [http] max_body_bytes.
    "RequestEntityTooLarge": 413,
    # openkms's own: the test control API (/_openkms/), which is no Alibaba API.
    "Forbidden.NotAdministrator": 403,
    "InvalidControl.NotFound": 404,
    "InvalidControl": 400,
    # openkms's own (the cloud documents none): deleting an access point, policy or network rule still named
    "Rejected.ResourceInUse": 409,
    # openkms's own: the instance gateway's client key outside its validity window
    "Forbidden.ClientKey": 403,
    "Forbidden.NetworkRule": 403,
    "Forbidden.NotDevMode": 403,
}


def _classes(module: Any, base: type[BaseException]) -> list[type[BaseException]]:
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, base) and cls.__module__ == module.__name__
    ]


DOMAIN = _classes(d, d.KmsError)
PROTOCOL = _classes(p, p.ProtocolError)
CONCRETE = [c for c in DOMAIN + PROTOCOL if c not in ABSTRACT]


def _instance(cls: type[BaseException]) -> BaseException:
    """Build any error class, giving every required argument a harmless placeholder."""
    args = [
        f"placeholder-{name}"
        for name, param in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and param.default is inspect.Parameter.empty and param.kind is param.POSITIONAL_OR_KEYWORD
    ]
    return cls(*args)


def test_the_walk_found_the_error_modules() -> None:
    assert d.InvalidParameter in DOMAIN
    assert d.IntegrityError in DOMAIN
    assert p.SignatureDoesNotMatch in PROTOCOL
    assert len(CONCRETE) >= 38


# Concrete classes that deliberately share their parent's row instead of having their own.
INHERITS: dict[type[BaseException], type[BaseException]] = {d.InvalidCiphertext: d.InvalidParameter}


def _row_class(cls: type[BaseException]) -> type[BaseException] | None:
    return next((c for c in cls.__mro__ if c in table()), None)


@pytest.mark.parametrize("cls", CONCRETE, ids=lambda c: c.__name__)
def test_every_concrete_error_class_maps_to_a_row(cls: type[BaseException]) -> None:
    row = _row_class(cls)
    assert row is not None, f"{cls.__name__} has no row in protocol/errors.py"
    # Its own row unless listed above: each class was given its code on purpose.
    assert row is INHERITS.get(cls, cls)
    status, code = table()[row]
    assert SPEC_STATUS[code] == status, f"{cls.__name__}: {code} should be HTTP {SPEC_STATUS[code]}"


@pytest.mark.parametrize("cls", CONCRETE, ids=lambda c: c.__name__)
def test_to_wire_uses_the_row(cls: type[BaseException]) -> None:
    exc = _instance(cls)
    wire = to_wire(exc)
    row = _row_class(cls)
    assert row is not None
    status, code = table()[row]
    assert (wire.status, wire.code) == (status, code.format_map(vars(exc)) if "{" in code else code)
    if cls is d.IntegrityError:
        assert wire == INTERNAL
    else:
        assert isinstance(exc, d.KmsError)
        assert wire.message == exc.message
        assert wire.message


def test_every_row_is_a_known_class() -> None:
    assert set(table()) <= set(CONCRETE)


@pytest.mark.parametrize("cls", sorted(ABSTRACT, key=str), ids=str)
def test_abstract_bases_have_no_row(cls: type[BaseException]) -> None:
    # A bare base raised by mistake is an internal failure, not a guess at a code.
    assert cls not in table()


def test_unmapped_errors_are_internal_failure_without_detail() -> None:
    class Surprise(d.KmsError):
        pass

    for exc in (
        RuntimeError("db password is hunter2"),
        ValueError("material=00112233"),
        KeyError("x"),
        Surprise("secret detail"),
        d.KmsError("secret detail"),
    ):
        wire = to_wire(exc)
        assert wire == INTERNAL
        assert (wire.status, wire.code, wire.message) == (500, "InternalFailure", "Internal Failure.")


def test_integrity_error_never_leaks_its_message() -> None:
    exc = d.IntegrityError("key material of version 86a9efd9")
    assert "86a9efd9" in exc.message  # the detail exists, for the operator's log
    wire = to_wire(exc)
    assert (wire.status, wire.code, wire.message) == (500, "InternalFailure", "Internal Failure.")
    assert "86a9efd9" not in wire.message


def test_subclasses_inherit_a_parent_row_through_the_mro() -> None:
    class NarrowerAliasError(d.AliasNotFound):
        pass

    assert to_wire(NarrowerAliasError()).code == "Forbidden.AliasNotFound"
    # InvalidCiphertext is an InvalidParameter with its own message.
    wire = to_wire(d.InvalidCiphertext())
    assert (wire.status, wire.code) == (400, "InvalidParameter")
    assert "CiphertextBlob" in wire.message


def test_signature_mismatch_message_ends_with_the_string_to_sign() -> None:
    # The old SDK splits the message on ':' and compares part [1] with its string to sign.
    sts = "POST&%2F&AccessKeyId%3Dtestid"
    wire = to_wire(p.SignatureDoesNotMatch(sts))
    assert wire.message.endswith(f"server string to sign is:{sts}")
    assert wire.message.split(":")[1] == sts


def test_documented_messages() -> None:
    assert to_wire(d.KeyNotFound("x")).message == "The specified Key is not found."
    assert to_wire(d.MissingParameter("KeyId")).message == 'The parameter "KeyId" is needed but not provided.'
    assert to_wire(d.InvalidParameter("KeyId")).message == 'The specified parameter "KeyId" is not valid.'
    assert to_wire(p.NonceUsed()).message == "Specified signature nonce was used already."
    assert to_wire(p.TimestampExpired()).message == "Specified time stamp or date value is expired."
    assert to_wire(d.AccessKeyDisabled()).message == "This AccessKey is not enabled."
    assert to_wire(d.BackendUnavailable()).message == "Service Unavailable Temporary."


# --- kinds: what the console (which speaks no Alibaba codes) answers by ---------------------------


def _declared_kind(cls: type[BaseException]) -> d.ErrorKind | None:
    """The kind ``cls`` or a parent below KmsError declares; None when only KmsError's default
    (an internal failure) would apply."""
    owner = next(c for c in cls.__mro__ if "kind" in vars(c) or c is d.KmsError)
    return None if owner is d.KmsError else vars(owner)["kind"]


def test_a_class_without_a_kind_is_caught() -> None:
    class Forgotten(d.KmsError):
        pass

    class Narrower(d.KeyNotFound):
        pass

    assert _declared_kind(Forgotten) is None
    assert Forgotten().kind is d.ErrorKind.INTERNAL  # undeclared: answered as an internal failure
    assert _declared_kind(Narrower) is d.ErrorKind.NOT_FOUND


@pytest.mark.parametrize("cls", CONCRETE, ids=lambda c: c.__name__)
def test_every_concrete_error_class_declares_a_kind(cls: type[BaseException]) -> None:
    kind = _declared_kind(cls)
    assert isinstance(kind, d.ErrorKind), f"{cls.__name__} declares no kind (domain/errors.py: ErrorKind)"


def test_the_kind_decides_the_status() -> None:
    # What lets the console answer by kind alone with the status the API gives the same error
    # (tests/unit/console/test_errors.py): classes of one kind share one HTTP status on the wire.
    statuses: dict[d.ErrorKind, set[int]] = {}
    for cls in CONCRETE:
        if getattr(cls, "api", "kms") == "ram":  # RAM's statuses are its own (409 for a conflict)
            continue
        kind, row = _declared_kind(cls), _row_class(cls)
        assert kind is not None
        assert row is not None
        statuses.setdefault(kind, set()).add(table()[row][0])
    assert set(statuses) == set(d.ErrorKind)  # every kind is in use
    mixed = {kind: found for kind, found in statuses.items() if len(found) > 1}
    assert mixed == {}, f"classes of one kind answer different statuses: {mixed}"


@pytest.mark.parametrize("cls", CONCRETE, ids=lambda c: c.__name__)
def test_the_parameter_an_error_concerns_is_text(cls: type[BaseException]) -> None:
    exc = _instance(cls)
    assert isinstance(exc, d.KmsError)
    assert isinstance(exc.parameter, str)


def test_errors_about_one_parameter_name_it() -> None:
    assert d.InvalidParameter("KeySpec", "no").parameter == "KeySpec"
    assert d.MissingParameter("AliasName").parameter == "AliasName"
    assert d.InvalidCiphertext().parameter == "CiphertextBlob"
    assert d.UnsupportedProtectionLevel().parameter == "ProtectionLevel"
    assert d.ExpiredImportToken().parameter == "ImportToken"
    assert d.LimitExceeded().parameter == ""
