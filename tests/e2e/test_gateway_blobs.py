"""One ciphertext, two protocols: a blob made through the instance gateway (TransferClient in
instance mode, or dkms-gcs's AdvanceEncrypt with TransferClient's Aad) opens through the RPC API's
Decrypt, and the other way round, with and without an EncryptionContext."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from openkms.domain.context import transfer_aad
from tests.e2e.clients import ApiError
from tests.e2e.gateway_support import b64, ok, provision, refusal, run_clients, unb64
from tests.servers import InProcessServer, inprocess_server

CONTEXT = {"tenant": "42", "app": "wörld"}
INVALID_CIPHERTEXT = (
    'The specified parameter "CiphertextBlob" is not valid. '
    "The ciphertext is corrupt or the EncryptionContext does not match the one used to encrypt."
)


@pytest.fixture(scope="module")
def gateway_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with inprocess_server(Path(tmp_path_factory.mktemp("gateway-blobs")) / "data") as srv:
        yield srv


def test_transfer_client_blobs_open_through_the_rpc_api_and_back(gateway_server: InProcessServer) -> None:
    app = provision(gateway_server)
    key_id = app.kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    rpc_plain = app.kms.call("Encrypt", KeyId=key_id, Plaintext="from rpc")["CiphertextBlob"]
    rpc_bound = app.kms.call("Encrypt", KeyId=key_id, Plaintext="from rpc, bound", EncryptionContext=CONTEXT)[
        "CiphertextBlob"
    ]
    calls = [
        ["transfer", "encrypt", {"key_id": key_id, "plaintext": "from transfer"}],
        ["transfer", "encrypt", {"key_id": key_id, "plaintext": "from transfer, bound", "encryption_context": CONTEXT}],
        ["transfer", "decrypt", {"ciphertext_blob": rpc_plain}],
        ["transfer", "decrypt", {"ciphertext_blob": rpc_bound, "encryption_context": CONTEXT}],
        ["transfer", "decrypt", {"ciphertext_blob": rpc_bound, "encryption_context": {"tenant": "43"}}],
        ["transfer", "decrypt", {"ciphertext_blob": rpc_bound}],
    ]  # fmt: skip
    results = run_clients(gateway_server, app.key_file, calls)
    plain, bound, opened_plain, opened_bound = (ok(r)["body"] for r in results[:4])
    assert (opened_plain["Plaintext"], opened_bound["Plaintext"]) == ("from rpc", "from rpc, bound")
    assert refusal(results[4])[:2] == (400, "InvalidParameter")
    assert refusal(results[5])[:2] == (400, "InvalidParameter")
    assert app.kms.call("Decrypt", CiphertextBlob=plain["CiphertextBlob"])["Plaintext"] == "from transfer"
    opened = app.kms.call("Decrypt", CiphertextBlob=bound["CiphertextBlob"], EncryptionContext=CONTEXT)
    assert (opened["Plaintext"], opened["KeyId"]) == ("from transfer, bound", key_id)
    # The same context in another order is the same context; another context or none is refused.
    reordered = dict(reversed(list(CONTEXT.items())))
    assert (
        app.kms.call("Decrypt", CiphertextBlob=bound["CiphertextBlob"], EncryptionContext=reordered)["Plaintext"]
        == "from transfer, bound"
    )
    for wrong in ({"tenant": "42"}, None):
        with pytest.raises(ApiError) as err:
            app.kms.call("Decrypt", CiphertextBlob=bound["CiphertextBlob"], EncryptionContext=wrong)
        assert (err.value.status, err.value.code) == (400, "InvalidParameter")


def test_dkms_gcs_aad_is_the_rpc_apis_context(gateway_server: InProcessServer) -> None:
    """dkms-gcs users who send TransferClient's Aad themselves reach the same blobs."""
    app = provision(gateway_server)
    key_id = app.kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    made = app.kms.call("GenerateDataKey", KeyId=key_id, EncryptionContext=CONTEXT)
    aad = b64(transfer_aad(CONTEXT))
    advance_blob = b64(b"$\x00\x02" + base64.b64decode(made["CiphertextBlob"]))
    calls = [
        ["dkms", "advance_encrypt", {"key_id": key_id, "plaintext": b64(b"advance"), "aad": aad}],
        ["dkms", "advance_decrypt", {"ciphertext_blob": advance_blob, "aad": aad}],
        ["dkms", "advance_decrypt", {"ciphertext_blob": advance_blob}],
    ]
    results = run_clients(gateway_server, app.key_file, calls)
    sealed, data_key = ok(results[0]), ok(results[1])
    assert refusal(results[2]) == (400, "InvalidParameter", INVALID_CIPHERTEXT)
    assert unb64(data_key["Plaintext"]).decode() == made["Plaintext"]  # the RPC API's data key: its base64 text
    blob = base64.b64encode(unb64(sealed["CiphertextBlob"])[3:]).decode()
    assert app.kms.call("Decrypt", CiphertextBlob=blob, EncryptionContext=CONTEXT)["Plaintext"] == "advance"
