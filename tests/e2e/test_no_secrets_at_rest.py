"""No key material, secret, data key or plaintext at rest, in the logs or in the audit trail.

Drives a dedicated server through every SDK mode, then reads the raw SQLite files of its data
directory (the WAL included, where fresh commits live until a checkpoint), the audit trail's files
and the records of the ``openkms`` loggers, and looks for every secret it knows in every encoding a careless
implementation might have used. Key material is obtained by unsealing each version under the
server's root key, so the check covers the real bytes, not a guess.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from openkms.bootstrap import load_root_key
from openkms.crypto.sealing import AesGcmSealer
from openkms.crypto.software import SoftwareBackend, material_aad
from openkms.domain import ciphertext, context
from openkms.domain.identity import Caller
from openkms.service.ram_users import UserFields
from openkms.service.secret_values import _binding
from tests.e2e.clients import MODES, ApiError, Kms
from tests.servers import InProcessServer, inprocess_server

_CALLER_PUBLIC_KEY = base64.b64encode(
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .public_key()
    .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
).decode()
DB_SUFFIXES = (".sqlite3", ".sqlite3-wal", ".sqlite3-shm", ".sqlite3-journal")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with inprocess_server(Path(tmp_path_factory.mktemp("at-rest")) / "data") as srv:
        yield srv


def encodings(secret: bytes) -> set[bytes]:
    """The forms a secret could be written in: raw, hex, base64 (standard and URL-safe)."""
    forms = {secret, binascii.hexlify(secret), binascii.hexlify(secret).upper()}
    for b64 in (base64.b64encode(secret), base64.urlsafe_b64encode(secret)):
        forms.add(b64)
        forms.add(b64.rstrip(b"="))
    return {f for f in forms if len(f) >= 8}


def database_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.iterdir() if p.name.endswith(DB_SUFFIXES))


def _more_secrets(kms: Kms, mode: str, key_id: str, canary: str) -> dict[str, bytes]:
    """What the other actions that carry secrets return: an exported data key, an asymmetric
    decryption's plaintext, a RAM user's AccessKey secret."""
    found: dict[str, bytes] = {}
    exported = kms.call(
        "GenerateAndExportDataKey", KeyId=key_id, PublicKeyBlob=_CALLER_PUBLIC_KEY, WrappingKeySpec="RSA_2048",
        WrappingAlgorithm="RSAES_OAEP_SHA_256",
    )  # fmt: skip
    found[f"{mode} exported data key"] = base64.b64decode(exported["Plaintext"]) if "Plaintext" in exported else b""
    pair = kms.call("CreateKey", KeySpec="RSA_2048", KeyUsage="ENCRYPT/DECRYPT")["KeyMetadata"]
    version = kms.call("ListKeyVersions", KeyId=pair["KeyId"])["KeyVersions"]["KeyVersion"][0]["KeyVersionId"]
    plain = base64.b64encode(f"{canary} asym".encode()).decode()
    sealed = kms.call("AsymmetricEncrypt", KeyId=pair["KeyId"], KeyVersionId=version,
                      Algorithm="RSAES_OAEP_SHA_256", Plaintext=plain)["CiphertextBlob"]  # fmt: skip
    opened = kms.call("AsymmetricDecrypt", KeyId=pair["KeyId"], KeyVersionId=version,
                      Algorithm="RSAES_OAEP_SHA_256", CiphertextBlob=sealed)["Plaintext"]  # fmt: skip
    found[f"{mode} asymmetric plaintext"] = base64.b64decode(opened)
    return {k: v for k, v in found.items() if v}


def _secret_values(kms: Kms, mode: str, key_id: str, canary: str) -> dict[str, bytes]:
    """Secrets Manager's values: text and binary, under the caller's key and the service-managed
    one, put and read back."""
    text, binary = f"{canary} secret {mode}", f"{canary} binary {mode}".encode()
    name = f"at-rest-{mode}"
    kms.call("CreateSecret", SecretName=name, VersionId="v1", SecretData=text, EncryptionKeyId=key_id)
    kms.call("PutSecretValue", SecretName=name, VersionId="v2", SecretData=f"{text} two")
    assert kms.call("GetSecretValue", SecretName=name, VersionStage="ACSPrevious")["SecretData"] == text
    kms.call("CreateSecret", SecretName=f"{name}-bin", VersionId="v1", SecretDataType="binary",
             SecretData=base64.b64encode(binary).decode())  # fmt: skip
    assert base64.b64decode(kms.call("GetSecretValue", SecretName=f"{name}-bin")["SecretData"]) == binary
    return {f"{mode} secret value": text.encode(), f"{mode} second secret value": f"{text} two".encode(),
            f"{mode} binary secret value": binary}  # fmt: skip


def _rotated_credentials(server: InProcessServer, kms: Kms, account_uid: str) -> dict[str, bytes]:
    """A RAMCredentials secret rotated once: the user's first pair and the one the rotator issued,
    both held only in the secret's versions (encrypted) and the AccessKey rows (sealed)."""
    caller = Caller(account_uid, "cn-hangzhou")
    server.services.ram_users.create_user(caller, "rotated-app", UserFields())
    first = server.services.ram_users.create_access_key(caller, "rotated-app")
    pair = json.dumps({"AccessKeyId": first.access_key.id, "AccessKeySecret": first.secret})
    kms.call("CreateSecret", SecretName="at-rest-ram", VersionId="v1", SecretType="RAMCredentials", SecretData=pair,
             ExtendedConfig={"SecretSubType": "RamUserAccessKey", "UserName": "rotated-app"})  # fmt: skip
    kms.call("RotateSecret", SecretName="at-rest-ram", VersionId="v2")
    rotated = kms.call("GetSecretValue", SecretName="at-rest-ram")
    assert rotated["VersionId"] == "v2"
    new_secret = json.loads(rotated["SecretData"])["AccessKeySecret"]
    return {"first rotated pair's secret": first.secret.encode(), "rotated pair's secret": new_secret.encode(),
            "rotated secret value": rotated["SecretData"].encode()}  # fmt: skip


def _secret_data_keys(server: InProcessServer, sealer: AesGcmSealer) -> dict[str, bytes]:
    """Each secret version's data key, opened under its CMK's material: it must not be at rest either."""
    backend = SoftwareBackend(sealer, pool_size=0)
    found: dict[str, bytes] = {}
    with server.runtime.store.read() as uow:
        for account in uow.accounts.list_all():
            for secret in uow.secrets.list_in_region(account.uid, "cn-hangzhou"):
                key = uow.keys.get(secret.account_uid, secret.region, secret.encryption_key_id)
                assert key is not None
                for version in uow.secrets.versions(secret):
                    env = ciphertext.unpack(version.sealed_data_key)
                    key_version = uow.versions.get(env.version_id)
                    assert key_version is not None
                    bound = context.canonical(_binding(account.uid, secret.region, secret.name, version.version_id))
                    aad = ciphertext.associated_data(env.version_id, bound)
                    found[f"data key of {secret.name}/{version.version_id}"] = backend.decrypt(
                        key.spec_info, key_version, aad, env.salt, env.nonce, env.sealed
                    )
    assert len(found) == 3 * len(MODES) + 2  # and the RAMCredentials secret's two versions
    return found


def test_no_secret_in_the_database_files_or_the_logs(server: InProcessServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="openkms")
    canary = f"at-rest canary {uuid.uuid4().hex} ✓"
    secrets: dict[str, bytes] = {"admin AccessKey secret": server.secret.encode(), "plaintext": canary.encode()}
    version_ids: list[str] = []
    key_ids: list[str] = []

    for mode in MODES:
        ak, account_secret, account_uid = server.new_account()
        secrets[f"{mode} AccessKey secret"] = account_secret.encode()
        kms = Kms(mode, server.endpoint, ak, account_secret)
        for spec in ("Aliyun_AES_256", "Aliyun_AES_128", "Aliyun_SM4"):
            meta = kms.call("CreateKey", KeySpec=spec, EnableAutomaticRotation=True, RotationInterval="7d")
            key_ids.append(meta["KeyMetadata"]["KeyId"])
        signing_key = kms.call("CreateKey", KeySpec="EC_P256", KeyUsage="SIGN/VERIFY")["KeyMetadata"]["KeyId"]
        key_ids.append(signing_key)
        key_id = key_ids[-4]

        blob = kms.call("Encrypt", KeyId=key_id, Plaintext=canary, EncryptionContext={"c": "1"})["CiphertextBlob"]
        assert kms.call("Decrypt", CiphertextBlob=blob, EncryptionContext={"c": "1"})["Plaintext"] == canary
        kms.call("ReEncrypt", CiphertextBlob=blob, DestinationKeyId=key_ids[-3], SourceEncryptionContext={"c": "1"})
        dk = kms.call("GenerateDataKey", KeyId=key_id, NumberOfBytes=32)["Plaintext"]
        secrets[f"{mode} data key"] = base64.b64decode(dk)
        secrets[f"{mode} data key (base64 text)"] = dk.encode()
        blob = kms.call("GenerateDataKeyWithoutPlaintext", KeyId=key_ids[-2])["CiphertextBlob"]
        dk = kms.call("Decrypt", CiphertextBlob=blob)["Plaintext"]
        secrets[f"{mode} data key without plaintext"] = base64.b64decode(dk)
        # Failing requests that carry the plaintext: a wrong secret (whose error echoes the string
        # to sign) and a wrong context. Neither may leave the plaintext in a log.
        with pytest.raises(ApiError):
            Kms(mode, server.endpoint, ak, account_secret + "x").call("Encrypt", KeyId=key_id, Plaintext=canary)
        with pytest.raises(ApiError):
            kms.call("Decrypt", CiphertextBlob=blob, EncryptionContext={"wrong": canary})
        secrets[f"{mode} random password"] = kms.call("GetRandomPassword", PasswordLength="32")[
            "RandomPassword"
        ].encode()
        secrets.update(_more_secrets(kms, mode, key_ids[-4], canary))
        secrets.update(_secret_values(kms, mode, key_ids[-4], canary))
        if mode == MODES[0]:
            secrets.update(_rotated_credentials(server, kms, account_uid))

    # Rotate every rotating key once, so that more than one version of each holds material.
    server.clock.advance(8 * 86_400)
    assert len(server.services.scheduler.run_once().rotated) == 3 * len(MODES)

    # The material of every version, unsealed under the root key.
    sealer = AesGcmSealer(load_root_key(server.runtime.settings)[0])
    sealed_refs: list[bytes] = []
    with server.runtime.store.read() as uow:
        for key_id in key_ids:
            for version in uow.versions.list_for_key(key_id):
                version_ids.append(version.id)
                sealed_refs.append(version.material_ref)
                material = sealer.unseal(version.material_ref, material_aad(version.id))
                secrets[f"material of {key_id}/{version.id}"] = material
    assert len(version_ids) == len(key_ids) + 3 * len(MODES)
    secrets["root key"] = load_root_key(server.runtime.settings)[0]
    secrets.update(_secret_data_keys(server, sealer))

    files = database_files(server.data_dir)
    names = {p.name for p in files}
    assert {"openkms.sqlite3", "openkms.sqlite3-wal"} <= names, names
    raw = {p.name: p.read_bytes() for p in files}
    everything = b"".join(raw.values())
    # The scan sees what was written: ids and the sealed forms are there...
    for key_id in key_ids:
        assert key_id.encode() in everything
    for sealed in sealed_refs:
        assert sealed in everything
    # ...and no secret is, in any encoding.
    for what, secret in secrets.items():
        for form in encodings(secret):
            for name, content in raw.items():
                assert form not in content, f"{what} found in {name}"

    # The audit trail: every request is there (the key ids are), and no secret in any encoding.
    trail = b"".join(p.read_bytes() for p in sorted((server.data_dir / "audit").rglob("*")) if p.is_file())
    for key_id in key_ids:
        assert key_id.encode() in trail
    assert b'"eventName":"GetRandomPassword"' in trail
    for what, secret in secrets.items():
        for form in encodings(secret):
            assert form not in trail, f"{what} found in the audit trail"
    assert b"canary" not in trail

    # Logs: one access line per request, and no secret or plaintext in any openkms record.
    records = [r for r in caplog.records if r.name.startswith("openkms")]
    access = [r.getMessage() for r in records if r.name == "openkms.access"]
    assert sum(" Encrypt " in line for line in access) == 2 * len(MODES)
    assert any("SignatureDoesNotMatch" in line or "InvalidAccessKeySecret" in line for line in access)
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in records).encode()
    for what, secret in secrets.items():
        for form in encodings(secret) | {canary.encode("ascii", "backslashreplace")}:
            assert form not in text, f"{what} found in the log"
    assert b"canary" not in text
