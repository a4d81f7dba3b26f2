"""Asymmetric key actions: every one names KeyId and KeyVersionId."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from openkms.protocol.actions.context import Ctx, Handler
from openkms.protocol.actions.shape import b64


def _ids(ctx: Ctx) -> tuple[str, str]:
    return ctx.p.required("KeyId"), ctx.p.required("KeyVersionId")


def asymmetric_sign(ctx: Ctx) -> dict[str, Any]:
    key_ref, version_id = _ids(ctx)
    out = ctx.services.asymmetric.sign(
        ctx.caller, key_ref, version_id, ctx.p.required("Algorithm"), ctx.p.b64("Digest"), ctx.dry_run()
    )
    return {"KeyId": out.key_id, "KeyVersionId": out.version_id, "Value": b64(out.value)}


def asymmetric_verify(ctx: Ctx) -> dict[str, Any]:
    key_ref, version_id = _ids(ctx)
    try:
        # A signature that is not even base64 is just an invalid signature: Value=false.
        signature = base64.b64decode(ctx.p.required("Value"), validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    key_id, version, valid = ctx.services.asymmetric.verify(
        ctx.caller, key_ref, version_id, ctx.p.required("Algorithm"), ctx.p.b64("Digest"), signature, ctx.dry_run()
    )
    return {"KeyId": key_id, "KeyVersionId": version, "Value": valid}


def asymmetric_encrypt(ctx: Ctx) -> dict[str, Any]:
    key_ref, version_id = _ids(ctx)
    # Unlike Encrypt, AsymmetricEncrypt's Plaintext is base64 and is decoded first.
    out = ctx.services.asymmetric.encrypt(
        ctx.caller, key_ref, version_id, ctx.p.required("Algorithm"), ctx.p.b64("Plaintext"), ctx.dry_run()
    )
    return {"KeyId": out.key_id, "KeyVersionId": out.version_id, "CiphertextBlob": b64(out.value)}


def asymmetric_decrypt(ctx: Ctx) -> dict[str, Any]:
    key_ref, version_id = _ids(ctx)
    out = ctx.services.asymmetric.decrypt(
        ctx.caller, key_ref, version_id, ctx.p.required("Algorithm"), ctx.p.b64("CiphertextBlob"), ctx.dry_run()
    )
    return {"KeyId": out.key_id, "KeyVersionId": out.version_id, "Plaintext": b64(out.value)}


def get_public_key(ctx: Ctx) -> dict[str, Any]:
    key_ref, version_id = _ids(ctx)
    key_id, version, pem = ctx.services.asymmetric.public_key_pem(ctx.caller, key_ref, version_id, ctx.dry_run())
    return {"KeyId": key_id, "KeyVersionId": version, "PublicKey": pem}


ACTIONS: dict[str, Handler] = {
    "AsymmetricSign": asymmetric_sign,
    "AsymmetricVerify": asymmetric_verify,
    "AsymmetricEncrypt": asymmetric_encrypt,
    "AsymmetricDecrypt": asymmetric_decrypt,
    "GetPublicKey": get_public_key,
}
