"""KMS instances (openkms's key stores), read only: ListKmsInstances, GetKmsInstance,
GetKmsInstanceQuotaInfos, GetDefaultKmsInstance."""

from __future__ import annotations

from typing import Any

from openkms.domain import instances
from openkms.protocol.actions.context import Ctx, Handler


def list_kms_instances(ctx: Ctx) -> dict[str, Any]:
    page = ctx.page()
    found = ctx.services.instances.list_instances(ctx.caller)
    rows = [
        {"KmsInstanceId": i.id, "KmsInstanceArn": instances.arn(ctx.caller.region, ctx.caller.account_uid, i.id)}
        for i in page.slice(found)
    ]
    return {"KmsInstances": {"KmsInstance": rows}, "PageNumber": page.number, "PageSize": page.size,
            "TotalCount": len(found)}  # fmt: skip


def get_kms_instance(ctx: Ctx) -> dict[str, Any]:
    usage = ctx.services.instances.get_instance(ctx.caller, ctx.p.required("KmsInstanceId"))
    instance = usage.instance
    return {
        "KmsInstance": {
            "InstanceId": instance.id,
            "InstanceName": instance.description or instance.id,
            "Status": "Connected" if instance.available else "Unavailable",
            "KeyNum": usage.keys,
            "SecretNum": usage.secrets,
            "ProductVersion": "3",
            "SaleStatus": "Running",
            "ChargeType": "Subscription",
        }
    }


def get_kms_instance_quota_infos(ctx: Ctx) -> dict[str, Any]:
    ref = ctx.p.required("KmsInstanceId")
    resource = instances.quota_resource(ctx.p.raw("ResourceType"))
    rows = ctx.services.instances.quotas(ctx.caller, ref, resource)
    return {
        "KmsInstanceId": instances.instance_id(instances.store_id(ref.strip())),
        "KmsInstanceQuotaInfos": [
            {"ResourceType": kind.value, "ResourceQuota": quota, "UsedQuantity": used} for kind, quota, used in rows
        ],
    }


def get_default_kms_instance(ctx: Ctx) -> dict[str, Any]:
    return {"DefaultKmsInstanceId": ctx.services.instances.default_instance(ctx.caller)}


ACTIONS: dict[str, Handler] = {
    "ListKmsInstances": list_kms_instances,
    "GetKmsInstance": get_kms_instance,
    "GetKmsInstanceQuotaInfos": get_kms_instance_quota_infos,
    "GetDefaultKmsInstance": get_default_kms_instance,
}
