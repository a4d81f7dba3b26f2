"""What docs/DEPLOYMENT.md says nodes on one PostgreSQL database share, and what they do not, with
real ``openkms serve`` processes, each with its own data directory: the root key given to every
node as ``OPENKMS_ROOT_KEY`` opens what any node sealed (keys, secrets, the administrator pair,
the local CA); a node without it is refused at start; openkms's own SoftHSM2 token belongs to
one data directory, so its HSM keys answer 503 on the other nodes."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.e2e.clients import ApiError, Kms
from tests.hsm_support import requires_softhsm
from tests.servers import ProcessServer, process_server, run_openkms
from tests.stores import POSTGRES_ENV, POSTGRES_URL, database_url

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason=f"{POSTGRES_ENV} is not set: no PostgreSQL server to test")


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[tuple[ProcessServer, ProcessServer, dict[str, str]]]:
    """Two nodes, one database, one root key from the environment, a data directory each."""
    with ExitStack() as stack:
        url = stack.enter_context(database_url("postgres"))
        assert url is not None
        env = {"OPENKMS_DATABASE_URL": url, "OPENKMS_ROOT_KEY": base64.b64encode(os.urandom(32)).decode()}
        first = stack.enter_context(process_server(tmp_path / "node-a", env=env))
        second = stack.enter_context(process_server(tmp_path / "node-b", env=env))
        yield first, second, env


def clients(first: ProcessServer, second: ProcessServer) -> tuple[Kms, Kms]:
    admin = first.admin()  # made by the first node's first start, written only into its data directory
    pair = (admin["AccessKeyId"], admin["AccessKeySecret"])
    return Kms("new-v3", first.endpoint, *pair), Kms("old", second.endpoint, *pair)


def test_nodes_sharing_the_root_key_open_what_each_other_sealed(
    two_nodes: tuple[ProcessServer, ProcessServer, dict[str, str]], tmp_path: Path
) -> None:
    first, second, env = two_nodes
    a, b = clients(first, second)
    assert not (second.data_dir / "admin-credentials.json").exists()  # the pair is the database's, not a node's
    assert not (first.data_dir / "root.key").exists()
    assert not (second.data_dir / "root.key").exists()
    key_id = a.call("CreateKey")["KeyMetadata"]["KeyId"]
    blob = a.call("Encrypt", KeyId=key_id, Plaintext="sealed on node a")["CiphertextBlob"]
    assert b.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "sealed on node a"
    b.call("CreateSecret", SecretName="shared", SecretData="written on node b", VersionId="v1", EncryptionKeyId=key_id)
    assert a.call("GetSecretValue", SecretName="shared")["SecretData"] == "written on node b"
    # One local CA for the database: clients trust one ca.pem; each node has its own certificate.
    ca = (first.data_dir / "tls" / "ca.pem").read_bytes()
    assert (second.data_dir / "tls" / "ca.pem").read_bytes() == ca
    assert (first.data_dir / "tls" / "server.pem").read_bytes() != (second.data_dir / "tls" / "server.pem").read_bytes()

    # A third node without the root key makes its own root.key, and is refused at start.
    third = run_openkms(
        "serve", "--data-dir", str(tmp_path / "node-c"), "--port", "0", env={**env, "OPENKMS_ROOT_KEY": ""}
    )
    assert third.returncode == 2
    assert third.stderr == (
        f"openkms: configuration error: the root key from {tmp_path / 'node-c' / 'root.key'} is not the key "
        "the data in the configured database was sealed under; start openkms with the original root key\n"
    )
    assert env["OPENKMS_ROOT_KEY"] not in third.stderr + third.stdout


@requires_softhsm
def test_hsm_keys_in_a_node_s_own_softhsm_token_are_unavailable_on_the_others(
    two_nodes: tuple[ProcessServer, ProcessServer, dict[str, str]],
) -> None:
    first, second, _ = two_nodes
    a, b = clients(first, second)
    key_id = a.call("CreateKey", ProtectionLevel="HSM")["KeyMetadata"]["KeyId"]
    blob = a.call("Encrypt", KeyId=key_id, Plaintext="in node a's token")["CiphertextBlob"]
    with pytest.raises(ApiError) as refused:
        b.call("Decrypt", CiphertextBlob=blob)
    assert (refused.value.status, refused.value.code) == (503, "ServiceUnavailableTemporary")
    assert a.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "in node a's token"
