"""Bring-your-own-key actions."""

from __future__ import annotations

from typing import Any

from openkms.protocol.actions.context import Ctx, Handler
from openkms.protocol.actions.shape import b64, iso


def get_parameters_for_import(ctx: Ctx) -> dict[str, Any]:
    out = ctx.services.importing.get_parameters(
        ctx.caller, ctx.p.required("KeyId"), ctx.p.required("WrappingAlgorithm"), ctx.p.required("WrappingKeySpec")
    )
    return {
        "KeyId": out.key_id,
        "ImportToken": out.token,
        # base64 DER SubjectPublicKeyInfo, no PEM armour
        "PublicKey": b64(out.public_key),
        "TokenExpireTime": iso(out.expires_at),
    }


def import_key_material(ctx: Ctx) -> dict[str, Any]:
    ctx.services.importing.import_material(
        ctx.caller,
        ctx.p.required("KeyId"),
        ctx.p.required("ImportToken"),
        ctx.p.b64("EncryptedKeyMaterial"),
        ctx.p.integer("KeyMaterialExpireUnix", 0, 2**40),
    )
    return {}


def delete_key_material(ctx: Ctx) -> dict[str, Any]:
    ctx.services.importing.delete_material(ctx.caller, ctx.p.required("KeyId"))
    return {}


ACTIONS: dict[str, Handler] = {
    "GetParametersForImport": get_parameters_for_import,
    "ImportKeyMaterial": import_key_material,
    "DeleteKeyMaterial": delete_key_material,
}
