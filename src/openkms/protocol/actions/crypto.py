"""Symmetric cryptography actions."""

from __future__ import annotations

from typing import Any

from openkms.domain import errors
from openkms.protocol.actions.context import Ctx, Handler
from openkms.protocol.actions.shape import b64
from openkms.service.crypto import AsymmetricSource, data_key_length


def encrypt(ctx: Ctx) -> dict[str, Any]:
    # Plaintext is opaque text: Alibaba KMS encrypts the string's bytes, it does not base64-decode it.
    plaintext = ctx.p.required("Plaintext").encode("utf-8")
    out = ctx.services.crypto.encrypt(ctx.caller, ctx.p.required("KeyId"), plaintext, ctx.context(), ctx.dry_run())
    return {"KeyId": out.key_id, "KeyVersionId": out.version_id, "CiphertextBlob": b64(out.blob)}


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
    source = None
    if ctx.p.raw("SourceKeyId") or ctx.p.raw("SourceKeyVersionId") or ctx.p.raw("SourceEncryptionAlgorithm"):
        source = AsymmetricSource(
            ctx.p.required("SourceKeyId"),
            ctx.p.required("SourceKeyVersionId"),
            ctx.p.required("SourceEncryptionAlgorithm"),
        )
    out = ctx.services.crypto.reencrypt(
        ctx.caller,
        ctx.p.b64("CiphertextBlob"),
        ctx.p.required("DestinationKeyId"),
        ctx.context("SourceEncryptionContext"),
        ctx.context("DestinationEncryptionContext"),
        ctx.dry_run(),
        source,
    )
    return {"KeyId": out.key_id, "KeyVersionId": out.version_id, "CiphertextBlob": b64(out.blob)}


def _generate(ctx: Ctx, with_plaintext: bool) -> dict[str, Any]:
    length = data_key_length(ctx.p.raw("KeySpec"), ctx.p.integer("NumberOfBytes"))
    out = ctx.services.crypto.generate_data_key(
        ctx.caller, ctx.p.required("KeyId"), length, ctx.context(), with_plaintext, ctx.dry_run()
    )
    body: dict[str, Any] = {"KeyId": out.key_id, "KeyVersionId": out.version_id, "CiphertextBlob": b64(out.blob)}
    if with_plaintext:
        body["Plaintext"] = out.plaintext_b64
    return body


def generate_and_export_data_key(ctx: Ctx) -> dict[str, Any]:
    length = data_key_length(ctx.p.raw("KeySpec"), ctx.p.integer("NumberOfBytes"))
    made, exported = ctx.services.crypto.generate_and_export_data_key(
        ctx.caller,
        ctx.p.required("KeyId"),
        length,
        ctx.context(),
        ctx.p.b64("PublicKeyBlob"),
        ctx.p.required("WrappingKeySpec"),
        ctx.p.required("WrappingAlgorithm"),
        ctx.dry_run(),
    )
    return {
        "KeyId": made.key_id,
        "KeyVersionId": made.version_id,
        "CiphertextBlob": b64(made.blob),
        "ExportedDataKey": b64(exported),
    }


def export_data_key(ctx: Ctx) -> dict[str, Any]:
    key_id, version_id, exported = ctx.services.crypto.export_data_key(
        ctx.caller,
        ctx.p.b64("CiphertextBlob"),
        ctx.context(),
        ctx.p.b64("PublicKeyBlob"),
        ctx.p.required("WrappingKeySpec"),
        ctx.p.required("WrappingAlgorithm"),
        ctx.dry_run(),
    )
    return {"KeyId": key_id, "KeyVersionId": version_id, "ExportedDataKey": b64(exported)}


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
    "GenerateAndExportDataKey": generate_and_export_data_key,
    "ExportDataKey": export_data_key,
}
