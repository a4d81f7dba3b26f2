"""Encrypt and Decrypt through both SDK generations (spec 3.5, 4.3, 4.9, 4.10; test plan 6, 15).

Plaintext is opaque text, the EncryptionContext is bound order-independently, Decrypt needs only
the blob, and every malformed or foreign blob gets a clear 4xx code, never a 500.
"""

from __future__ import annotations

import base64
import uuid

import pytest

from openkms.domain import ciphertext as layout
from tests.e2e.clients import Kms
from tests.e2e.expect import expect_error, expect_wire, ok
from tests.e2e.signed import Signer
from tests.servers import InProcessServer

ODD_STRINGS = [
    "hello wörld *~",
    "a+b c",
    "  leading and trailing spaces  ",
    "   ",
    "100% = 1/1 & more?#frag",
    "中文 ✓ 😀 ümlaut",
    "tab\there\nnew line\r\nCRLF",
    "aGVsbG8=",  # looks like base64: must come back as these 8 characters, not as "hello"
    '\'"<xml attr="x">&amp;</xml>',
    "~!@#$^&*()_+-={}[]|\\:;,./`",
    "%20%2B%",
]


def new_key(kms: Kms, **params: str) -> str:
    key_id: str = kms.call("CreateKey", **params)["KeyMetadata"]["KeyId"]
    return key_id


def encrypt(kms: Kms, key_id: str, plaintext: str, **params: object) -> str:
    blob: str = kms.call("Encrypt", KeyId=key_id, Plaintext=plaintext, **params)["CiphertextBlob"]
    return blob


def tamper(blob: str, index: int) -> str:
    raw = bytearray(base64.b64decode(blob))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_odd_strings_round_trip_exactly(kms: Kms) -> None:
    key_id = new_key(kms)
    for text in ODD_STRINGS:
        out = kms.call("Encrypt", KeyId=key_id, Plaintext=text)
        assert out["KeyId"] == key_id
        assert out["RequestId"]
        back = kms.call("Decrypt", CiphertextBlob=out["CiphertextBlob"])
        assert back["Plaintext"] == text, text
        assert (back["KeyId"], back["KeyVersionId"]) == (key_id, out["KeyVersionId"])


@pytest.mark.parametrize("spec", ["Aliyun_AES_256", "Aliyun_AES_128", "Aliyun_AES_192", "Aliyun_SM4"])
def test_every_symmetric_spec(kms: Kms, spec: str) -> None:
    meta = kms.call("CreateKey", KeySpec=spec)["KeyMetadata"]
    assert (meta["KeySpec"], meta["KeyUsage"]) == (spec, "ENCRYPT/DECRYPT")
    out = kms.call("Encrypt", KeyId=meta["KeyId"], Plaintext="hello wörld *~", EncryptionContext={"s": spec})
    assert out["KeyVersionId"] == meta["PrimaryKeyVersion"]
    back = kms.call("Decrypt", CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"s": spec})
    assert back["Plaintext"] == "hello wörld *~"
    dk = kms.call("GenerateDataKey", KeyId=meta["KeyId"])
    assert kms.call("Decrypt", CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    # Across specs: re-encrypt to a key of the default spec and back.
    other = new_key(kms)
    moved = kms.call(
        "ReEncrypt", CiphertextBlob=out["CiphertextBlob"], DestinationKeyId=other, SourceEncryptionContext={"s": spec}
    )
    back_again = kms.call("ReEncrypt", CiphertextBlob=moved["CiphertextBlob"], DestinationKeyId=meta["KeyId"])
    assert back_again["KeyId"] == meta["KeyId"]
    assert kms.call("Decrypt", CiphertextBlob=back_again["CiphertextBlob"])["Plaintext"] == "hello wörld *~"


def test_plaintext_is_opaque_text_not_base64(kms: Kms) -> None:
    key_id = new_key(kms)
    blob = encrypt(kms, key_id, "aGVsbG8=")
    # The blob holds the 8 bytes of the text, not the 5 bytes "hello" it would decode to.
    assert len(base64.b64decode(blob)) == layout.MIN_LEN + 8
    assert kms.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "aGVsbG8="
    # Text that is not base64 at all is just as acceptable.
    assert kms.call("Decrypt", CiphertextBlob=encrypt(kms, key_id, "not base64 !"))["Plaintext"] == "not base64 !"


def test_blob_names_the_key_version_first(kms: Kms) -> None:
    key_id = new_key(kms)
    out = kms.call("Encrypt", KeyId=key_id, Plaintext="x")
    raw = base64.b64decode(out["CiphertextBlob"])
    assert raw[: layout.VERSION_ID_LEN].decode("ascii") == out["KeyVersionId"]
    # A fresh salt and nonce each time: the same plaintext never gives the same blob.
    assert encrypt(kms, key_id, "x") != out["CiphertextBlob"]


def test_six_kilobytes_is_the_limit_in_bytes(kms: Kms) -> None:
    key_id = new_key(kms)
    for text in ("x" * 6144, "€" * 2048):  # both exactly 6144 UTF-8 bytes
        assert kms.call("Decrypt", CiphertextBlob=encrypt(kms, key_id, text))["Plaintext"] == text
    for text in ("x" * 6145, "€" * 2048 + "x"):
        err = expect_error(400, "InvalidParameter", kms, "Encrypt", KeyId=key_id, Plaintext=text)
        assert "Plaintext" in err.message


def test_asymmetric_keys_cannot_encrypt_symmetrically(kms: Kms) -> None:
    signing = kms.call("CreateKey", KeySpec="EC_P256", KeyUsage="SIGN/VERIFY")["KeyMetadata"]["KeyId"]
    expect_error(400, "Rejected.UnsupportedOperation", kms, "Encrypt", KeyId=signing, Plaintext="x")
    expect_error(400, "Rejected.UnsupportedOperation", kms, "GenerateDataKey", KeyId=signing)
    blob = encrypt(kms, new_key(kms), "x")
    expect_error(400, "Rejected.UnsupportedOperation", kms, "ReEncrypt", CiphertextBlob=blob, DestinationKeyId=signing)


def test_empty_plaintext_is_a_missing_parameter(kms: Kms) -> None:
    key_id = new_key(kms)
    expect_error(400, "MissingParameter", kms, "Encrypt", KeyId=key_id, Plaintext="")
    expect_error(400, "MissingParameter", kms, "Encrypt", KeyId=key_id)
    expect_error(400, "MissingParameter", kms, "Encrypt", Plaintext="x")


def test_key_id_as_alias_or_arn_reports_the_key_id(kms: Kms) -> None:
    meta = kms.call("CreateKey")["KeyMetadata"]
    kms.call("CreateAlias", AliasName="alias/enc-test", KeyId=meta["KeyId"])
    for ref in ("alias/enc-test", meta["Arn"]):
        out = kms.call("Encrypt", KeyId=ref, Plaintext="via " + ref)
        assert out["KeyId"] == meta["KeyId"]
        assert kms.call("Decrypt", CiphertextBlob=out["CiphertextBlob"])["Plaintext"] == "via " + ref
    expect_error(404, "Forbidden.AliasNotFound", kms, "Encrypt", KeyId="alias/nope", Plaintext="x")
    expect_error(404, "Forbidden.KeyNotFound", kms, "Encrypt", KeyId=str(uuid.uuid4()), Plaintext="x")


# --- EncryptionContext ----------------------------------------------------------------------------


def test_context_is_order_independent_and_must_match(kms: Kms) -> None:
    key_id = new_key(kms)
    blob = encrypt(kms, key_id, "hello wörld *~", EncryptionContext={"a": "1", "b": "2"})
    out = kms.call("Decrypt", CiphertextBlob=blob, EncryptionContext={"b": "2", "a": "1"})
    assert out["Plaintext"] == "hello wörld *~"
    wrong: list[dict[str, str] | None] = [
        None,  # missing
        {},  # empty is the same as missing
        {"a": "1"},  # a pair short
        {"a": "1", "b": "2", "c": "3"},  # an extra pair
        {"a": "1", "b": "3"},  # another value
        {"A": "1", "b": "2"},  # keys are case-sensitive
        {"a": "1 ", "b": "2"},  # values are compared exactly
    ]
    for ctx in wrong:
        err = expect_error(400, "InvalidParameter", kms, "Decrypt", CiphertextBlob=blob, EncryptionContext=ctx)
        assert "CiphertextBlob" in err.message
        assert "hello" not in err.message


def test_no_context_on_encrypt_means_none_on_decrypt(kms: Kms) -> None:
    key_id = new_key(kms)
    blob = encrypt(kms, key_id, "plain")
    assert kms.call("Decrypt", CiphertextBlob=blob, EncryptionContext={})["Plaintext"] == "plain"
    expect_error(400, "InvalidParameter", kms, "Decrypt", CiphertextBlob=blob, EncryptionContext={"a": "1"})


def test_unicode_context(kms: Kms) -> None:
    key_id = new_key(kms)
    ctx = {"ключ": "значение ✓", "k e y": "v+a%l&u=e", "emoji 😀": ""}
    blob = encrypt(kms, key_id, "t", EncryptionContext=ctx)
    reordered = dict(reversed(list(ctx.items())))
    assert kms.call("Decrypt", CiphertextBlob=blob, EncryptionContext=reordered)["Plaintext"] == "t"


@pytest.mark.parametrize("value", [1, 1.5, True, None, ["x"], {"nested": "x"}])
def test_context_values_must_be_strings(kms: Kms, value: object) -> None:
    key_id = new_key(kms)
    ctx = {"a": "1", "b": value}
    err = expect_error(400, "InvalidParameter", kms, "Encrypt", KeyId=key_id, Plaintext="x", EncryptionContext=ctx)
    assert "EncryptionContext" in err.message
    blob = encrypt(kms, key_id, "x", EncryptionContext={"a": "1"})
    expect_error(400, "InvalidParameter", kms, "Decrypt", CiphertextBlob=blob, EncryptionContext=ctx)


def test_context_that_is_not_text(server: InProcessServer) -> None:
    """A lone surrogate, which the old SDK sends as a JSON escape, is not text: 400, not a 500.
    (The new SDK cannot send one: it fails to encode the request itself.)"""
    ak, secret, _ = server.new_account()
    kms = Kms("old", server.endpoint, ak, secret)
    key_id = new_key(kms)
    for ctx in ({"a": "\ud800"}, {"\udfff": "v"}, {"a": "x\udc00y"}):
        err = expect_error(400, "InvalidParameter", kms, "Encrypt", KeyId=key_id, Plaintext="x", EncryptionContext=ctx)
        assert "EncryptionContext" in err.message
    # A proper pair of surrogate escapes is an ordinary character.
    blob = encrypt(kms, key_id, "x", EncryptionContext={"a": "\U0001f600"})
    assert kms.call("Decrypt", CiphertextBlob=blob, EncryptionContext={"a": "😀"})["Plaintext"] == "x"


def test_context_size_limit(kms: Kms) -> None:
    key_id = new_key(kms)
    fits = {"k": "v" * 8191}  # 8192 characters with the key
    blob = encrypt(kms, key_id, "x", EncryptionContext=fits)
    assert kms.call("Decrypt", CiphertextBlob=blob, EncryptionContext=fits)["Plaintext"] == "x"
    expect_error(
        400, "InvalidParameter", kms, "Encrypt", KeyId=key_id, Plaintext="x", EncryptionContext={"k": "v" * 8192}
    )


def test_context_flattened_or_as_json_is_the_same_context(server: InProcessServer, kms: Kms) -> None:
    """``EncryptionContext.a=1`` (what some SDKs send) binds the same as ``{"a":"1"}``."""
    key_id = new_key(kms)
    signer = Signer(server.base_url, kms.access_key_id, kms.secret)
    flat = {"EncryptionContext.a": "1", "EncryptionContext.b": "two words"}
    out = ok(signer.v1("Encrypt", {"KeyId": key_id, "Plaintext": "flat", **flat}).send())
    # The SDK sends the context as a JSON string.
    back = kms.call("Decrypt", CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"b": "two words", "a": "1"})
    assert back["Plaintext"] == "flat"
    expect_error(400, "InvalidParameter", kms, "Decrypt", CiphertextBlob=out["CiphertextBlob"])

    blob = encrypt(kms, key_id, "json", EncryptionContext={"a": "1", "b": "two words"})
    assert ok(signer.v3("Decrypt", {"CiphertextBlob": blob, **flat}).send())["Plaintext"] == "json"
    # Both forms at once: the JSON string wins and the flattened pairs are ignored.
    both = {"CiphertextBlob": blob, "EncryptionContext": '{"a":"1","b":"two words"}', "EncryptionContext.c": "3"}
    assert ok(signer.v1("Decrypt", both).send())["Plaintext"] == "json"
    # A hand-written JSON string with spaces and another order is still the same context.
    loose = '{ "b" : "two words",\n "a":"1" }'
    assert ok(signer.v1("Decrypt", {"CiphertextBlob": blob, "EncryptionContext": loose}).send())["Plaintext"] == "json"
    for bad in ("{not json", '["a", "1"]', '"a=1"', "1", '{"a":NaN}', '{"a":"\\ud800"}', "[" * 50_000):
        req = signer.v1("Decrypt", {"CiphertextBlob": blob, "EncryptionContext": bad}, in_body="all")
        body = expect_wire(req.send(), 400, "InvalidParameter")
        assert "EncryptionContext" in body["Message"], bad


# --- bad blobs ------------------------------------------------------------------------------------


def test_corrupt_blobs_are_rejected_clearly(kms: Kms) -> None:
    key_id = new_key(kms)
    blob = encrypt(kms, key_id, "secret text", EncryptionContext={"a": "1"})
    raw = base64.b64decode(blob)
    ctx = {"a": "1"}
    invalid = {
        "format byte": tamper(blob, layout.VERSION_ID_LEN),
        "salt": tamper(blob, layout.HEADER_LEN),
        "nonce": tamper(blob, layout.HEADER_LEN + layout.SALT_LEN),
        "ciphertext": tamper(blob, layout.HEADER_LEN + layout.SALT_LEN + layout.NONCE_LEN),
        "tag": tamper(blob, len(raw) - 1),
        "truncated by one": base64.b64encode(raw[:-1]).decode(),
        "truncated to the header": base64.b64encode(raw[: layout.HEADER_LEN]).decode(),
        "header only plus tag length": base64.b64encode(raw[: layout.MIN_LEN - 1]).decode(),
        "bad base64": "this is not base64!!",
        "base64 of a short text": base64.b64encode(b"hello").decode(),
        "non-ascii version id": base64.b64encode(b"\xff" * 36 + raw[36:]).decode(),
        "zero bytes": base64.b64encode(bytes(len(raw))).decode(),
    }
    for what, bad in invalid.items():
        err = expect_error(400, "InvalidParameter", kms, "Decrypt", CiphertextBlob=bad, EncryptionContext=ctx)
        assert "CiphertextBlob" in err.message, what
    # A well-formed blob naming a version that does not exist.
    unknown = base64.b64encode(str(uuid.uuid4()).encode() + raw[36:]).decode()
    expect_error(404, "Forbidden.KeyNotFound", kms, "Decrypt", CiphertextBlob=unknown, EncryptionContext=ctx)
    expect_error(400, "MissingParameter", kms, "Decrypt", CiphertextBlob="")
    # The original still decrypts: nothing above changed any state.
    assert kms.call("Decrypt", CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == "secret text"


def test_blob_of_another_account_is_not_found(server: InProcessServer, kms: Kms) -> None:
    blob = encrypt(kms, new_key(kms), "mine")
    ak, secret, _ = server.new_account()
    stranger = Kms(kms.mode, server.endpoint, ak, secret)
    expect_error(404, "Forbidden.KeyNotFound", stranger, "Decrypt", CiphertextBlob=blob)
    # Nor can the stranger re-encrypt it to a key of their own.
    own = new_key(stranger)
    expect_error(404, "Forbidden.KeyNotFound", stranger, "ReEncrypt", CiphertextBlob=blob, DestinationKeyId=own)


def test_blob_of_another_region_is_not_found(kms_factory) -> None:  # type: ignore[no-untyped-def]
    hangzhou: Kms = kms_factory("cn-hangzhou")
    shanghai: Kms = kms_factory("cn-shanghai")
    blob = encrypt(shanghai, new_key(shanghai), "east")
    assert shanghai.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "east"
    expect_error(404, "Forbidden.KeyNotFound", hangzhou, "Decrypt", CiphertextBlob=blob)


# --- key states -----------------------------------------------------------------------------------


def test_disabled_key_refuses_encrypt_and_decrypt(kms: Kms) -> None:
    key_id = new_key(kms)
    blob = encrypt(kms, key_id, "before")
    kms.call("DisableKey", KeyId=key_id)
    expect_error(409, "Rejected.Disabled", kms, "Encrypt", KeyId=key_id, Plaintext="x")
    expect_error(409, "Rejected.Disabled", kms, "Decrypt", CiphertextBlob=blob)
    expect_error(409, "Rejected.Disabled", kms, "GenerateDataKey", KeyId=key_id)
    expect_error(409, "Rejected.Disabled", kms, "GenerateDataKeyWithoutPlaintext", KeyId=key_id)
    assert kms.call("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    kms.call("EnableKey", KeyId=key_id)
    assert kms.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "before"


def test_pending_deletion_key_refuses_encrypt_and_decrypt(kms: Kms) -> None:
    key_id = new_key(kms)
    blob = encrypt(kms, key_id, "before")
    kms.call("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    expect_error(409, "Rejected.PendingDeletion", kms, "Encrypt", KeyId=key_id, Plaintext="x")
    expect_error(409, "Rejected.PendingDeletion", kms, "Decrypt", CiphertextBlob=blob)
    expect_error(409, "Rejected.PendingDeletion", kms, "GenerateDataKey", KeyId=key_id)
    kms.call("CancelKeyDeletion", KeyId=key_id)
    assert kms.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "before"


# --- DryRun ---------------------------------------------------------------------------------------


def test_dry_run_reports_success_as_an_error_and_changes_nothing(kms: Kms) -> None:
    key_id = new_key(kms)
    err = expect_error(400, "DryRunOperationError", kms, "Encrypt", KeyId=key_id, Plaintext="x", DryRun="true")
    assert "DryRun" in err.message
    blob = encrypt(kms, key_id, "x", EncryptionContext={"a": "1"}, DryRun="false")
    expect_error(
        400, "DryRunOperationError", kms, "Decrypt", CiphertextBlob=blob, EncryptionContext={"a": "1"}, DryRun="true"
    )
    expect_error(400, "DryRunOperationError", kms, "GenerateDataKey", KeyId=key_id, DryRun="true")
    expect_error(400, "DryRunOperationError", kms, "GenerateDataKeyWithoutPlaintext", KeyId=key_id, DryRun="true")


def test_dry_run_reports_the_validation_error_when_it_would_fail(kms: Kms) -> None:
    key_id = new_key(kms)
    blob = encrypt(kms, key_id, "x", EncryptionContext={"a": "1"})
    expect_error(400, "InvalidParameter", kms, "Encrypt", KeyId=key_id, Plaintext="x" * 6145, DryRun="true")
    expect_error(400, "InvalidParameter", kms, "Decrypt", CiphertextBlob=blob, DryRun="true")
    expect_error(400, "InvalidParameter", kms, "GenerateDataKey", KeyId=key_id, NumberOfBytes=0, DryRun="true")
    expect_error(404, "Forbidden.KeyNotFound", kms, "Encrypt", KeyId=str(uuid.uuid4()), Plaintext="x", DryRun="true")
    kms.call("DisableKey", KeyId=key_id)
    expect_error(409, "Rejected.Disabled", kms, "Encrypt", KeyId=key_id, Plaintext="x", DryRun="true")
    expect_error(
        409, "Rejected.Disabled", kms, "Decrypt", CiphertextBlob=blob, EncryptionContext={"a": "1"}, DryRun="true"
    )
