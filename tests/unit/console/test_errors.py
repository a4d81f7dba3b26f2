"""console/errors.py: the console answers every error by its kind, with the status the API gives
the same error, hides an internal failure's detail, and puts an error about one input next to
the form field that holds it."""

from __future__ import annotations

import pytest

from openkms.console.errors import (
    CREATE_KEY_FIELDS,
    IMPORT_FIELDS,
    INTERNAL_FAILURE,
    STATUS,
    field_message,
    message_of,
    status_of,
)
from openkms.domain import errors as d
from openkms.domain.errors import ErrorKind
from openkms.protocol.errors import to_wire
from tests.unit.protocol.test_errors import CONCRETE, DOMAIN, _instance


def test_every_kind_has_a_status() -> None:
    assert set(STATUS) == set(ErrorKind)


# The RAM API's errors answer RAM's own statuses (409 for a conflict); the console answers them by
# kind like every other error.
KMS_DOMAIN = [c for c in CONCRETE if c in DOMAIN and getattr(c, "api", "kms") == "kms"]


@pytest.mark.parametrize("cls", KMS_DOMAIN, ids=lambda c: c.__name__)
def test_the_console_answers_each_error_with_the_api_status(cls: type[BaseException]) -> None:
    exc = _instance(cls)
    assert isinstance(exc, d.KmsError)
    assert status_of(exc) == to_wire(exc).status


def test_an_internal_failure_keeps_its_detail_for_the_log() -> None:
    exc = d.IntegrityError("key material of version 86a9efd9")
    assert (status_of(exc), message_of(exc), field_message(exc)) == (500, INTERNAL_FAILURE, INTERNAL_FAILURE)

    class Unclassified(d.KmsError):
        pass

    assert (status_of(Unclassified("secret")), message_of(Unclassified("secret"))) == (500, INTERNAL_FAILURE)


def test_next_to_a_field_the_reason_alone() -> None:
    assert field_message(d.InvalidParameter("AliasName", "Too long.")) == "Too long."
    assert field_message(d.AliasAlreadyExists()) == "AliasName Already Exists."
    assert field_message(d.RejectedDisabled()) == d.RejectedDisabled().message


@pytest.mark.parametrize(
    ("exc", "field"),
    [
        (d.InvalidParameter("KeySpec", "x"), "spec"),
        (d.InvalidParameter("KeyUsage", "x"), "usage"),
        (d.MissingParameter("AliasName"), "alias"),
        (d.InvalidParameter("Description", "x"), "description"),
        (d.MissingParameter("RotationInterval"), "rotation"),
        (d.InvalidParameter("DKMSInstanceId", "x"), "key_store"),
        (d.InvalidParameter("ProtectionLevel", "x"), "protection_level"),
        (d.InvalidParameter("Policy", "x"), "form"),
        (d.UnsupportedKeySpec("x"), "spec"),
        (d.UnsupportedOrigin("x"), "origin"),
        (d.UnsupportedProtectionLevel("x"), "protection_level"),
        (d.AliasAlreadyExists(), "alias"),
        (d.AliasNotFound(), "alias"),
        (d.UnsupportedOperation("Automatic rotation is only for symmetric keys."), "rotation"),
        (d.LimitExceeded("x"), "form"),
        (d.AccessDenied("kms:CreateKey", "acs:kms:cn-hangzhou:1:key"), "form"),
        (d.BackendUnavailable("x"), "form"),
    ],
)
def test_create_key_dialog_fields(exc: d.KmsError, field: str) -> None:
    assert CREATE_KEY_FIELDS.field_of(exc, "form") == field


@pytest.mark.parametrize(
    ("exc", "field"),
    [
        (d.InvalidParameter("WrappingKeySpec", "x"), "wrapping_spec"),
        (d.InvalidParameter("WrappingAlgorithm", "x"), "wrapping_algorithm"),
        (d.InvalidParameter("KeyMaterialExpireUnix", "x"), "material_expiry"),
        (d.MissingParameter("ImportToken"), "import_token"),
        (d.InvalidImportToken(), "import_token"),
        (d.ExpiredImportToken(), "import_token"),
        (d.InvalidKeyMaterial("x"), "material"),
        (d.UnsupportedKeySpec("The token cannot make RSA_2048 wrapping keys."), "wrapping_spec"),
        (d.UnsupportedOperation("The PKCS#11 token cannot decrypt or unwrap RSAES_OAEP_SHA_1."), "wrapping_algorithm"),
        (d.UnsupportedOrigin("Only keys created with Origin=EXTERNAL take imported material."), "import-material"),
        (d.InvalidParameter("KeyId", "x"), "import-material"),
        (d.RejectedPendingDeletion(), "import-material"),
    ],
)
def test_import_form_fields(exc: d.KmsError, field: str) -> None:
    assert IMPORT_FIELDS.field_of(exc, "import-material") == field
