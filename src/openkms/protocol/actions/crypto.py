"""Symmetric cryptography actions."""

from __future__ import annotations

import base64
from typing import Any

from openkms.domain import errors
from openkms.protocol.actions.context import Ctx, Handler
from openkms.service.crypto import data_key_length


def _b64(blob: bytes) -> str:
    return base64.b64encode(blob).decode("ascii")


def encrypt(ctx: Ctx) -> dict[str, Any]:
    # Plaintext is opaque text: Alibaba KMS encrypts the string's bytes, it does not base64-decode it.
    plaintext = ctx.p.required("Plaintext").encode("utf-8")
    out = ctx.services.crypto.encrypt(ctx.caller, ctx.p.required("KeyId"), plaintext, ctx.context(), ctx.dry_run())
    return {"KeyId": out.key_id, "KeyVersionId": out.version_id, "CiphertextBlob": _b64(out.blob)}


def _plaintext_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:  # only possible for blobs made by another tool with binary plaintext
        raise errors.InvalidParameter("CiphertextBlob", "The plaintext is not text.") from None


def decrypt(ctx: Ctx) -> dict[str, Any]:
    blob = ctx.p.b64("CiphertextBlob")
    out = ctx.services.crypto.decrypt(ctx.caller, blob, ctx.context(), ctx.dry_run())
    return {"KeyId": out.key_id, "KeyVersionId": out.version_id, "Plaintext": _plaintext_text(out.plaintext)}


def reencrypt(ctx: Ctx) -> dict[str, Any]:
    if ctx.p.raw("SourceKeyId") or ctx.p.raw("SourceEncryptionAlgorithm"):
        raise errors.UnsupportedOperation("Re-encrypting an asymmetric ciphertext is not available yet.")
    out = ctx.services.crypto.reencrypt(
        ctx.caller,
        ctx.p.b64("CiphertextBlob"),
        ctx.p.required("DestinationKeyId"),
        ctx.context("SourceEncryptionContext"),
        ctx.context("DestinationEncryptionContext"),
        ctx.dry_run(),
    )
    return {"KeyId": out.key_id, "KeyVersionId": out.version_id, "CiphertextBlob": _b64(out.blob)}


def _generate(ctx: Ctx, with_plaintext: bool) -> dict[str, Any]:
    length = data_key_length(ctx.p.raw("KeySpec"), ctx.p.integer("NumberOfBytes"))
    out = ctx.services.crypto.generate_data_key(
        ctx.caller, ctx.p.required("KeyId"), length, ctx.context(), with_plaintext, ctx.dry_run()
    )
    body: dict[str, Any] = {"KeyId": out.key_id, "KeyVersionId": out.version_id, "CiphertextBlob": _b64(out.blob)}
    if with_plaintext:
        body["Plaintext"] = out.plaintext_b64
    return body


def generate_data_key(ctx: Ctx) -> dict[str, Any]:
    return _generate(ctx, with_plaintext=True)


def generate_data_key_without_plaintext(ctx: Ctx) -> dict[str, Any]:
    return _generate(ctx, with_plaintext=False)


ACTIONS: dict[str, Handler] = {
    "Encrypt": encrypt,
    "Decrypt": decrypt,
    "ReEncrypt": reencrypt,
    "GenerateDataKey": generate_data_key,
    "GenerateDataKeyWithoutPlaintext": generate_data_key_without_plaintext,
}
