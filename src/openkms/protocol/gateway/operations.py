"""The gateway's operations: each reads its request message, calls the same service methods as
the RPC API's actions (so the same authorization, key states and audit notes apply) and answers
its response message with the key version it used (the ``x-kms-migrationkeyversionid`` header).

Advance blobs are ``b"$\\x00\\x02"`` + openkms's own blob (the self-describing prefix Alibaba's
instances write and TransferClient strips), so a blob crosses between the RPC API and the
gateway unchanged; ``Iv`` is answered (the blob's nonce) but never needed, since the blob holds it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openkms.domain import errors
from openkms.domain.ciphertext import NONCE_LEN, SALT_LEN, VERSION_ID_LEN
from openkms.domain.identity import Caller
from openkms.protocol.gateway.messages import new
from openkms.service.container import Services

ADVANCE_PREFIX = b"$\x00\x02"  # magic, (cipher version << 4) | padding, AES-GCM
_NONCE_AT = VERSION_ID_LEN + 1 + SALT_LEN
_ASYMMETRIC_ENCRYPTION = ("RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "SM2PKE")


@dataclass(frozen=True, slots=True)
class GatewayCtx:
    caller: Caller
    services: Services


Answer = tuple[Any, str]  # (the response message, the key version id it used)
Operation = tuple[str, Callable[[GatewayCtx, Any], Answer]]  # (request message name, handler)


def _iv(blob: bytes) -> bytes:
    return blob[_NONCE_AT : _NONCE_AT + NONCE_LEN]


def _unprefixed(blob: bytes) -> bytes:
    if not blob.startswith(ADVANCE_PREFIX):
        raise errors.InvalidCiphertext()
    return blob[len(ADVANCE_PREFIX) :]


def _number_of_bytes(n: int) -> int:
    if n == 0:
        return 32
    if not 1 <= n <= 1024:
        raise errors.InvalidParameter("NumberOfBytes", "From 1 to 1024.")
    return n


def _required(value: str, name: str) -> str:
    if not value:
        raise errors.MissingParameter(name)
    return value


# --- symmetric ----------------------------------------------------------------------------------


def advance_encrypt(ctx: GatewayCtx, req: Any) -> Answer:
    out = ctx.services.crypto.encrypt(ctx.caller, _required(req.KeyId, "KeyId"), req.Plaintext, {}, aad=req.Aad)
    blob = ADVANCE_PREFIX + out.blob
    message = new("AdvanceEncryptResponse", KeyId=out.key_id, CiphertextBlob=blob, Iv=_iv(out.blob),
                  Algorithm="AES_GCM", PaddingMode=req.PaddingMode, KeyVersionId=out.version_id)  # fmt: skip
    return message, out.version_id


def advance_decrypt(ctx: GatewayCtx, req: Any) -> Answer:
    out = ctx.services.crypto.decrypt(ctx.caller, _unprefixed(req.CiphertextBlob), {}, aad=req.Aad)
    message = new("AdvanceDecryptResponse", KeyId=out.key_id, Plaintext=out.plaintext, Algorithm="AES_GCM",
                  PaddingMode=req.PaddingMode, KeyVersionId=out.version_id)  # fmt: skip
    return message, out.version_id


def advance_generate_data_key(ctx: GatewayCtx, req: Any) -> Answer:
    made = ctx.services.crypto.generate_data_key(
        ctx.caller, _required(req.KeyId, "KeyId"), _number_of_bytes(req.NumberOfBytes), {}, aad=req.Aad,
        sealed_raw=True,
    )  # fmt: skip
    message = new("AdvanceGenerateDataKeyResponse", KeyId=made.key_id, Iv=_iv(made.blob),
                  Plaintext=base64.b64decode(made.plaintext_b64), CiphertextBlob=ADVANCE_PREFIX + made.blob,
                  Algorithm="AES_GCM", KeyVersionId=made.version_id)  # fmt: skip
    return message, made.version_id


def encrypt(ctx: GatewayCtx, req: Any) -> Answer:
    key_ref = _required(req.KeyId, "KeyId")
    if req.Algorithm in _ASYMMETRIC_ENCRYPTION:
        asym = ctx.services.asymmetric.encrypt(ctx.caller, key_ref, "", req.Algorithm, req.Plaintext)
        message = new("EncryptResponse", KeyId=asym.key_id, CiphertextBlob=asym.value, Algorithm=req.Algorithm)
        return message, asym.version_id
    out = ctx.services.crypto.encrypt(ctx.caller, key_ref, req.Plaintext, {}, aad=req.Aad)
    message = new("EncryptResponse", KeyId=out.key_id, CiphertextBlob=out.blob, Iv=_iv(out.blob),
                  Algorithm="AES_GCM", PaddingMode=req.PaddingMode)  # fmt: skip
    return message, out.version_id


def decrypt(ctx: GatewayCtx, req: Any) -> Answer:
    if req.Algorithm in _ASYMMETRIC_ENCRYPTION:
        asym = ctx.services.asymmetric.decrypt(
            ctx.caller, _required(req.KeyId, "KeyId"), "", req.Algorithm, req.CiphertextBlob
        )
        message = new("DecryptResponse", KeyId=asym.key_id, Plaintext=asym.value, Algorithm=req.Algorithm)
        return message, asym.version_id
    out = ctx.services.crypto.decrypt(ctx.caller, req.CiphertextBlob, {}, aad=req.Aad)
    message = new("DecryptResponse", KeyId=out.key_id, Plaintext=out.plaintext, Algorithm="AES_GCM",
                  PaddingMode=req.PaddingMode)  # fmt: skip
    return message, out.version_id


def generate_data_key(ctx: GatewayCtx, req: Any) -> Answer:
    made = ctx.services.crypto.generate_data_key(
        ctx.caller, _required(req.KeyId, "KeyId"), _number_of_bytes(req.NumberOfBytes), {}, aad=req.Aad,
        sealed_raw=True,
    )  # fmt: skip
    message = new("GenerateDataKeyResponse", KeyId=made.key_id, Iv=_iv(made.blob), CiphertextBlob=made.blob,
                  Plaintext=base64.b64decode(made.plaintext_b64), Algorithm="AES_GCM")  # fmt: skip
    return message, made.version_id


# --- asymmetric ---------------------------------------------------------------------------------


def _digest(algorithm: str, digest: bytes, message: bytes, message_type: str) -> bytes:
    """The digest to sign: as sent (DIGEST), or SHA-256 of the message (RAW)."""
    if message_type in ("", "DIGEST"):
        return digest or message  # the SDK puts a DIGEST's bytes in Message (TransferClient) or Digest
    if message_type != "RAW":
        raise errors.InvalidParameter("MessageType", "MessageType is RAW or DIGEST.")
    if not algorithm.endswith("SHA_256"):
        raise errors.UnsupportedOperation("RAW messages are hashed for the SHA-256 algorithms only; send a DIGEST.")
    return hashlib.sha256(message).digest()


def sign(ctx: GatewayCtx, req: Any) -> Answer:
    digest = _digest(req.Algorithm, req.Digest, req.Message, req.MessageType)
    out = ctx.services.asymmetric.sign(ctx.caller, _required(req.KeyId, "KeyId"), "", req.Algorithm, digest)
    message = new("SignResponse", KeyId=out.key_id, Signature=out.value, Algorithm=req.Algorithm,
                  MessageType=req.MessageType or "DIGEST")  # fmt: skip
    return message, out.version_id


def verify(ctx: GatewayCtx, req: Any) -> Answer:
    digest = _digest(req.Algorithm, req.Digest, req.Message, req.MessageType)
    key_id, version_id, valid = ctx.services.asymmetric.verify(
        ctx.caller, _required(req.KeyId, "KeyId"), "", req.Algorithm, digest, req.Signature
    )
    message = new("VerifyResponse", KeyId=key_id, Value=valid, Algorithm=req.Algorithm,
                  MessageType=req.MessageType or "DIGEST")  # fmt: skip
    return message, version_id


def get_public_key(ctx: GatewayCtx, req: Any) -> Answer:
    key_id, version_id, pem = ctx.services.asymmetric.public_key_pem(ctx.caller, _required(req.KeyId, "KeyId"), "")
    return new("GetPublicKeyResponse", KeyId=key_id, PublicKey=pem), version_id


# --- the rest -----------------------------------------------------------------------------------


def generate_random(ctx: GatewayCtx, req: Any) -> Answer:
    if not 1 <= req.Length <= 1024:
        raise errors.InvalidParameter("Length", "From 1 to 1024.")
    return new("GenerateRandomResponse", Random=ctx.services.account.random_bytes(ctx.caller, req.Length)), ""


def get_secret_value(ctx: GatewayCtx, req: Any) -> Answer:
    found = ctx.services.secrets.get_secret_value(
        ctx.caller, _required(req.SecretName, "SecretName"), req.VersionId or None, req.VersionStage or None
    )
    secret, version = found.secret, found.version
    message = new(
        "GetSecretValueResponse", SecretName=secret.name, SecretType=secret.secret_type.value, SecretData=found.data,
        SecretDataType=version.data_type.value, VersionStages=list(version.stages), VersionId=version.version_id,
        AutomaticRotation="Enabled" if secret.rotation_enabled else "Disabled",
    )  # fmt: skip
    if req.FetchExtendedConfig and secret.extended_config is not None:
        message.ExtendedConfig = secret.extended_config
    return message, ""


OPERATIONS: dict[str, Operation] = {
    "AdvanceEncrypt": ("AdvanceEncryptRequest", advance_encrypt),
    "AdvanceDecrypt": ("AdvanceDecryptRequest", advance_decrypt),
    "AdvanceGenerateDataKey": ("AdvanceGenerateDataKeyRequest", advance_generate_data_key),
    "Encrypt": ("EncryptRequest", encrypt),
    "Decrypt": ("DecryptRequest", decrypt),
    "GenerateDataKey": ("GenerateDataKeyRequest", generate_data_key),
    "Sign": ("SignRequest", sign),
    "Verify": ("VerifyRequest", verify),
    "GetPublicKey": ("GetPublicKeyRequest", get_public_key),
    "GenerateRandom": ("GenerateRandomRequest", generate_random),
    "GetSecretValue": ("GetSecretValueRequest", get_secret_value),
}


# --- data key pairs -------------------------------------------------------------------------------


def _key_pair(ctx: GatewayCtx, req: Any, advance: bool, with_plaintext: bool) -> Answer:
    made = ctx.services.crypto.generate_data_key_pair(
        ctx.caller, _required(req.KeyId, "KeyId"), _required(req.KeyPairSpec, "KeyPairSpec"),
        req.KeyFormat or "PEM", req.Aad, with_plaintext,
    )  # fmt: skip
    name = ("Advance" if advance else "") + "GenerateDataKeyPair" + ("" if with_plaintext else "WithoutPlaintext")
    fields: dict[str, Any] = {
        "KeyId": made.key_id, "Iv": _iv(made.blob), "KeyPairSpec": req.KeyPairSpec, "PublicKey": made.public_key,
        "PrivateKeyCiphertextBlob": (ADVANCE_PREFIX if advance else b"") + made.blob, "Algorithm": "AES_GCM",
    }  # fmt: skip
    if with_plaintext:
        fields["PrivateKeyPlaintext"] = made.private_key
    if advance:
        fields["KeyVersionId"] = made.version_id
    return new(name + "Response", **fields), made.version_id


def _pairs() -> dict[str, Operation]:
    table: dict[str, Operation] = {}
    for advance in (False, True):
        for with_plaintext in (True, False):
            name = (
                ("Advance" if advance else "") + "GenerateDataKeyPair" + ("" if with_plaintext else "WithoutPlaintext")
            )

            def run(ctx: GatewayCtx, req: Any, a: bool = advance, p: bool = with_plaintext) -> Answer:
                return _key_pair(ctx, req, a, p)

            table[name] = (name + "Request", run)
    return table


OPERATIONS.update(_pairs())
