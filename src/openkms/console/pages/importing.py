"""Bringing your own key material (Origin=EXTERNAL) from a key's page: get import parameters,
download them file by file, upload the wrapped material. A refusal is shown next to the field of
the import forms it concerns."""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import Response

from openkms.console import forms
from openkms.console.errors import IMPORT_FIELDS
from openkms.console.pages import key_detail
from openkms.console.web import Ctx
from openkms.domain import errors

log = logging.getLogger("openkms.console")

# The import parameters' downloads: file name -> (what it holds, media type, download name).
IMPORT_FILES = {
    "publickey.der": ("public key", "application/octet-stream", "publickey-{key}.der"),
    "publickey.pem": ("public key", "application/x-pem-file", "publickey-{key}.pem"),
    "importtoken.txt": ("token", "text/plain; charset=utf-8", "importtoken-{key}.txt"),
}


async def parameters(ctx: Ctx) -> Response:
    """GetParametersForImport; the page then offers the public key and the token as downloads."""
    ref = ctx.path("key_id")
    spec, algorithm = forms.text(ctx.form, "wrapping_spec"), forms.text(ctx.form, "wrapping_algorithm")
    try:
        params = await ctx.run(lambda: ctx.services.importing.get_parameters(ctx.caller, ref, algorithm, spec))
    except errors.KmsError as exc:
        return await key_detail.refused(ctx, IMPORT_FIELDS.field_of(exc, "import-parameters"), exc)
    log.info("console: %s got import parameters for key %s", ctx.caller.access_key_id, params.key_id)
    return ctx.redirect(key_detail.key_path(params.key_id), done="import-parameters", params=params.token_id)


async def download(ctx: Ctx) -> Response:
    """One file of an issue of import parameters: the public key (DER or PEM) or the token."""
    ref, token_id, name = ctx.path("key_id"), ctx.path("token_id"), ctx.path("name")
    if name not in IMPORT_FILES:
        return ctx.console.not_found(ctx.request)
    params = await ctx.run(lambda: ctx.services.importing.issued_parameters(ctx.caller, ref, token_id))
    what, media_type, filename = IMPORT_FILES[name]
    if what == "token":
        content = (params.token + "\n").encode("ascii")
    elif name.endswith(".pem"):
        content = pem("PUBLIC KEY", params.public_key)
    else:
        content = params.public_key
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename.format(key=params.key_id)}"'},
    )


async def material(ctx: Ctx) -> Response:
    """ImportKeyMaterial from the uploaded files (multipart/form-data)."""
    ref = ctx.path("key_id")
    problems: dict[str, str] = {}
    token = await _upload(ctx.form, "import_token")
    wrapped = await _upload(ctx.form, "material")
    if not token:
        problems["import_token"] = forms.upload_missing("import token")
    if not wrapped:
        problems["material"] = forms.upload_missing("wrapped key material")
    for name, what, data in (("import_token", "an import token", token), ("material", "wrapped key material", wrapped)):
        if data is not None and len(data) > forms.MAX_UPLOAD_BYTES:
            problems[name] = f"The file is larger than {forms.MAX_UPLOAD_BYTES // 1024} KiB, too large for {what}."
    expire_unix: int | None = None
    try:
        expire_unix = forms.parse_expiry(forms.text(ctx.form, "material_expiry"))
    except forms.FormError as exc:
        problems.update(exc.fields)
    if problems or token is None or wrapped is None:
        return await key_detail.show(ctx, problems, 400)
    token_text, material_bytes = forms.import_token_text(token), forms.wrapped_material(wrapped)
    try:
        key = await ctx.run(
            lambda: ctx.services.importing.import_material(ctx.caller, ref, token_text, material_bytes, expire_unix)
        )
    except errors.KmsError as exc:
        return await key_detail.refused(ctx, IMPORT_FIELDS.field_of(exc, "import-material"), exc)
    log.info("console: %s imported key material into key %s", ctx.caller.access_key_id, key.id)
    return ctx.redirect(key_detail.key_path(key.id), done="import-material")


async def _upload(form: Mapping[str, Any], name: str) -> bytes | None:
    """An uploaded file's bytes (at most one byte over the limit), or None when no file was chosen."""
    value = form.get(name)
    if not isinstance(value, UploadFile):
        return None
    data = await value.read(forms.MAX_UPLOAD_BYTES + 1)
    return data or None


def pem(label: str, der: bytes) -> bytes:
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""]).encode("ascii")
