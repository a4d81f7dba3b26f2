"""ReEncrypt (spec 3.5; test plan 8): decrypt under the source context, encrypt again under the
destination key and context, all on the server."""

from __future__ import annotations

import base64

from tests.e2e.clients import Kms
from tests.e2e.expect import expect_error

SOURCE = {"stage": "source", "n": "1"}
DEST = {"stage": "destination"}


def new_key(kms: Kms) -> tuple[str, str]:
    meta = kms.call("CreateKey")["KeyMetadata"]
    return meta["KeyId"], meta["PrimaryKeyVersion"]


def test_reencrypt_to_a_second_key_with_contexts(kms: Kms) -> None:
    a, _ = new_key(kms)
    b, b_version = new_key(kms)
    blob = kms.call("Encrypt", KeyId=a, Plaintext="hello wörld *~", EncryptionContext=SOURCE)["CiphertextBlob"]
    out = kms.call(
        "ReEncrypt",
        CiphertextBlob=blob,
        DestinationKeyId=b,
        SourceEncryptionContext={"n": "1", "stage": "source"},  # any order
        DestinationEncryptionContext=DEST,
    )
    # openkms reports the destination key and version (the cloud's docs are ambiguous).
    assert (out["KeyId"], out["KeyVersionId"]) == (b, b_version)
    new_blob = out["CiphertextBlob"]
    assert base64.b64decode(new_blob)[:36].decode() == b_version
    back = kms.call("Decrypt", CiphertextBlob=new_blob, EncryptionContext=DEST)
    assert (back["Plaintext"], back["KeyId"]) == ("hello wörld *~", b)
    # The new blob is bound to the destination context only.
    expect_error(400, "InvalidParameter", kms, "Decrypt", CiphertextBlob=new_blob, EncryptionContext=SOURCE)
    expect_error(400, "InvalidParameter", kms, "Decrypt", CiphertextBlob=new_blob)
    # The old blob is untouched.
    assert kms.call("Decrypt", CiphertextBlob=blob, EncryptionContext=SOURCE)["Plaintext"] == "hello wörld *~"


def test_reencrypt_to_the_same_key_by_alias_without_contexts(kms: Kms) -> None:
    a, version = new_key(kms)
    kms.call("CreateAlias", AliasName="alias/re", KeyId=a)
    blob = kms.call("Encrypt", KeyId=a, Plaintext="same")["CiphertextBlob"]
    out = kms.call("ReEncrypt", CiphertextBlob=blob, DestinationKeyId="alias/re")
    assert (out["KeyId"], out["KeyVersionId"]) == (a, version)
    assert out["CiphertextBlob"] != blob
    assert kms.call("Decrypt", CiphertextBlob=out["CiphertextBlob"])["Plaintext"] == "same"


def test_reencrypt_data_key_keeps_the_invariant(kms: Kms) -> None:
    a, _ = new_key(kms)
    b, _ = new_key(kms)
    dk = kms.call("GenerateDataKey", KeyId=a, EncryptionContext=SOURCE)
    out = kms.call(
        "ReEncrypt",
        CiphertextBlob=dk["CiphertextBlob"],
        DestinationKeyId=b,
        SourceEncryptionContext=SOURCE,
        DestinationEncryptionContext=DEST,
    )
    back = kms.call("Decrypt", CiphertextBlob=out["CiphertextBlob"], EncryptionContext=DEST)
    assert back["Plaintext"] == dk["Plaintext"]


def test_reencrypt_errors(kms: Kms) -> None:
    a, _ = new_key(kms)
    b, _ = new_key(kms)
    blob = kms.call("Encrypt", KeyId=a, Plaintext="p", EncryptionContext=SOURCE)["CiphertextBlob"]
    ok_params = {"CiphertextBlob": blob, "DestinationKeyId": b, "SourceEncryptionContext": SOURCE}
    # Wrong or missing source context.
    expect_error(400, "InvalidParameter", kms, "ReEncrypt", CiphertextBlob=blob, DestinationKeyId=b)
    expect_error(400, "InvalidParameter", kms, "ReEncrypt", **{**ok_params, "SourceEncryptionContext": {"stage": "x"}})
    expect_error(400, "InvalidParameter", kms, "ReEncrypt", **{**ok_params, "DestinationEncryptionContext": {"n": 1}})
    expect_error(400, "MissingParameter", kms, "ReEncrypt", CiphertextBlob=blob, SourceEncryptionContext=SOURCE)
    expect_error(400, "MissingParameter", kms, "ReEncrypt", DestinationKeyId=b)
    expect_error(400, "InvalidParameter", kms, "ReEncrypt", **{**ok_params, "CiphertextBlob": "%%%"})
    expect_error(404, "Forbidden.AliasNotFound", kms, "ReEncrypt", **{**ok_params, "DestinationKeyId": "alias/no"})
    # DryRun: success is reported as DryRunOperationError, failure as the failure.
    expect_error(400, "DryRunOperationError", kms, "ReEncrypt", **ok_params, DryRun="true")
    # Source and destination states both matter.
    kms.call("DisableKey", KeyId=b)
    expect_error(409, "Rejected.Disabled", kms, "ReEncrypt", **ok_params)
    expect_error(409, "Rejected.Disabled", kms, "ReEncrypt", **ok_params, DryRun="true")
    kms.call("EnableKey", KeyId=b)
    kms.call("DisableKey", KeyId=a)
    expect_error(409, "Rejected.Disabled", kms, "ReEncrypt", **ok_params)
    kms.call("EnableKey", KeyId=a)
    kms.call("ScheduleKeyDeletion", KeyId=b, PendingWindowInDays=7)
    expect_error(409, "Rejected.PendingDeletion", kms, "ReEncrypt", **ok_params)
    kms.call("CancelKeyDeletion", KeyId=b)
    assert kms.call("ReEncrypt", **ok_params)["KeyId"] == b
