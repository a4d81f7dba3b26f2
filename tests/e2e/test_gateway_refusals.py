"""Every refusal of the instance gateway, with its HTTP status, Alibaba code and message, as
Alibaba's dkms-gcs client raises it (or, for what no client can be made to send, a request
signed here): a bad signature, a body altered after signing, a stale date, an expired or deleted
client key, a network rule, a policy without the key, a disabled key, an unknown key."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from openkms.domain.instances import DEFAULT_INSTANCE
from openkms.protocol.gateway.messages import new, parse
from openkms.system import OffsetClock
from tests.e2e.gateway_support import App, b64, ok, provision, refusal, run_clients, signed_post
from tests.servers import InProcessServer, inprocess_server

NOT_AUTHORIZED = "User not authorized to operate on the specified resource, or this API doesn't support RAM."


@pytest.fixture(scope="module")
def gateway_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with inprocess_server(Path(tmp_path_factory.mktemp("gateway-refusals")) / "data", auth_clock=OffsetClock()) as srv:
        yield srv


def _aes(app: App) -> str:
    key_id: str = app.kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    return key_id


def _encrypt(server: InProcessServer, app: App, key_id: str, key_file: str | None = None) -> dict[str, object]:
    calls = [["dkms", "advance_encrypt", {"key_id": key_id, "plaintext": b64(b"x")}]]
    return run_clients(server, key_file or app.key_file, calls)[0]


def test_a_signature_by_another_key_is_refused(gateway_server: InProcessServer) -> None:
    app, other = provision(gateway_server), provision(gateway_server)
    forged = json.dumps({"KeyId": app.key_id, "PrivateKeyData": json.loads(other.key_file)["PrivateKeyData"]})
    assert refusal(_encrypt(gateway_server, app, _aes(app), forged)) == (
        400, "SignatureDoesNotMatch", "The request signature does not verify with the client key."
    )  # fmt: skip
    assert "ok" in _encrypt(gateway_server, app, _aes(app))  # the key's own signature passes


def test_a_body_altered_after_signing_is_refused(gateway_server: InProcessServer) -> None:
    app = provision(gateway_server)
    body = new("AdvanceEncryptRequest", KeyId=_aes(app), Plaintext=b"pay 10").SerializeToString()
    altered = new("AdvanceEncryptRequest", KeyId=_aes(app), Plaintext=b"pay 99").SerializeToString()
    assert signed_post(gateway_server, app.key_file, "AdvanceEncrypt", body)[0] == 200
    status, error = signed_post(gateway_server, app.key_file, "AdvanceEncrypt", body, sent=altered)
    assert status == 400
    assert isinstance(error, dict)
    assert (error["StatusCode"], error["ErrorCode"], error["ErrorMessage"]) == (
        400, "SignatureDoesNotMatch", "The content-sha256 header does not match the request body."
    )  # fmt: skip
    assert error["RequestId"]


def test_a_stale_date_is_refused_on_the_servers_clock(gateway_server: InProcessServer) -> None:
    app = provision(gateway_server)
    key_id = _aes(app)
    clock = gateway_server.runtime.auth_clock
    assert isinstance(clock, OffsetClock)
    clock.advance(16 * 60)
    try:
        assert refusal(_encrypt(gateway_server, app, key_id)) == (
            400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."
        )  # fmt: skip
        clock.reset(14 * 60)
        assert "ok" in _encrypt(gateway_server, app, key_id)
    finally:
        clock.reset()
    old = email.utils.formatdate(time.time() - 16 * 60, usegmt=True)
    body = new("AdvanceEncryptRequest", KeyId=key_id, Plaintext=b"x").SerializeToString()
    status, error = signed_post(gateway_server, app.key_file, "AdvanceEncrypt", body, date=old)
    assert (status, error["ErrorCode"]) == (400, "InvalidTimeStamp.Expired")  # type: ignore[index]


def test_an_expired_and_a_deleted_client_key_are_refused(gateway_server: InProcessServer) -> None:
    expired = provision(gateway_server, NotBefore="2020-01-01T00:00:00Z", NotAfter="2021-01-01T00:00:00Z")
    assert refusal(_encrypt(gateway_server, expired, _aes(expired))) == (
        403, "Forbidden.ClientKey", "The client key is not valid: it expired at 2021-01-01T00:00:00Z."
    )  # fmt: skip
    early = provision(gateway_server, NotBefore="2099-01-01T00:00:00Z", NotAfter="2100-01-01T00:00:00Z")
    assert refusal(_encrypt(gateway_server, early, _aes(early))) == (
        403, "Forbidden.ClientKey", "The client key is not valid: it is valid from 2099-01-01T00:00:00Z."
    )  # fmt: skip
    app = provision(gateway_server)
    key_id = _aes(app)
    assert "ok" in _encrypt(gateway_server, app, key_id)
    app.kms.call("DeleteClientKey", ClientKeyId=app.key_id)
    assert refusal(_encrypt(gateway_server, app, key_id)) == (
        404, "InvalidAccessKeyId.NotFound", "The specified client key is not found."
    )  # fmt: skip


def test_network_rules_admit_only_their_sources(gateway_server: InProcessServer) -> None:
    outside = provision(gateway_server, sources="10.0.0.0/8,192.168.0.0/16")
    assert refusal(_encrypt(gateway_server, outside, _aes(outside))) == (
        403, "Forbidden.NetworkRule", "The source address 127.0.0.1 is not allowed by the access point's network rules."
    )  # fmt: skip
    inside = provision(gateway_server, sources="10.0.0.0/8,127.0.0.1")
    assert "ok" in _encrypt(gateway_server, inside, _aes(inside))
    outside.kms.call("UpdateNetworkRule", Name="net", SourcePrivateIp="127.0.0.0/8")
    assert "ok" in _encrypt(gateway_server, outside, _aes(outside))  # the rule is read per request


def test_a_policy_grants_only_its_keys_and_templates(gateway_server: InProcessServer) -> None:
    app = provision(gateway_server, resources=("key/not-this-one", "secret/*"))
    assert refusal(_encrypt(gateway_server, app, _aes(app))) == (403, "Forbidden.RAM", NOT_AUTHORIZED)
    key_id = _aes(app)
    app.kms.call("UpdatePolicy", Name="use", Resources=json.dumps([f"key/{key_id}"]))
    assert "ok" in _encrypt(gateway_server, app, key_id)
    app.kms.call("CreateSecret", SecretName="db", VersionId="v1", SecretData="pw", EncryptionKeyId=key_id)
    calls = [["dkms", "get_secret_value", {"secret_name": "db"}]]
    assert refusal(run_clients(gateway_server, app.key_file, calls)[0]) == (403, "Forbidden.RAM", NOT_AUTHORIZED)


def test_a_disabled_and_an_unknown_key_are_refused(gateway_server: InProcessServer) -> None:
    app = provision(gateway_server)
    key_id = _aes(app)
    sealed = ok(_encrypt(gateway_server, app, key_id))
    app.kms.call("DisableKey", KeyId=key_id)
    calls = [
        ["dkms", "advance_encrypt", {"key_id": key_id, "plaintext": b64(b"x")}],
        ["dkms", "advance_decrypt", {"ciphertext_blob": sealed["CiphertextBlob"]}],
        ["dkms", "advance_encrypt", {"key_id": "0b1e4a8c-0000-4000-8000-000000000000", "plaintext": b64(b"x")}],
        ["dkms", "generate_random", {"length": 0}],
    ]  # fmt: skip
    disabled, disabled_decrypt, unknown, bad_length = run_clients(gateway_server, app.key_file, calls)
    expected_disabled = (409, "Rejected.Disabled", "The request was rejected because the key state is Disabled.")
    assert refusal(disabled) == expected_disabled
    assert refusal(disabled_decrypt) == expected_disabled
    assert refusal(unknown) == (404, "Forbidden.KeyNotFound", "The specified Key is not found.")
    assert refusal(bad_length) == (
        400,
        "InvalidParameter",
        'The specified parameter "Length" is not valid. From 1 to 1024.',
    )


def test_a_malformed_date_and_a_missing_signature_are_refused(gateway_server: InProcessServer) -> None:
    app = provision(gateway_server)
    body = new("AdvanceEncryptRequest", KeyId=_aes(app), Plaintext=b"x").SerializeToString()
    status, error = signed_post(gateway_server, app.key_file, "AdvanceEncrypt", body, date="yesterday")
    assert (status, error["ErrorCode"], error["ErrorMessage"]) == (  # type: ignore[index]
        400, "InvalidTimeStamp.Format",
        'The specified parameter "date" is not valid: use RFC 1123, e.g. Thu, 03 Dec 2026 07:58:40 GMT.',
    )  # fmt: skip
    headers = {"x-kms-apiname": "AdvanceEncrypt", "content-type": "application/x-protobuf"}
    answer = httpx.post(f"http://{gateway_server.endpoint}/", content=body, headers=headers)
    error = parse("Error", answer.content)
    assert (answer.status_code, error.ErrorCode, error.ErrorMessage) == (
        400, "IncompleteSignature", "The request signature does not conform to Alibaba Cloud standards. "
        "It needs authorization: Bearer <signature> and x-kms-acccesskeyid.",
    )  # fmt: skip
    assert answer.headers["content-type"] == "application/x-protobuf"
    assert "x-kms-migrationkeyversionid" not in answer.headers
    too_large = httpx.post(f"http://{gateway_server.endpoint}/", content=b"\x00" * (256 * 1024 + 1), headers=headers)
    error = parse("Error", too_large.content)
    assert (too_large.status_code, error.StatusCode, error.ErrorCode) == (413, 413, "RequestEntityTooLarge")


def test_the_host_name_addresses_an_instance(gateway_server: InProcessServer) -> None:
    """<kst-id>.cryptoservice.kms.aliyuncs.com addresses that instance; any other host the default."""
    app = provision(gateway_server)
    body = new("AdvanceEncryptRequest", KeyId=_aes(app), Plaintext=b"x").SerializeToString()
    for host in (f"{DEFAULT_INSTANCE}.cryptoservice.kms.aliyuncs.com", "kms.internal.example:8443"):
        assert signed_post(gateway_server, app.key_file, "AdvanceEncrypt", body, host=host)[0] == 200, host
    status, error = signed_post(gateway_server, app.key_file, "AdvanceEncrypt", body,
                                host="kst-nope.cryptoservice.kms.aliyuncs.com")  # fmt: skip
    assert (status, error["ErrorCode"], error["ErrorMessage"]) == (  # type: ignore[index]
        404, "Forbidden.ResourceNotFound", "The specified KMS instance is not found."
    )  # fmt: skip


def test_what_is_not_a_gateway_request_is_refused_as_one(gateway_server: InProcessServer) -> None:
    app = provision(gateway_server)
    status, error = signed_post(gateway_server, app.key_file, "HmacSign", b"")
    assert (status, error["ErrorCode"]) == (404, "InvalidAction.NotFound")  # type: ignore[index]
    status, error = signed_post(gateway_server, app.key_file, "AdvanceEncrypt", b"\xff\xff\xff")
    reason = 'The specified parameter "Body" is not valid. The body is not a protobuf AdvanceEncryptRequest.'
    assert (status, error["ErrorCode"], error["ErrorMessage"]) == (400, "InvalidParameter", reason)  # type: ignore[index]
