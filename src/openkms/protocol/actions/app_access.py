"""Application access (KMS 2016-01-20): application access points, client keys, KMS permission
policies (RAM's CreatePolicy is another action of another version) and network rules."""

from __future__ import annotations

import base64
import json
from typing import Any

from openkms.domain import app_access as a
from openkms.domain.app_access import AccessPoint, AppPolicy, ClientKey, NetworkRule
from openkms.protocol.actions.context import Ctx, Handler
from openkms.service.app_access import PolicyFields


def _arn(ctx: Ctx, kind: str, name: str) -> str:
    return f"acs:kms:{ctx.caller.region}:{ctx.caller.account_uid}:{kind}/{name}"


def _listed(ctx: Ctx, items: list[Any], outer: str, inner: str, row: Any) -> dict[str, Any]:
    page = ctx.page()
    return {outer: {inner: [row(item) for item in page.slice(items)]}, "PageNumber": page.number,
            "PageSize": page.size, "TotalCount": len(items)}  # fmt: skip


def _optional(ctx: Ctx, name: str, parse: Any) -> Any:
    text = ctx.p.raw(name)
    return None if text is None else parse(text)


# --- application access points --------------------------------------------------------------------


def _point(ctx: Ctx, point: AccessPoint) -> dict[str, Any]:
    return {"Arn": _arn(ctx, "aap", point.name), "Name": point.name, "Description": point.description,
            "AuthenticationMethod": point.authentication_method,
            "Policies": json.dumps(list(point.policies))}  # fmt: skip


def create_application_access_point(ctx: Ctx) -> dict[str, Any]:
    p = ctx.p
    point = ctx.services.app_access.create_access_point(
        ctx.caller, p.required("Name"), p.raw("AuthenticationMethod") or a.CLIENT_KEY,
        a.aap_policies(p.required("Policies")), p.raw("Description") or "",
    )  # fmt: skip
    return _point(ctx, point)


def describe_application_access_point(ctx: Ctx) -> dict[str, Any]:
    return _point(ctx, ctx.services.app_access.describe_access_point(ctx.caller, ctx.p.required("Name")))


def list_application_access_points(ctx: Ctx) -> dict[str, Any]:
    found = ctx.services.app_access.list_access_points(ctx.caller)
    return _listed(ctx, found, "ApplicationAccessPoints", "ApplicationAccessPoint",
                   lambda p: {"Name": p.name, "AuthenticationMethod": p.authentication_method})  # fmt: skip


def update_application_access_point(ctx: Ctx) -> dict[str, Any]:
    policies = _optional(ctx, "Policies", a.aap_policies)
    ctx.services.app_access.update_access_point(ctx.caller, ctx.p.required("Name"), ctx.p.raw("Description"), policies)
    return {}


def delete_application_access_point(ctx: Ctx) -> dict[str, Any]:
    ctx.services.app_access.delete_access_point(ctx.caller, ctx.p.required("Name"))
    return {}


# --- client keys ------------------------------------------------------------------------------------


def _key(key: ClientKey) -> dict[str, Any]:
    return {"ClientKeyId": key.id, "AapName": key.aap_name, "KeyAlgorithm": key.key_algorithm,
            "KeyOrigin": "KMS_GENERATE", "NotBefore": a.format_time(key.not_before),
            "NotAfter": a.format_time(key.not_after), "CreateTime": a.format_time(key.created_at),
            "PublicKeyData": base64.b64encode(key.public_key).decode()}  # fmt: skip


def create_client_key(ctx: Ctx) -> dict[str, Any]:
    p = ctx.p
    issued = ctx.services.app_access.create_client_key(
        ctx.caller, p.required("AapName"), p.required("Password"),
        _optional(ctx, "NotBefore", lambda t: a.parse_time(t, "NotBefore")),
        _optional(ctx, "NotAfter", lambda t: a.parse_time(t, "NotAfter")),
    )  # fmt: skip
    key = issued.key
    return {"ClientKeyId": key.id, "KeyAlgorithm": key.key_algorithm, "NotBefore": a.format_time(key.not_before),
            "NotAfter": a.format_time(key.not_after),
            "PrivateKeyData": base64.b64encode(issued.private_key_data).decode()}  # fmt: skip


def get_client_key(ctx: Ctx) -> dict[str, Any]:
    return _key(ctx.services.app_access.get_client_key(ctx.caller, ctx.p.required("ClientKeyId")))


def list_client_keys(ctx: Ctx) -> dict[str, Any]:
    keys = ctx.services.app_access.list_client_keys(ctx.caller, ctx.p.required("AapName"))
    return {"ClientKeys": [_key(key) for key in keys]}


def delete_client_key(ctx: Ctx) -> dict[str, Any]:
    ctx.services.app_access.delete_client_key(ctx.caller, ctx.p.required("ClientKeyId"))
    return {}


# --- policies ---------------------------------------------------------------------------------------


def _policy(ctx: Ctx, policy: AppPolicy) -> dict[str, Any]:
    return {"Arn": _arn(ctx, "policy", policy.name), "Name": policy.name, "Description": policy.description,
            "KmsInstance": policy.kms_instance, "Permissions": list(policy.permissions),
            "Resources": list(policy.resources), "AccessControlRules": a.rules_text(policy.network_rules)}  # fmt: skip


def _policy_fields(ctx: Ctx) -> PolicyFields:
    return PolicyFields(
        ctx.p.raw("Description"), _optional(ctx, "Permissions", a.permissions),
        _optional(ctx, "Resources", a.resources), _optional(ctx, "AccessControlRules", a.access_control_rules),
    )  # fmt: skip


def create_policy(ctx: Ctx) -> dict[str, Any]:
    p = ctx.p
    fields = PolicyFields(
        p.raw("Description"), a.permissions(p.required("Permissions")), a.resources(p.required("Resources")),
        a.access_control_rules(p.raw("AccessControlRules")),
    )  # fmt: skip
    policy = ctx.services.app_access.create_policy(ctx.caller, p.required("Name"), p.required("KmsInstance"), fields)
    return _policy(ctx, policy)


def describe_policy(ctx: Ctx) -> dict[str, Any]:
    return _policy(ctx, ctx.services.app_access.describe_policy(ctx.caller, ctx.p.required("Name")))


def list_policies(ctx: Ctx) -> dict[str, Any]:
    found = ctx.services.app_access.list_policies(ctx.caller)
    return _listed(ctx, found, "Policies", "Policy", lambda p: {"Name": p.name})


def update_policy(ctx: Ctx) -> dict[str, Any]:
    ctx.services.app_access.update_policy(ctx.caller, ctx.p.required("Name"), _policy_fields(ctx))
    return {}


def delete_policy(ctx: Ctx) -> dict[str, Any]:
    ctx.services.app_access.delete_policy(ctx.caller, ctx.p.required("Name"))
    return {}


# --- network rules ----------------------------------------------------------------------------------


def _rule(ctx: Ctx, rule: NetworkRule) -> dict[str, Any]:
    return {"Arn": _arn(ctx, "network", rule.name), "Name": rule.name, "Description": rule.description,
            "Type": rule.type, "SourcePrivateIp": json.dumps(list(rule.source_private_ip))}  # fmt: skip


def create_network_rule(ctx: Ctx) -> dict[str, Any]:
    p = ctx.p
    rule = ctx.services.app_access.create_network_rule(
        ctx.caller, p.required("Name"), p.raw("Type") or a.PRIVATE, a.source_private_ip(p.required("SourcePrivateIp")),
        p.raw("Description") or "",
    )  # fmt: skip
    return _rule(ctx, rule)


def describe_network_rule(ctx: Ctx) -> dict[str, Any]:
    return _rule(ctx, ctx.services.app_access.describe_network_rule(ctx.caller, ctx.p.required("Name")))


def list_network_rules(ctx: Ctx) -> dict[str, Any]:
    found = ctx.services.app_access.list_network_rules(ctx.caller)
    return _listed(ctx, found, "NetworkRules", "NetworkRule", lambda r: {"Name": r.name, "Type": r.type})


def update_network_rule(ctx: Ctx) -> dict[str, Any]:
    sources = _optional(ctx, "SourcePrivateIp", a.source_private_ip)
    ctx.services.app_access.update_network_rule(ctx.caller, ctx.p.required("Name"), sources, ctx.p.raw("Description"))
    return {}


def delete_network_rule(ctx: Ctx) -> dict[str, Any]:
    ctx.services.app_access.delete_network_rule(ctx.caller, ctx.p.required("Name"))
    return {}


ACTIONS: dict[str, Handler] = {
    "CreateApplicationAccessPoint": create_application_access_point,
    "DescribeApplicationAccessPoint": describe_application_access_point,
    "ListApplicationAccessPoints": list_application_access_points,
    "UpdateApplicationAccessPoint": update_application_access_point,
    "DeleteApplicationAccessPoint": delete_application_access_point,
    "CreateClientKey": create_client_key,
    "GetClientKey": get_client_key,
    "ListClientKeys": list_client_keys,
    "DeleteClientKey": delete_client_key,
    "CreatePolicy": create_policy,
    "DescribePolicy": describe_policy,
    "ListPolicies": list_policies,
    "UpdatePolicy": update_policy,
    "DeletePolicy": delete_policy,
    "CreateNetworkRule": create_network_rule,
    "DescribeNetworkRule": describe_network_rule,
    "ListNetworkRules": list_network_rules,
    "UpdateNetworkRule": update_network_rule,
    "DeleteNetworkRule": delete_network_rule,
}
