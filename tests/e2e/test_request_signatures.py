"""Request authentication (spec 1.3-1.5, 1.8, 1.9; test plan 1): signatures V1 and V3, timestamps,
nonces and AccessKeys, through both SDK generations and with hand-signed requests.

(Asymmetric-key signatures, AsymmetricSign/Verify, are in test_asymmetric.py.)
"""

from __future__ import annotations

import base64

import pytest
from alibabacloud_kms20160120 import models as new_models
from alibabacloud_kms20160120.client import Client as NewClient
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_util.models import RuntimeOptions

from tests.e2e.clients import Kms
from tests.e2e.expect import expect_error, expect_wire, ok
from tests.e2e.signed import Signer, new_nonce, sha256_hex, utc_stamp
from tests.servers import InProcessServer

STS_SUFFIX = "server string to sign is:"


@pytest.fixture
def signer(server: InProcessServer) -> Signer:
    return Signer.for_new_account(server)


def create_key(signer: Signer) -> str:
    key_id: str = ok(signer.v1("CreateKey").send())["KeyMetadata"]["KeyId"]
    return key_id


# --- through the SDKs -----------------------------------------------------------------------------


def test_wrong_secret_through_each_sdk(server: InProcessServer, kms: Kms) -> None:
    wrong = Kms(kms.mode, server.endpoint, kms.access_key_id, kms.secret + "x")
    if kms.mode == "old":
        # The old SDK compares the echoed string to sign with its own and, as they are equal,
        # renames the code; without the echo (or without a ':') it would crash with IndexError.
        err = expect_error(400, "InvalidAccessKeySecret", wrong, "ListKeys")
        assert "AccessKeySecret is incorrect" in err.message
    else:
        err = expect_error(400, "SignatureDoesNotMatch", wrong, "ListKeys")
        assert STS_SUFFIX in err.message
    assert kms.call("ListKeys")["TotalCount"] == 0  # the right secret still works


def test_unknown_access_key_through_each_sdk(server: InProcessServer, mode: str) -> None:
    stranger = Kms(mode, server.endpoint, "LTAI" + new_nonce()[:20], "whatever")
    expect_error(404, "InvalidAccessKeyId.NotFound", stranger, "ListKeys")
    expect_error(404, "InvalidAccessKeyId.NotFound", stranger, "Encrypt", KeyId="alias/x", Plaintext="p")


def test_new_sdk_with_acs3_hmac_sm3(server: InProcessServer) -> None:
    ak, secret, _ = server.new_account()
    cfg = Config(
        access_key_id=ak,
        access_key_secret=secret,
        endpoint=server.endpoint,
        protocol="http",
        signature_algorithm="ACS3-HMAC-SM3",
    )
    client = NewClient(cfg)
    key = client.create_key_with_options(new_models.CreateKeyRequest(), RuntimeOptions()).body
    enc = client.encrypt_with_options(
        new_models.EncryptRequest(key_id=key.key_metadata.key_id, plaintext="sm3 signed ✓"), RuntimeOptions()
    ).body
    dec = client.decrypt_with_options(
        new_models.DecryptRequest(ciphertext_blob=enc.ciphertext_blob), RuntimeOptions()
    ).body
    assert dec.plaintext == "sm3 signed ✓"


# --- hand-signed: signature mismatch --------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_v1_wrong_secret_echoes_the_string_to_sign(signer: Signer, method: str) -> None:
    req = signer.v1("Encrypt", {"KeyId": "alias/x", "Plaintext": "a b*~"}, method=method, secret="wrong")
    body = expect_wire(req.send(), 400, "SignatureDoesNotMatch")
    assert body["Message"].endswith(STS_SUFFIX + req.string_to_sign)
    assert req.string_to_sign.startswith(f"{method}&%2F&AccessKeyId%3D")
    # What the old SDK does with it: the second ':'-separated part is the whole string to sign.
    assert body["Message"].split(":")[1] == req.string_to_sign


def test_v3_wrong_secret_echoes_the_string_to_sign(signer: Signer) -> None:
    req = signer.v3("DescribeRegions", secret="wrong")
    body = expect_wire(req.send(), 400, "SignatureDoesNotMatch")
    assert body["Message"].endswith(STS_SUFFIX + req.string_to_sign)
    assert req.string_to_sign.startswith("ACS3-HMAC-SHA256\n")


def test_a_forged_request_does_not_burn_its_nonce(signer: Signer) -> None:
    nonce = new_nonce()
    expect_wire(signer.v1("DescribeRegions", nonce=nonce, secret="wrong").send(), 400, "SignatureDoesNotMatch")
    ok(signer.v1("DescribeRegions", nonce=nonce).send())


def test_tampering_after_signing_is_detected(signer: Signer) -> None:
    key_id = create_key(signer)
    req = signer.v1("Encrypt", {"KeyId": key_id, "Plaintext": "original"})
    req.query = req.query.replace("original", "tampered")
    expect_wire(req.send(), 400, "SignatureDoesNotMatch")
    # POST-signed, sent as GET.
    expect_wire(signer.v1("DescribeRegions").send(method="GET"), 400, "SignatureDoesNotMatch")
    v3 = signer.v3("Encrypt", {"KeyId": key_id, "Plaintext": "original"})
    v3.query = v3.query.replace("original", "tampered")
    expect_wire(v3.send(), 400, "SignatureDoesNotMatch")


# --- hand-signed: AccessKeys, nonces, timestamps --------------------------------------------------


def test_unknown_access_key_id(signer: Signer) -> None:
    expect_wire(signer.v1("DescribeRegions", access_key_id="LTAInobody").send(), 404, "InvalidAccessKeyId.NotFound")
    expect_wire(signer.v3("DescribeRegions", access_key_id="LTAInobody").send(), 404, "InvalidAccessKeyId.NotFound")


def test_replayed_nonce_v1_and_v3(signer: Signer) -> None:
    v1 = signer.v1("DescribeRegions")
    ok(v1.send())
    expect_wire(v1.send(), 400, "SignatureNonceUsed")
    v3 = signer.v3("DescribeRegions")
    ok(v3.send())
    expect_wire(v3.send(), 400, "SignatureNonceUsed")
    # The nonce is per AccessKey, whatever the signature version.
    nonce = new_nonce()
    ok(signer.v1("DescribeRegions", nonce=nonce).send())
    expect_wire(signer.v3("DescribeRegions", nonce=nonce).send(), 400, "SignatureNonceUsed")


def test_nonces_are_scoped_to_the_access_key(server: InProcessServer, signer: Signer) -> None:
    other = Signer.for_new_account(server)
    nonce = new_nonce()
    ok(signer.v1("DescribeRegions", nonce=nonce).send())
    ok(other.v1("DescribeRegions", nonce=nonce).send())


@pytest.mark.parametrize("offset", [-16 * 60, 16 * 60, -3600 * 24])
def test_timestamp_out_of_window(signer: Signer, offset: int) -> None:
    body = expect_wire(
        signer.v1("DescribeRegions", timestamp=utc_stamp(offset)).send(), 400, "InvalidTimeStamp.Expired"
    )
    assert body["Message"] == "Specified time stamp or date value is expired."
    expect_wire(signer.v3("DescribeRegions", date=utc_stamp(offset)).send(), 400, "InvalidTimeStamp.Expired")


def test_timestamp_inside_window(signer: Signer) -> None:
    for offset in (-14 * 60, 14 * 60):
        ok(signer.v1("DescribeRegions", timestamp=utc_stamp(offset)).send())
        ok(signer.v3("DescribeRegions", date=utc_stamp(offset)).send())
    # Fractional seconds, as some SDKs send.
    ok(signer.v1("DescribeRegions", timestamp=utc_stamp()[:-1] + ".123Z").send())


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-01-01 00:00:00",
        "2024-01-01T00:00:00",
        "1700000000",
        "2024-02-30T00:00:00Z",
        "yesterday",
        "2024-1-1T0:0:0Z",
    ],
)
def test_malformed_timestamp(signer: Signer, stamp: str) -> None:
    expect_wire(signer.v1("DescribeRegions", timestamp=stamp).send(), 400, "InvalidTimeStamp.Format")
    expect_wire(signer.v3("DescribeRegions", date=stamp).send(), 400, "InvalidTimeStamp.Format")


def test_a_timestamp_in_other_digits_is_malformed(signer: Signer) -> None:
    """Only ASCII digits are digits (domain/numbers.py); a V3 header could not carry these at all."""
    arabic_indic = utc_stamp().translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    expect_wire(signer.v1("DescribeRegions", timestamp=arabic_indic).send(), 400, "InvalidTimeStamp.Format")


def test_missing_timestamp(signer: Signer) -> None:
    expect_wire(signer.v1("DescribeRegions", timestamp=None).send(), 400, "IllegalTimestamp")
    expect_wire(signer.v1("DescribeRegions", timestamp="").send(), 400, "IllegalTimestamp")
    # V3: x-acs-date is listed in SignedHeaders but not sent.
    signed = ["host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"]
    req = signer.v3("DescribeRegions", date=None, signed_headers=signed)
    expect_wire(req.send(), 400, "IllegalTimestamp")


# --- hand-signed: incomplete signatures -----------------------------------------------------------


def test_no_signature_at_all(signer: Signer) -> None:
    expect_wire(signer.v1("DescribeRegions", sign=False).send(), 400, "IncompleteSignature")
    # An unsigned request for an unknown key gets no further than the signature check.
    expect_wire(
        signer.v1("Encrypt", {"KeyId": "alias/x", "Plaintext": "p"}, sign=False).send(), 400, "IncompleteSignature"
    )


def test_unsupported_schemes(signer: Signer) -> None:
    expect_wire(signer.v1("DescribeRegions", signature_method="HMAC-SHA256").send(), 400, "IncompleteSignature")
    for authorization in (
        f"ACS4-HMAC-SHA256 Credential={signer.access_key_id}/20240101/cn-hangzhou/Kms/aliyun_v4_request,"
        "SignedHeaders=host,Signature=00",
        f"ACS3-RSA-SHA256 Credential={signer.access_key_id},SignedHeaders=host;x-acs-action;x-acs-date;"
        "x-acs-signature-nonce;x-acs-version,Signature=00",
        "ACS3-HMAC-SHA256 garbage",
        f"ACS3-HMAC-SHA256 Credential={signer.access_key_id},Signature=00",
    ):
        req = signer.v3("DescribeRegions", after_signing={"authorization": authorization})
        expect_wire(req.send(), 400, "IncompleteSignature")
    missing = signer.v1("DescribeRegions")
    missing.query = "&".join(p for p in missing.query.split("&") if not p.startswith("SignatureNonce="))
    expect_wire(missing.send(), 400, "MissingParameter")


@pytest.mark.parametrize("left_out", ["host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce"])
def test_v3_must_sign_the_essential_headers(signer: Signer, left_out: str) -> None:
    everything = [
        "host",
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    ]
    req = signer.v3("DescribeRegions", signed_headers=[h for h in everything if h != left_out])
    body = expect_wire(req.send(), 400, "IncompleteSignature")
    assert left_out in body["Message"]


def test_v3_headers_are_rebuilt_from_signed_headers(signer: Signer) -> None:
    # Only host and x-acs-* signed (as other SDKs and the V4 gateway do): accepted.
    minimal = ["host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"]
    ok(signer.v3("DescribeRegions", signed_headers=minimal).send())
    # Headers added after signing (the transport adds some) do not matter...
    ok(signer.v3("DescribeRegions", after_signing={"x-extra": "1", "user-agent": "other"}).send())
    # ...but a signed header changed after signing does.
    req = signer.v3("DescribeRegions", extra_headers={"x-acs-custom": "a"}, after_signing={"x-acs-custom": "b"})
    expect_wire(req.send(), 400, "SignatureDoesNotMatch")
    expect_wire(signer.v3("DescribeRegions", after_signing={"accept": "text/xml"}).send(), 400, "SignatureDoesNotMatch")


def test_v3_content_hash_must_match_the_body(signer: Signer) -> None:
    key_id = create_key(signer)
    params = {"KeyId": key_id, "Plaintext": "in the body"}
    # A correct form body, signed through x-acs-content-sha256.
    out = ok(signer.v3("Encrypt", body=params).send())
    assert out["KeyId"] == key_id
    # A hash that is not the body's.
    req = signer.v3("Encrypt", body=params, content_sha256="0" * 64)
    body = expect_wire(req.send(), 400, "IncompleteSignature")
    assert "x-acs-content-sha256" in body["Message"]
    # The body changed after signing.
    req = signer.v3("Encrypt", body=params)
    req.body = req.body.replace(b"body", b"bodx")
    expect_wire(req.send(), 400, "IncompleteSignature")
    # The body and its hash changed together after signing.
    req = signer.v3("Encrypt", body=params)
    req.body = req.body.replace(b"body", b"bodx")
    req.headers["x-acs-content-sha256"] = sha256_hex(req.body)
    expect_wire(req.send(), 400, "SignatureDoesNotMatch")


def test_v3_with_acs3_hmac_sm3(signer: Signer) -> None:
    key_id = create_key(signer)
    out = ok(signer.v3("Encrypt", {"KeyId": key_id, "Plaintext": "sm3"}, algorithm="ACS3-HMAC-SM3").send())
    back = ok(signer.v3("Decrypt", body={"CiphertextBlob": out["CiphertextBlob"]}, algorithm="ACS3-HMAC-SM3").send())
    assert back["Plaintext"] == "sm3"
    # An SM3 signature presented as SHA-256 does not verify.
    req = signer.v3("DescribeRegions", algorithm="ACS3-HMAC-SM3")
    req.headers["authorization"] = req.headers["authorization"].replace("ACS3-HMAC-SM3", "ACS3-HMAC-SHA256")
    expect_wire(req.send(), 400, "IncompleteSignature")  # the content hash is SM3's, not SHA-256's


def test_v1_signature_is_base64_of_hmac_sha1(signer: Signer) -> None:
    req = signer.v1("DescribeRegions")
    assert len(base64.b64decode(req.params["Signature"])) == 20
    ok(req.send())


def test_v3_with_a_body_must_sign_its_content_type(signer: Signer) -> None:
    """The body's hash is signed, but not how it is read: with an unsigned content-type anyone on
    the path could turn the form into something the server ignores, dropping its parameters."""
    key_id = create_key(signer)
    minimal = ["host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"]
    params = {"KeyId": key_id, "Plaintext": "in the body"}
    body = expect_wire(signer.v3("Encrypt", body=params, signed_headers=minimal).send(), 400, "IncompleteSignature")
    assert "content-type" in body["Message"]
    ok(signer.v3("Encrypt", body=params, signed_headers=[*minimal, "content-type"]).send())
    ok(signer.v3("DescribeRegions", signed_headers=minimal).send())  # no body: nothing to read differently
