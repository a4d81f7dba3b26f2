"""The instance gateway on PostgreSQL, where its handler runs in a greenlet on the event loop
(protocol/gateway/app.py with ``greenlet``; openkms/offload.py): a client key, a key and a
secret read from the database, and a write made meanwhile on the RPC API, through dkms-gcs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openkms.system import OffsetClock
from tests.e2e.gateway_support import b64, ok, provision, run_clients, unb64
from tests.servers import InProcessServer, inprocess_server
from tests.stores import POSTGRES_ENV, POSTGRES_URL, database_url

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason=f"{POSTGRES_ENV} is not set: no PostgreSQL server to test")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[InProcessServer]:
    with (
        database_url("postgres") as url,
        inprocess_server(tmp_path / "data", auth_clock=OffsetClock(), database_url=url) as srv,
    ):
        assert srv.runtime.greenlet
        yield srv


def test_the_gateway_reads_and_answers_from_the_greenlet_on_postgresql(server: InProcessServer) -> None:
    app = provision(server)
    key = app.kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    app.kms.call("CreateSecret", SecretName="db", VersionId="v1", SecretData="pw-1", EncryptionKeyId=key)
    calls = [
        ["dkms", "advance_encrypt", {"key_id": key, "plaintext": b64(b"hello"), "aad": b64(b"ctx")}],
        ["dkms", "get_secret_value", {"secret_name": "db"}],
    ]
    sealed, secret = (ok(r) for r in run_clients(server, app.key_file, calls))
    assert secret["SecretData"] == "pw-1"
    app.kms.call("PutSecretValue", SecretName="db", VersionId="v2", SecretData="pw-2")  # a write on the RPC API
    calls = [
        ["dkms", "advance_decrypt", {"ciphertext_blob": sealed["CiphertextBlob"], "aad": b64(b"ctx")}],
        ["dkms", "get_secret_value", {"secret_name": "db"}],
    ]
    opened, secret = (ok(r) for r in run_clients(server, app.key_file, calls))
    assert unb64(opened["Plaintext"]) == b"hello"
    assert (secret["SecretData"], secret["VersionId"]) == ("pw-2", "v2")
