"""RAM API 2015-05-01 actions: users, AccessKeys, policies, versions, attachments.

Served on the same endpoint and signatures as KMS; the request's Version selects this table.
Shapes follow what the official SDKs parse (docs/reference/ram-2015-05-01.md).
"""

from __future__ import annotations

from typing import Any

from openkms.domain import errors
from openkms.domain.identity import AccessKey, AccessKeyStatus
from openkms.domain.ram.identities import PolicyType, RotateStrategy, User, parse_policy_type
from openkms.protocol.actions.context import Ctx, Handler
from openkms.protocol.actions.shape import iso
from openkms.service.ram_policies import PolicyView
from openkms.service.ram_users import Page, UserFields

MAX_ITEMS = 1000


def _page(ctx: Ctx) -> Page:
    try:
        size = ctx.p.integer("MaxItems", 1, MAX_ITEMS)
    except errors.InvalidParameter:
        raise errors.RamInvalidParameter("MaxItems") from None
    return Page(ctx.p.raw("Marker"), size or 100)


def _flag(ctx: Ctx, name: str) -> bool:
    try:
        return ctx.p.flag(name)  # "True" / "False" as the Python SDKs send them, any case
    except errors.InvalidParameter:
        raise errors.RamInvalidParameter(name) from None


def _policy_type(ctx: Ctx, required: bool = True) -> PolicyType | None:
    value = ctx.p.required("PolicyType") if required else ctx.p.raw("PolicyType")
    return None if value is None else parse_policy_type(value)


def _paged(items_key: str, item_key: str, items: list[dict[str, Any]], marker: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {items_key: {item_key: items}, "IsTruncated": marker is not None}
    if marker is not None:
        out["Marker"] = marker
    return out


def _user(user: User, updated: bool = True) -> dict[str, Any]:
    out = {
        "UserId": user.user_id,
        "UserName": user.name,
        "DisplayName": user.display_name,
        "MobilePhone": user.mobile_phone,
        "Email": user.email,
        "Comments": user.comments,
        "CreateDate": iso(user.created_at),
    }
    if updated:
        out["UpdateDate"] = iso(user.updated_at)
    return out


def _fields(ctx: Ctx, prefix: str = "") -> UserFields:
    p = ctx.p
    return UserFields(
        p.raw(f"{prefix}DisplayName"),
        p.raw(f"{prefix}Email"),
        p.raw(f"{prefix}MobilePhone"),
        p.raw(f"{prefix}Comments"),
    )


def _access_key(ak: AccessKey) -> dict[str, Any]:
    status = "Active" if ak.status is AccessKeyStatus.ENABLED else "Inactive"
    return {"AccessKeyId": ak.id, "Status": status, "CreateDate": iso(ak.created_at)}


def _policy(view: PolicyView, document: bool = False) -> dict[str, Any]:
    p = view.policy
    out: dict[str, Any] = {
        "PolicyName": p.name,
        "PolicyType": p.type.value,
        "Description": p.description,
        "DefaultVersion": p.default_version,
        "CreateDate": iso(p.created_at),
        "UpdateDate": iso(p.updated_at),
        "AttachmentCount": view.attachments,
    }
    if document:
        out["PolicyDocument"] = view.default.document  # deprecated in the SDK model, kept for older callers
    return out


def _version(version_id: str, default: str, document: str, created_at: int) -> dict[str, Any]:
    return {
        "VersionId": version_id,
        "IsDefaultVersion": version_id == default,
        "PolicyDocument": document,
        "CreateDate": iso(created_at),
    }


# --- users ----------------------------------------------------------------------------------------


def create_user(ctx: Ctx) -> dict[str, Any]:
    user = ctx.services.ram_users.create_user(ctx.caller, ctx.p.required("UserName"), _fields(ctx))
    return {"User": _user(user, updated=False)}


def get_user(ctx: Ctx) -> dict[str, Any]:
    user = ctx.services.ram_users.get_user(ctx.caller, ctx.p.required("UserName"))
    return {"User": {**_user(user), "LastLoginDate": ""}}


def update_user(ctx: Ctx) -> dict[str, Any]:
    user = ctx.services.ram_users.update_user(
        ctx.caller, ctx.p.required("UserName"), ctx.p.raw("NewUserName"), _fields(ctx, "New")
    )
    return {"User": _user(user)}


def list_users(ctx: Ctx) -> dict[str, Any]:
    users, marker = ctx.services.ram_users.list_users(ctx.caller, _page(ctx))
    return _paged("Users", "User", [_user(u) for u in users], marker)


def delete_user(ctx: Ctx) -> dict[str, Any]:
    ctx.services.ram_users.delete_user(ctx.caller, ctx.p.required("UserName"))
    return {}


# --- AccessKeys -----------------------------------------------------------------------------------


def create_access_key(ctx: Ctx) -> dict[str, Any]:
    issued = ctx.services.ram_users.create_access_key(ctx.caller, ctx.p.raw("UserName"))
    return {"AccessKey": {**_access_key(issued.access_key), "AccessKeySecret": issued.secret}}


def list_access_keys(ctx: Ctx) -> dict[str, Any]:
    keys = ctx.services.ram_users.list_access_keys(ctx.caller, ctx.p.raw("UserName"))
    return {"AccessKeys": {"AccessKey": [_access_key(k) for k in keys]}}


def update_access_key(ctx: Ctx) -> dict[str, Any]:
    status = ctx.p.required("Status")
    if status not in ("Active", "Inactive"):
        raise errors.RamInvalidParameter("Status")
    ctx.services.ram_users.update_access_key(
        ctx.caller, ctx.p.required("UserAccessKeyId"), status == "Active", ctx.p.raw("UserName")
    )
    return {}


def delete_access_key(ctx: Ctx) -> dict[str, Any]:
    ctx.services.ram_users.delete_access_key(ctx.caller, ctx.p.required("UserAccessKeyId"), ctx.p.raw("UserName"))
    return {}


# --- policies -------------------------------------------------------------------------------------


def create_policy(ctx: Ctx) -> dict[str, Any]:
    policy = ctx.services.ram_policies.create_policy(
        ctx.caller, ctx.p.required("PolicyName"), ctx.p.required("PolicyDocument"), ctx.p.raw("Description") or ""
    )
    return {
        "Policy": {
            "PolicyName": policy.name,
            "PolicyType": policy.type.value,
            "Description": policy.description,
            "DefaultVersion": policy.default_version,
            "CreateDate": iso(policy.created_at),
        }
    }


def get_policy(ctx: Ctx) -> dict[str, Any]:
    policy_type = _policy_type(ctx)
    assert policy_type is not None
    view = ctx.services.ram_policies.get_policy(ctx.caller, ctx.p.required("PolicyName"), policy_type)
    default = view.default
    return {
        "Policy": _policy(view, document=True),
        "DefaultPolicyVersion": _version(default.version_id, default.version_id, default.document, default.created_at),
    }


def list_policies(ctx: Ctx) -> dict[str, Any]:
    views, marker = ctx.services.ram_policies.list_policies(ctx.caller, _policy_type(ctx, required=False), _page(ctx))
    return _paged("Policies", "Policy", [_policy(v) for v in views], marker)


def delete_policy(ctx: Ctx) -> dict[str, Any]:
    ctx.services.ram_policies.delete_policy(ctx.caller, ctx.p.required("PolicyName"), _flag(ctx, "CascadingDelete"))
    return {}


def create_policy_version(ctx: Ctx) -> dict[str, Any]:
    strategy = ctx.p.raw("RotateStrategy") or RotateStrategy.NONE.value
    try:
        rotate = RotateStrategy(strategy)
    except ValueError:
        raise errors.RamInvalidParameter("RotateStrategy") from None
    version = ctx.services.ram_policies.create_version(
        ctx.caller, ctx.p.required("PolicyName"), ctx.p.required("PolicyDocument"), _flag(ctx, "SetAsDefault"), rotate
    )
    default = version.version_id if _flag(ctx, "SetAsDefault") else ""
    return {"PolicyVersion": _version(version.version_id, default, version.document, version.created_at)}


def get_policy_version(ctx: Ctx) -> dict[str, Any]:
    policy_type = _policy_type(ctx)
    assert policy_type is not None
    name = ctx.p.required("PolicyName")
    version = ctx.services.ram_policies.get_version(ctx.caller, name, policy_type, ctx.p.required("VersionId"))
    policy, _ = ctx.services.ram_policies.list_versions(ctx.caller, name, policy_type)
    return {"PolicyVersion": _version(version.version_id, policy.default_version, version.document, version.created_at)}


def list_policy_versions(ctx: Ctx) -> dict[str, Any]:
    policy_type = _policy_type(ctx)
    assert policy_type is not None
    policy, versions = ctx.services.ram_policies.list_versions(ctx.caller, ctx.p.required("PolicyName"), policy_type)
    items = [_version(v.version_id, policy.default_version, v.document, v.created_at) for v in versions]
    return {"PolicyVersions": {"PolicyVersion": items}}


def delete_policy_version(ctx: Ctx) -> dict[str, Any]:
    ctx.services.ram_policies.delete_version(ctx.caller, ctx.p.required("PolicyName"), ctx.p.required("VersionId"))
    return {}


def set_default_policy_version(ctx: Ctx) -> dict[str, Any]:
    ctx.services.ram_policies.set_default_version(ctx.caller, ctx.p.required("PolicyName"), ctx.p.required("VersionId"))
    return {}


# --- attachments ----------------------------------------------------------------------------------


def _attachment_args(ctx: Ctx) -> tuple[PolicyType, str, str]:
    if ctx.p.raw("ResourceGroupId"):  # KMS has no resource groups: policies attach to the account
        raise errors.RamInvalidParameter("ResourceGroupId")
    policy_type = _policy_type(ctx)
    assert policy_type is not None
    return policy_type, ctx.p.required("PolicyName"), ctx.p.required("UserName")


def attach_policy_to_user(ctx: Ctx) -> dict[str, Any]:
    ctx.services.ram_policies.attach(ctx.caller, *_attachment_args(ctx))
    return {}


def detach_policy_from_user(ctx: Ctx) -> dict[str, Any]:
    ctx.services.ram_policies.detach(ctx.caller, *_attachment_args(ctx))
    return {}


def list_policies_for_user(ctx: Ctx) -> dict[str, Any]:
    found = ctx.services.ram_policies.policies_for_user(ctx.caller, ctx.p.required("UserName"))
    items = [
        {
            "PolicyName": view.policy.name,
            "PolicyType": view.policy.type.value,
            "Description": view.policy.description,
            "DefaultVersion": view.policy.default_version,
            "AttachDate": iso(attachment.attached_at),
        }
        for attachment, view in found
    ]
    return {"Policies": {"Policy": items}}


def list_entities_for_policy(ctx: Ctx) -> dict[str, Any]:
    policy_type = _policy_type(ctx)
    assert policy_type is not None
    found = ctx.services.ram_policies.entities_for_policy(ctx.caller, ctx.p.required("PolicyName"), policy_type)
    users = [
        {"UserId": u.user_id, "UserName": u.name, "DisplayName": u.display_name, "AttachDate": iso(a.attached_at)}
        for a, u in found
    ]
    return {"Users": {"User": users}, "Groups": {"Group": []}, "Roles": {"Role": []}}


ACTIONS: dict[str, Handler] = {
    "CreateUser": create_user,
    "GetUser": get_user,
    "UpdateUser": update_user,
    "ListUsers": list_users,
    "DeleteUser": delete_user,
    "CreateAccessKey": create_access_key,
    "ListAccessKeys": list_access_keys,
    "UpdateAccessKey": update_access_key,
    "DeleteAccessKey": delete_access_key,
    "CreatePolicy": create_policy,
    "GetPolicy": get_policy,
    "ListPolicies": list_policies,
    "DeletePolicy": delete_policy,
    "CreatePolicyVersion": create_policy_version,
    "GetPolicyVersion": get_policy_version,
    "ListPolicyVersions": list_policy_versions,
    "DeletePolicyVersion": delete_policy_version,
    "SetDefaultPolicyVersion": set_default_policy_version,
    "AttachPolicyToUser": attach_policy_to_user,
    "DetachPolicyFromUser": detach_policy_from_user,
    "ListPoliciesForUser": list_policies_for_user,
    "ListEntitiesForPolicy": list_entities_for_policy,
}
