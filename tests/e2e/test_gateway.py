"""The instance gateway through Alibaba's own clients: alibabacloud-dkms-gcs for every operation,
alibabacloud-kms-python-sdk's TransferClient (instance mode) and Client; every success carries
x-kms-migrationkeyversionid where a key was used."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from openkms.system import OffsetClock
from tests.audit_support import events, one_event
from tests.e2e.gateway_support import App, b64, ok, provision, refusal, run_clients, unb64
from tests.servers import InProcessServer, inprocess_server

HEADER = "x-kms-migrationkeyversionid"
INVALID_CIPHERTEXT = (
    'The specified parameter "CiphertextBlob" is not valid. '
    "The ciphertext is corrupt or the EncryptionContext does not match the one used to encrypt."
)


@pytest.fixture(scope="module")
def gateway_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with inprocess_server(Path(tmp_path_factory.mktemp("gateway")) / "data", auth_clock=OffsetClock()) as srv:
        yield srv


def _key(app: App, **params: str) -> tuple[str, str]:
    meta = app.kms.call("CreateKey", **params)["KeyMetadata"]
    return meta["KeyId"], meta["PrimaryKeyVersion"]


def test_every_operation_through_dkms_gcs(gateway_server: InProcessServer) -> None:
    app = provision(gateway_server)
    aes, aes_version = _key(app)
    signer, signer_version = _key(app, KeySpec="RSA_2048", KeyUsage="SIGN/VERIFY")
    rsa_enc, _ = _key(app, KeySpec="RSA_2048", KeyUsage="ENCRYPT/DECRYPT")
    app.kms.call("CreateSecret", SecretName="db", VersionId="v1", SecretData="pw-1", EncryptionKeyId=aes)
    digest = hashlib.sha256(b"message").digest()
    calls = [
        ["dkms", "advance_encrypt", {"key_id": aes, "plaintext": b64(b"hello"), "aad": b64(b"ctx")}],
        ["dkms", "advance_generate_data_key", {"key_id": aes, "number_of_bytes": 16}],
        ["dkms", "encrypt", {"key_id": aes, "plaintext": b64(b"low"), "aad": b64(b"a")}],
        ["dkms", "generate_data_key", {"key_id": aes}],
        ["dkms", "encrypt", {"key_id": rsa_enc, "plaintext": b64(b"asym"), "algorithm": "RSAES_OAEP_SHA_256"}],
        ["dkms", "sign", {"key_id": signer, "algorithm": "RSA_PSS_SHA_256", "message": b64(b"message"),
                          "message_type": "RAW"}],
        ["dkms", "sign", {"key_id": signer, "algorithm": "RSA_PKCS1_SHA_256", "message": b64(digest),
                          "message_type": "DIGEST"}],
        ["dkms", "get_public_key", {"key_id": signer}],
        ["dkms", "generate_random", {"length": 24}],
        ["dkms", "get_secret_value", {"secret_name": "db"}],
    ]  # fmt: skip
    out = [ok(r) for r in run_clients(gateway_server, app.key_file, calls)]
    sealed, data_key, low, low_key, asym, raw_sig, digest_sig, public, random, secret = out
    assert unb64(sealed["CiphertextBlob"]).startswith(b"$\x00\x02")
    assert (sealed["KeyVersionId"], sealed["responseHeaders"][HEADER]) == (aes_version, aes_version)
    assert len(unb64(data_key["Plaintext"])) == 16
    assert low["responseHeaders"][HEADER] == aes_version
    assert len(unb64(low_key["Plaintext"])) == 32
    assert public["PublicKey"].startswith("-----BEGIN PUBLIC KEY-----")
    assert public["responseHeaders"][HEADER] == signer_version
    assert len(unb64(random["Random"])) == 24
    assert (secret["SecretData"], secret["VersionId"], secret["VersionStages"]) == ("pw-1", "v1", ["ACSCurrent"])
    # The second round: everything made above opened or checked again through the gateway.
    calls = [
        ["dkms", "advance_decrypt", {"ciphertext_blob": sealed["CiphertextBlob"], "aad": b64(b"ctx")}],
        ["dkms", "advance_decrypt", {"ciphertext_blob": data_key["CiphertextBlob"]}],
        ["dkms", "decrypt", {"ciphertext_blob": low["CiphertextBlob"], "iv": low["Iv"], "aad": b64(b"a")}],
        ["dkms", "decrypt", {"key_id": rsa_enc, "ciphertext_blob": asym["CiphertextBlob"],
                             "algorithm": "RSAES_OAEP_SHA_256"}],
        ["dkms", "verify", {"key_id": signer, "algorithm": "RSA_PSS_SHA_256", "message": b64(b"message"),
                            "message_type": "RAW", "signature": raw_sig["Signature"]}],
        ["dkms", "verify", {"key_id": signer, "algorithm": "RSA_PKCS1_SHA_256", "message": b64(digest),
                            "message_type": "DIGEST", "signature": digest_sig["Signature"]}],
        ["dkms", "verify", {"key_id": signer, "algorithm": "RSA_PKCS1_SHA_256", "message": b64(digest[::-1]),
                            "message_type": "DIGEST", "signature": digest_sig["Signature"]}],
        ["dkms", "advance_decrypt", {"ciphertext_blob": sealed["CiphertextBlob"], "aad": b64(b"other")}],
    ]  # fmt: skip
    results = run_clients(gateway_server, app.key_file, calls)
    opened, opened_key, opened_low, opened_asym, raw_ok, digest_ok, wrong = (ok(r) for r in results[:7])
    assert unb64(opened["Plaintext"]) == b"hello"
    assert opened["responseHeaders"][HEADER] == aes_version
    assert unb64(opened_key["Plaintext"]) == unb64(data_key["Plaintext"])
    assert unb64(opened_low["Plaintext"]) == b"low"
    assert unb64(opened_asym["Plaintext"]) == b"asym"
    assert (raw_ok["Value"], digest_ok["Value"], wrong["Value"]) == (True, True, False)
    assert refusal(results[7]) == (400, "InvalidParameter", INVALID_CIPHERTEXT)


def test_transfer_client_and_client_with_a_key_the_sdk_provisioned(gateway_server: InProcessServer) -> None:
    app = provision(gateway_server)
    aes, aes_version = _key(app)
    signer, _ = _key(app, KeySpec="EC_P256", KeyUsage="SIGN/VERIFY")
    digest = base64.b64encode(hashlib.sha256(b"m").digest()).decode()
    calls = [
        ["transfer", "encrypt", {"key_id": aes, "plaintext": "over transfer"}],
        ["transfer", "generate_data_key", {"key_id": aes, "number_of_bytes": 32}],
        ["transfer", "asymmetric_sign", {"key_id": signer, "key_version_id": "ignored", "algorithm": "ECDSA_SHA_256",
                                         "digest": digest}],
        ["transfer", "get_public_key", {"key_id": signer, "key_version_id": "ignored"}],
        ["kc", "advance_encrypt", {"key_id": aes, "plaintext": b64(b"through Client")}],
    ]  # fmt: skip
    results = [ok(r) for r in run_clients(gateway_server, app.key_file, calls)]
    encrypted, data_key, signed, public, client_sealed = results
    assert encrypted["body"]["KeyVersionId"] == aes_version
    blob = encrypted["body"]["CiphertextBlob"]
    assert base64.b64decode(blob)[:36].decode() == aes_version  # the shared-gateway layout: version id first
    assert len(base64.b64decode(data_key["body"]["Plaintext"])) == 32
    assert signed["body"]["Value"]
    assert public["body"]["PublicKey"].startswith("-----BEGIN PUBLIC KEY-----")
    calls = [
        ["transfer", "decrypt", {"ciphertext_blob": blob}],
        ["transfer", "decrypt", {"ciphertext_blob": data_key["body"]["CiphertextBlob"]}],
        ["transfer", "asymmetric_verify", {"key_id": signer, "key_version_id": "ignored", "algorithm": "ECDSA_SHA_256",
                                           "digest": digest, "value": signed["body"]["Value"]}],
        ["kc", "advance_decrypt", {"ciphertext_blob": client_sealed["CiphertextBlob"]}],
    ]  # fmt: skip
    decrypted, data_key_text, verified, client_opened = (
        ok(r) for r in run_clients(gateway_server, app.key_file, calls)
    )
    assert decrypted["body"]["Plaintext"] == "over transfer"
    assert data_key_text["body"]["Plaintext"] == data_key["body"]["Plaintext"]
    assert verified["body"]["Value"] is True
    assert unb64(client_opened["Plaintext"]) == b"through Client"


def test_data_key_pairs_in_every_form(gateway_server: InProcessServer) -> None:
    app = provision(gateway_server)
    aes, aes_version = _key(app)
    calls = [
        ["dkms", "generate_data_key_pair", {"key_id": aes, "key_pair_spec": "RSA_2048", "key_format": "PEM"}],
        ["dkms", "generate_data_key_pair_without_plaintext", {"key_id": aes, "key_pair_spec": "EC_P256",
                                                              "key_format": "DER", "aad": b64(b"pair")}],
        ["dkms", "advance_generate_data_key_pair", {"key_id": aes, "key_pair_spec": "EC_P256K", "key_format": "DER"}],
        ["dkms", "advance_generate_data_key_pair_without_plaintext", {"key_id": aes, "key_pair_spec": "RSA_3072"}],
        ["dkms", "generate_data_key_pair", {"key_id": aes, "key_pair_spec": "RSA_1024"}],
    ]  # fmt: skip
    results = run_clients(gateway_server, app.key_file, calls)
    pem_pair, der_pair, advance_pair, advance_public = (ok(r) for r in results[:4])
    assert refusal(results[4])[:2] == (400, "InvalidParameter")
    private = serialization.load_pem_private_key(unb64(pem_pair["PrivateKeyPlaintext"]), None)
    public = serialization.load_pem_public_key(unb64(pem_pair["PublicKey"]))
    assert private.public_key().public_numbers() == public.public_numbers()  # type: ignore[union-attr]
    assert pem_pair["responseHeaders"][HEADER] == aes_version
    assert "PrivateKeyPlaintext" not in der_pair or not der_pair["PrivateKeyPlaintext"]
    assert advance_pair["KeyVersionId"] == aes_version
    calls = [
        ["dkms", "decrypt", {"ciphertext_blob": der_pair["PrivateKeyCiphertextBlob"], "aad": b64(b"pair")}],
        ["dkms", "advance_decrypt", {"ciphertext_blob": advance_pair["PrivateKeyCiphertextBlob"]}],
        ["dkms", "advance_decrypt", {"ciphertext_blob": advance_public["PrivateKeyCiphertextBlob"]}],
    ]  # fmt: skip
    der_private, advance_private, rsa_private = (ok(r) for r in run_clients(gateway_server, app.key_file, calls))
    opened = serialization.load_der_private_key(unb64(der_private["Plaintext"]), None)
    assert opened.public_key().public_bytes(  # the public key answered is the sealed private key's
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == unb64(der_pair["PublicKey"])
    assert unb64(advance_private["Plaintext"]) == unb64(advance_pair["PrivateKeyPlaintext"])
    rsa_key = serialization.load_pem_private_key(unb64(rsa_private["Plaintext"]), None)
    assert rsa_key.key_size == 3072  # type: ignore[union-attr]


def test_gateway_requests_are_audit_events_like_rpc_ones(gateway_server: InProcessServer) -> None:
    app = provision(gateway_server, resources=("key/not-this-one",))
    key_id, _ = _key(app)
    calls = [["dkms", "advance_encrypt", {"key_id": key_id, "plaintext": b64(b"secret plaintext")}]]
    refused = run_clients(gateway_server, app.key_file, calls)[0]
    app.kms.call("UpdatePolicy", Name="use", Resources='["key/*"]')
    done = ok(run_clients(gateway_server, app.key_file, calls)[0])
    trail = gateway_server.data_dir / "audit"
    event = one_event(trail, done["RequestId"])
    assert (event["eventName"], event["apiVersion"], event["errorCode"]) == ("AdvanceEncrypt", "dkms-gcs-0.2", "")
    assert event["userIdentity"]["accessKeyId"] == app.key_id
    assert key_id in json.dumps(event["referencedResources"])
    assert "secret plaintext" not in json.dumps(event)
    denied = [e for e in events(trail) if e["eventName"] == "AdvanceEncrypt" and e["errorCode"] == "Forbidden.RAM"]
    assert denied, refused


def test_the_rest_of_transfer_clients_instance_calls(gateway_server: InProcessServer) -> None:
    app = provision(gateway_server)
    aes, _ = _key(app)
    rsa_key, rsa_version = _key(app, KeySpec="RSA_2048", KeyUsage="ENCRYPT/DECRYPT")
    app.kms.call("CreateSecret", SecretName="db", VersionId="v1", SecretData="pw-1", EncryptionKeyId=aes)
    plaintext = base64.b64encode(b"asymmetric").decode()
    calls = [
        ["transfer", "asymmetric_encrypt", {"key_id": rsa_key, "key_version_id": rsa_version,
                                            "algorithm": "RSAES_OAEP_SHA_256", "plaintext": plaintext}],
        ["transfer", "generate_data_key_without_plaintext", {"key_id": aes}],
        ["transfer", "get_secret_value", {"secret_name": "db"}],
    ]  # fmt: skip
    encrypted, without, secret = (ok(r)["body"] for r in run_clients(gateway_server, app.key_file, calls))
    assert "Plaintext" not in without or not without["Plaintext"]
    assert (secret["SecretData"], secret["VersionId"]) == ("pw-1", "v1")
    calls = [
        ["transfer", "asymmetric_decrypt", {"key_id": rsa_key, "key_version_id": rsa_version,
                                            "algorithm": "RSAES_OAEP_SHA_256",
                                            "ciphertext_blob": encrypted["CiphertextBlob"]}],
        ["transfer", "decrypt", {"ciphertext_blob": without["CiphertextBlob"]}],
    ]  # fmt: skip
    decrypted, data_key = (ok(r)["body"] for r in run_clients(gateway_server, app.key_file, calls))
    assert base64.b64decode(decrypted["Plaintext"]) == b"asymmetric"
    assert len(base64.b64decode(data_key["Plaintext"])) == 32
