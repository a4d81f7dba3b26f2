"""Secrets Manager actions (KMS 2016-01-20): parse, call one SecretService method, shape the answer."""

from __future__ import annotations

from typing import Any

from openkms.domain import errors
from openkms.domain import secrets as s
from openkms.domain.secrets import Secret, SecretVersion
from openkms.protocol.actions.context import Ctx, Handler
from openkms.protocol.actions.keys import parse_filters, parse_tags
from openkms.protocol.actions.shape import iso, page_fields
from openkms.protocol.errors import to_wire
from openkms.service.secrets import CreateSecretRequest, SecretValue


def _interval(secret: Secret) -> str:
    return f"{secret.rotation_interval}s" if secret.rotation_interval else ""


def _rotation(secret: Secret) -> dict[str, Any]:
    return {
        "AutomaticRotation": secret.automatic_rotation,
        "RotationInterval": _interval(secret),
        "NextRotationDate": iso(secret.next_rotation_at) if secret.rotation_enabled else "",
        "LastRotationDate": iso(secret.last_rotation_at),
    }


def _tags(secret: Secret) -> dict[str, Any]:
    return {"Tag": [{"TagKey": t.key, "TagValue": t.value} for t in secret.tags]}


def _stages(version: SecretVersion) -> dict[str, Any]:
    return {"VersionStage": list(version.stages)}


def _config(ctx: Ctx, name: str = "ExtendedConfig") -> str | None:
    """A JSON object, sent as text (the 3.x SDK serialises its dict so)."""
    raw = ctx.p.raw(name)
    if raw is not None and not isinstance(ctx.p.json(name), dict):
        raise errors.InvalidParameter(name, "A JSON object.")
    return raw


def _value(found: SecretValue, extended: bool) -> dict[str, Any]:
    secret, version = found.secret, found.version
    out = {
        "SecretName": secret.name,
        "SecretType": secret.secret_type.value,
        "SecretData": found.data,
        "SecretDataType": version.data_type.value,
        "VersionId": version.version_id,
        "VersionStages": _stages(version),
        "CreateTime": iso(version.created_at),
        **_rotation(secret),
    }
    if extended and secret.extended_config is not None:
        out["ExtendedConfig"] = secret.extended_config
    return out


def create_secret(ctx: Ctx) -> dict[str, Any]:
    p = ctx.p
    interval = p.raw("RotationInterval")
    req = CreateSecretRequest(
        name=p.required("SecretName"),
        version_id=p.required("VersionId"),
        data=p.required("SecretData"),
        data_type=s.parse_data_type(p.raw("SecretDataType")),
        secret_type=s.parse_type(p.raw("SecretType")),
        key_ref=p.raw("EncryptionKeyId"),
        extended_config=_config(ctx),
        rotation_enabled=p.flag("EnableAutomaticRotation"),
        rotation_interval=s.parse_rotation_interval(interval) if interval else None,
        description=p.raw("Description") or "",
        tags=parse_tags(ctx),
        policy=p.raw("Policy"),
        dkms_instance_id=p.raw("DKMSInstanceId") or "",
    )
    secret, version = ctx.services.secrets.create_secret(ctx.caller, req)
    return {
        "Arn": secret.arn(),
        "SecretName": secret.name,
        "SecretType": secret.secret_type.value,
        "VersionId": version.version_id,
        "ExtendedConfig": secret.extended_config or "",
        "DKMSInstanceId": secret.dkms_instance_id,
        **_rotation(secret),
    }


def get_secret_value(ctx: Ctx) -> dict[str, Any]:
    p = ctx.p
    found = ctx.services.secrets.get_secret_value(
        ctx.caller, p.required("SecretName"), p.raw("VersionId"), p.raw("VersionStage")
    )
    if ctx.dry_run():
        raise errors.DryRunSucceeded()
    return _value(found, p.flag("FetchExtendedConfig"))


def _batch_item(item: Any) -> tuple[str, str | None, str | None]:
    if isinstance(item, str):
        return item, None, None
    if not isinstance(item, dict) or not isinstance(item.get("SecretName"), str):
        raise errors.InvalidParameter("SecretsList", 'Use [{"SecretName":"name"}, ...].')
    version, stage = item.get("VersionId"), item.get("VersionStage")
    return item["SecretName"], version if isinstance(version, str) else None, stage if isinstance(stage, str) else None


def batch_get_secret_value(ctx: Ctx) -> dict[str, Any]:
    raw = ctx.p.json("SecretsList")
    if raw is None:
        raise errors.MissingParameter("SecretsList")
    if not isinstance(raw, list):
        raise errors.InvalidParameter("SecretsList", 'Use [{"SecretName":"name"}, ...].')
    found, failed = ctx.services.secrets.batch_get_secret_value(ctx.caller, [_batch_item(i) for i in raw])
    extended = ctx.p.flag("FetchExtendedConfig")
    refused = []
    for name, exc in failed:
        wire = to_wire(exc)
        refused.append({"SecretName": name, "Code": wire.code, "Message": wire.message, "HttpStatus": wire.status})
    return {"SecretValues": [_value(v, extended) for v in found], "Errors": refused}


def put_secret_value(ctx: Ctx) -> dict[str, Any]:
    p = ctx.p
    stages = p.json("VersionStages")
    if stages is not None and not (isinstance(stages, list) and all(isinstance(x, str) for x in stages)):
        raise errors.InvalidParameter("VersionStages", 'Use ["ACSCurrent", "custom"].')
    version = ctx.services.secrets.put_secret_value(
        ctx.caller, p.required("SecretName"), p.required("VersionId"), p.required("SecretData"),
        s.parse_data_type(p.raw("SecretDataType")), stages,
    )  # fmt: skip
    return {"SecretName": version.secret_name, "VersionId": version.version_id, "VersionStages": _stages(version)}


def update_secret_version_stage(ctx: Ctx) -> dict[str, Any]:
    p = ctx.p
    secret = ctx.services.secrets.update_version_stage(
        ctx.caller, p.required("SecretName"), p.required("VersionStage"), p.raw("MoveToVersion"),
        p.raw("RemoveFromVersion"),
    )  # fmt: skip
    return {"SecretName": secret.name}


def describe_secret(ctx: Ctx) -> dict[str, Any]:
    secret = ctx.services.secrets.describe_secret(ctx.caller, ctx.p.required("SecretName"))
    out = {
        "Arn": secret.arn(),
        "SecretName": secret.name,
        "SecretType": secret.secret_type.value,
        "Description": secret.description,
        "EncryptionKeyId": secret.encryption_key_id,
        "CreateTime": iso(secret.created_at),
        "UpdateTime": iso(secret.updated_at),
        "PlannedDeleteTime": iso(secret.delete_at),
        "ExtendedConfig": secret.extended_config or "",
        "DKMSInstanceId": secret.dkms_instance_id,
        "OwingService": "",
        **_rotation(secret),
    }
    if secret.rotation_error is not None:  # openkms's own field: why the last rotation failed
        out["LastRotationError"] = secret.rotation_error
    if ctx.p.flag("FetchTags"):
        out["Tags"] = _tags(secret)
    return out


def list_secrets(ctx: Ctx) -> dict[str, Any]:
    page = ctx.page()
    found, total = ctx.services.secrets.list_secrets(ctx.caller, page, parse_filters(ctx))
    fetch_tags = ctx.p.flag("FetchTags")
    rows = []
    for secret in found:
        row: dict[str, Any] = {
            "SecretName": secret.name,
            "SecretType": secret.secret_type.value,
            "CreateTime": iso(secret.created_at),
            "UpdateTime": iso(secret.updated_at),
            "PlannedDeleteTime": iso(secret.delete_at),
            "OwingService": "",
        }
        if fetch_tags:
            row["Tags"] = _tags(secret)
        rows.append(row)
    return {"SecretList": {"Secret": rows}, **page_fields(page.number, page.size, total)}


def list_secret_version_ids(ctx: Ctx) -> dict[str, Any]:
    page = ctx.page()
    secret, versions, total = ctx.services.secrets.list_version_ids(
        ctx.caller, ctx.p.required("SecretName"), ctx.p.flag("IncludeDeprecated"), page
    )
    rows = [{"VersionId": v.version_id, "CreateTime": iso(v.created_at), "VersionStages": _stages(v)} for v in versions]
    return {"SecretName": secret.name, "VersionIds": {"VersionId": rows}, **page_fields(page.number, page.size, total)}


def update_secret(ctx: Ctx) -> dict[str, Any]:
    # An empty Description clears it; an absent one leaves it.
    description = (ctx.p.raw("Description") or "") if ctx.p.present("Description") else None
    secret = ctx.services.secrets.update_secret(ctx.caller, ctx.p.required("SecretName"), description, _config(ctx))
    return {"SecretName": secret.name}


def update_secret_rotation_policy(ctx: Ctx) -> dict[str, Any]:
    interval = ctx.p.raw("RotationInterval")
    secret = ctx.services.secrets.update_rotation_policy(
        ctx.caller, ctx.p.required("SecretName"), ctx.p.required_flag("EnableAutomaticRotation"),
        s.parse_rotation_interval(interval) if interval else None,
    )  # fmt: skip
    return {"SecretName": secret.name}


def rotate_secret(ctx: Ctx) -> dict[str, Any]:
    secret = ctx.services.secrets.rotate_secret(ctx.caller, ctx.p.required("SecretName"), ctx.p.required("VersionId"))
    return {"Arn": secret.arn(), "SecretName": secret.name, "VersionId": ctx.p.required("VersionId")}


def delete_secret(ctx: Ctx) -> dict[str, Any]:
    secret = ctx.services.secrets.delete_secret(
        ctx.caller, ctx.p.required("SecretName"), ctx.p.flag("ForceDeleteWithoutRecovery"),
        ctx.p.integer("RecoveryWindowInDays"),
    )  # fmt: skip
    return {"SecretName": secret.name, "PlannedDeleteTime": iso(secret.delete_at)}


def restore_secret(ctx: Ctx) -> dict[str, Any]:
    secret = ctx.services.secrets.restore_secret(ctx.caller, ctx.p.required("SecretName"))
    return {"SecretName": secret.name}


def get_secret_policy(ctx: Ctx) -> dict[str, Any]:
    text = ctx.services.secrets.get_policy(ctx.caller, ctx.p.required("SecretName"), ctx.p.raw("PolicyName"))
    return {"Policy": text}


def set_secret_policy(ctx: Ctx) -> dict[str, Any]:
    ctx.services.secrets.set_policy(
        ctx.caller, ctx.p.required("SecretName"), ctx.p.raw("PolicyName"), ctx.p.required("Policy")
    )
    return {}


ACTIONS: dict[str, Handler] = {
    "CreateSecret": create_secret,
    "GetSecretValue": get_secret_value,
    "BatchGetSecretValue": batch_get_secret_value,
    "PutSecretValue": put_secret_value,
    "UpdateSecretVersionStage": update_secret_version_stage,
    "DescribeSecret": describe_secret,
    "ListSecrets": list_secrets,
    "ListSecretVersionIds": list_secret_version_ids,
    "UpdateSecret": update_secret,
    "UpdateSecretRotationPolicy": update_secret_rotation_policy,
    "RotateSecret": rotate_secret,
    "DeleteSecret": delete_secret,
    "RestoreSecret": restore_secret,
    "GetSecretPolicy": get_secret_policy,
    "SetSecretPolicy": set_secret_policy,
}
