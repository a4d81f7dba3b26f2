"""Bring your own key through both SDK generations (spec sections 3.7 and 4.3)."""

from __future__ import annotations

import base64
import os
import sqlite3
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from tests.e2e.clients import ApiError, Kms
from tests.servers import InProcessServer

DAY = 86_400


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def expect_error(status: int, code: str, kms: Kms, action: str, **params: Any) -> None:
    with pytest.raises(ApiError) as err:
        kms.call(action, **params)
    assert (err.value.status, err.value.code) == (status, code), err.value.message


def wrap(public_key_b64: str, material: bytes, algorithm: str) -> str:
    public = serialization.load_der_public_key(base64.b64decode(public_key_b64))
    if algorithm == "RSAES_PKCS1_V1_5":
        return b64(public.encrypt(material, padding.PKCS1v15()))  # type: ignore[union-attr, call-arg]
    h = hashes.SHA256() if algorithm == "RSAES_OAEP_SHA_256" else hashes.SHA1()
    return b64(public.encrypt(material, padding.OAEP(padding.MGF1(h), h, None)))  # type: ignore[union-attr, call-arg]


def external_key(kms: Kms, spec: str = "Aliyun_AES_256") -> str:
    key = kms.call("CreateKey", KeySpec=spec, Origin="EXTERNAL")["KeyMetadata"]
    assert (key["Origin"], key["KeyState"], key["PrimaryKeyVersion"]) == ("EXTERNAL", "PendingImport", "")
    return str(key["KeyId"])


def import_material(
    kms: Kms, key_id: str, material: bytes, algorithm: str = "RSAES_OAEP_SHA_256", **extra: Any
) -> dict[str, Any]:
    params = kms.call("GetParametersForImport", KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_2048")
    kms.call(
        "ImportKeyMaterial",
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], material, algorithm),
        **extra,
    )
    return params


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"])
def test_full_flow_with_every_rsa_wrapping_algorithm(kms: Kms, algorithm: str) -> None:
    key_id = external_key(kms)
    expect_error(409, "Rejected.PendingImport", kms, "Encrypt", KeyId=key_id, Plaintext="x")
    params = kms.call("GetParametersForImport", KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_2048")
    public = serialization.load_der_public_key(base64.b64decode(params["PublicKey"]))  # base64 DER, no PEM armour
    assert public.key_size == 2048  # type: ignore[union-attr]
    expires = time.mktime(time.strptime(params["TokenExpireTime"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(expires - (time.time() + DAY)) < 120
    material = os.urandom(32)
    kms.call(
        "ImportKeyMaterial",
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], material, algorithm),
        KeyMaterialExpireUnix=0,
    )
    key = kms.call("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert (key["KeyState"], key["MaterialExpireTime"]) == ("Enabled", "")
    blob = kms.call("Encrypt", KeyId=key_id, Plaintext="imported", EncryptionContext={"a": "b"})["CiphertextBlob"]
    assert kms.call("Decrypt", CiphertextBlob=blob, EncryptionContext={"a": "b"})["Plaintext"] == "imported"


@pytest.mark.parametrize(("spec", "size"), [("Aliyun_AES_128", 16), ("Aliyun_AES_192", 24), ("Aliyun_SM4", 16)])
def test_other_symmetric_specs_take_material_of_their_length(kms: Kms, spec: str, size: int) -> None:
    key_id = external_key(kms, spec)
    with pytest.raises(ApiError) as err:
        import_material(kms, key_id, os.urandom(32))
    assert (err.value.status, err.value.code) == (400, "InvalidKeyMaterial")
    import_material(kms, key_id, os.urandom(size))
    blob = kms.call("Encrypt", KeyId=key_id, Plaintext="ok")["CiphertextBlob"]
    assert kms.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "ok"


def test_binding_delete_and_reimport(kms: Kms) -> None:
    key_id = external_key(kms)
    material = os.urandom(32)
    import_material(kms, key_id, material)
    blob = kms.call("Encrypt", KeyId=key_id, Plaintext="kept")["CiphertextBlob"]
    kms.call("DeleteKeyMaterial", KeyId=key_id)
    key = kms.call("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert key["KeyState"] == "PendingImport"
    expect_error(409, "Rejected.PendingImport", kms, "Decrypt", CiphertextBlob=blob)
    with pytest.raises(ApiError) as err:
        import_material(kms, key_id, os.urandom(32))  # other material: the key is bound to the first
    assert (err.value.status, err.value.code) == (400, "InvalidKeyMaterial")
    import_material(kms, key_id, material, "RSAES_OAEP_SHA_1")
    assert kms.call("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "kept"
    # A re-import into a Disabled key keeps it Disabled.
    kms.call("DisableKey", KeyId=key_id)
    import_material(kms, key_id, material)
    assert kms.call("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"


def test_token_refusals(server: InProcessServer, kms: Kms) -> None:
    key_id, other_id = external_key(kms), external_key(kms)
    params = kms.call(
        "GetParametersForImport", KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    wrapped = wrap(params["PublicKey"], os.urandom(32), "RSAES_OAEP_SHA_256")
    token = params["ImportToken"]
    for garbage in ("not-a-token", token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:], token[:20]):
        expect_error(
            400,
            "InvalidImportToken",
            kms,
            "ImportKeyMaterial",
            KeyId=key_id,
            ImportToken=garbage,
            EncryptedKeyMaterial=wrapped,
        )
    expect_error(
        400,
        "InvalidImportToken",
        kms,
        "ImportKeyMaterial",
        KeyId=other_id,
        ImportToken=token,
        EncryptedKeyMaterial=wrapped,
    )
    expect_error(
        400,
        "InvalidKeyMaterial",
        kms,
        "ImportKeyMaterial",
        KeyId=key_id,
        ImportToken=token,
        EncryptedKeyMaterial=b64(os.urandom(256)),
    )
    expect_error(
        400, "InvalidParameter", kms, "ImportKeyMaterial",
        KeyId=key_id, ImportToken=token, EncryptedKeyMaterial=wrapped, KeyMaterialExpireUnix=int(time.time()) - 10,
    )  # fmt: skip
    server.clock.advance(DAY + 1)
    try:
        expect_error(
            400,
            "ExpiredImportToken",
            kms,
            "ImportKeyMaterial",
            KeyId=key_id,
            ImportToken=token,
            EncryptedKeyMaterial=wrapped,
        )
        report = server.services.scheduler.run_once()
        assert report.tokens_purged >= 1  # the sealed wrapping private key is destroyed with its token
    finally:
        server.clock.advance(-(DAY + 1))
    expect_error(
        400,
        "ExpiredImportToken",
        kms,
        "ImportKeyMaterial",
        KeyId=key_id,
        ImportToken=token,
        EncryptedKeyMaterial=wrapped,
    )
    # The token may be used again and again until it expires.
    fresh = kms.call(
        "GetParametersForImport", KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    material = os.urandom(32)
    for _ in range(2):
        kms.call(
            "ImportKeyMaterial",
            KeyId=key_id,
            ImportToken=fresh["ImportToken"],
            EncryptedKeyMaterial=wrap(fresh["PublicKey"], material, "RSAES_OAEP_SHA_256"),
        )


def test_wrapping_parameter_and_origin_refusals(kms: Kms, kms_factory: Any) -> None:
    key_id = external_key(kms)
    for alg, spec in (
        ("SM2PKE", "RSA_2048"),
        ("RSAES_OAEP_SHA_256", "EC_SM2"),
        ("RSAES_OAEP_SHA_256", "RSA_3072"),
        ("AES", "RSA_2048"),
    ):
        expect_error(
            400,
            "InvalidParameter",
            kms,
            "GetParametersForImport",
            KeyId=key_id,
            WrappingAlgorithm=alg,
            WrappingKeySpec=spec,
        )
    abroad = kms_factory("ap-southeast-1")
    foreign = external_key(abroad)
    expect_error(
        400,
        "InvalidParameter",
        abroad,
        "GetParametersForImport",
        KeyId=foreign,
        WrappingAlgorithm="SM2PKE",
        WrappingKeySpec="EC_SM2",
    )
    native = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    expect_error(
        400,
        "Unsupported.Origin",
        kms,
        "GetParametersForImport",
        KeyId=native,
        WrappingAlgorithm="RSAES_OAEP_SHA_256",
        WrappingKeySpec="RSA_2048",
    )
    params = kms.call(
        "GetParametersForImport", KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    expect_error(
        400,
        "Unsupported.Origin",
        kms,
        "ImportKeyMaterial",
        KeyId=native,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], os.urandom(32), "RSAES_OAEP_SHA_256"),
    )
    expect_error(400, "Unsupported.Origin", kms, "DeleteKeyMaterial", KeyId=native)
    expect_error(
        400,
        "Unsupported.Origin",
        kms,
        "UpdateRotationPolicy",
        KeyId=key_id,
        EnableAutomaticRotation=True,
        RotationInterval="30d",
    )
    expect_error(
        400,
        "Unsupported.Origin",
        kms,
        "CreateKey",
        Origin="EXTERNAL",
        EnableAutomaticRotation=True,
        RotationInterval="30d",
    )


def test_pending_deletion_rules(kms: Kms) -> None:
    key_id = external_key(kms)
    material = os.urandom(32)
    import_material(kms, key_id, material)
    kms.call("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    with pytest.raises(ApiError) as err:
        import_material(kms, key_id, material)
    assert (err.value.status, err.value.code) == (409, "Rejected.StateModifiedFailed")
    kms.call("DeleteKeyMaterial", KeyId=key_id)
    key = kms.call("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert key["KeyState"] == "PendingDeletion"
    assert key["DeleteDate"]
    kms.call("CancelKeyDeletion", KeyId=key_id)
    assert kms.call("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"


def test_material_expiry_follows_the_clock(server: InProcessServer, kms: Kms) -> None:
    key_id = external_key(kms)
    material = os.urandom(32)
    expire = int(server.clock.now()) + 3600
    import_material(kms, key_id, material, KeyMaterialExpireUnix=expire)
    key = kms.call("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert key["MaterialExpireTime"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expire))
    blob = kms.call("Encrypt", KeyId=key_id, Plaintext="until expiry")["CiphertextBlob"]
    server.clock.advance(3601)
    try:
        key = kms.call("DescribeKey", KeyId=key_id)["KeyMetadata"]
        assert (key["KeyState"], key["MaterialExpireTime"]) == ("PendingImport", "")
        expect_error(409, "Rejected.PendingImport", kms, "Decrypt", CiphertextBlob=blob)
        report = server.services.scheduler.run_once()
        assert key_id in report.materials_expired
        with server.runtime.store.read() as uow:
            version = uow.versions.get(uow.keys.get(key["Creator"], "cn-hangzhou", key_id).primary_version_id)
        assert version is not None
        assert version.material_ref == b""  # the sealed material itself is gone
        import_material(kms, key_id, material)
        assert kms.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "until expiry"
    finally:
        server.clock.advance(-3601)


def test_imported_material_is_sealed_at_rest(server: InProcessServer, kms: Kms) -> None:
    material = os.urandom(32)
    key_id = external_key(kms)
    import_material(kms, key_id, material)
    stored = b""
    for path in server.data_dir.glob("openkms.sqlite3*"):
        stored += path.read_bytes()
    assert material not in stored
    with sqlite3.connect(server.data_dir / "openkms.sqlite3") as db:
        rows = db.execute("SELECT material_ref FROM key_versions WHERE key_id = ?", (key_id,)).fetchall()
    assert len(rows) == 1
    assert material not in rows[0][0]
