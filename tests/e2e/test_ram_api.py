"""The RAM API (2015-05-01) through Alibaba's own RAM SDKs, both generations, pointed at openkms by
endpoint alone: users, AccessKeys, policies and versions, attachments, and RAM's error codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_tea_openapi.models import Config
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkram.request.v20150501 import (
    AttachPolicyToUserRequest,
    CreateAccessKeyRequest,
    CreatePolicyRequest,
    CreateUserRequest,
    DeleteUserRequest,
    GetUserRequest,
    ListUsersRequest,
)

from openkms.protocol.dispatch import RAM_ACTIONS
from tests.e2e.clients import Kms
from tests.e2e.expect import expect_wire
from tests.e2e.signed import Signer
from tests.servers import InProcessServer

ALLOW_ENCRYPT = json.dumps(
    {"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["kms:Encrypt", "kms:DescribeKey"], "Resource": "*"}]}
)


def ram_client(server: InProcessServer, ak: str, secret: str, v1: bool = False) -> RamClient:
    config = Config(access_key_id=ak, access_key_secret=secret, endpoint=server.endpoint, protocol="http")
    if v1:
        config.signature_algorithm = "v2"
    return RamClient(config)


def error_of(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(AlibabaCloudException) as err:
        call()
    return err.value.status_code, err.value.code  # type: ignore[attr-defined]


@pytest.fixture
def account(server: InProcessServer) -> tuple[str, str, str]:
    return server.new_account()


@pytest.mark.parametrize("v1", [False, True], ids=["v3", "v2-signature"])
def test_users_keys_policies_and_attachments_with_the_new_sdk(
    server: InProcessServer, account: tuple[str, str, str], v1: bool
) -> None:
    ak, secret, _ = account
    ram = ram_client(server, ak, secret, v1)
    user = ram.create_user(ram_models.CreateUserRequest(user_name="alice", display_name="Alice", comments="hi")).body
    assert (user.user.user_name, user.user.display_name, len(user.user.user_id)) == ("alice", "Alice", 16)
    assert ram.get_user(ram_models.GetUserRequest(user_name="alice")).body.user.comments == "hi"
    assert error_of(lambda: ram.create_user(ram_models.CreateUserRequest(user_name="alice"))) == (
        409, "EntityAlreadyExists.User",
    )  # fmt: skip
    assert error_of(lambda: ram.get_user(ram_models.GetUserRequest(user_name="bob"))) == (404, "EntityNotExist.User")
    assert error_of(lambda: ram.create_user(ram_models.CreateUserRequest(user_name="al ice"))) == (
        400, "InvalidParameter.UserName.InvalidChars",
    )  # fmt: skip

    made = ram.create_access_key(ram_models.CreateAccessKeyRequest(user_name="alice")).body.access_key
    assert (made.status, len(made.access_key_secret)) == ("Active", 30)
    ram.create_access_key(ram_models.CreateAccessKeyRequest(user_name="alice"))
    assert error_of(lambda: ram.create_access_key(ram_models.CreateAccessKeyRequest(user_name="alice"))) == (
        409, "LimitExceeded.User.AccessKey",
    )  # fmt: skip
    listed = ram.list_access_keys(ram_models.ListAccessKeysRequest(user_name="alice")).body.access_keys.access_key
    assert made.access_key_id in {k.access_key_id for k in listed}

    policy = ram.create_policy(
        ram_models.CreatePolicyRequest(policy_name="use-keys", policy_document=ALLOW_ENCRYPT, description="d")
    ).body.policy
    assert (policy.policy_type, policy.default_version) == ("Custom", "v1")
    bad = '{"Version": "1",\n "Statement": [{"Effect": "Alow", "Action": "kms:*", "Resource": "*"}]}'
    status, code = error_of(
        lambda: ram.create_policy(ram_models.CreatePolicyRequest(policy_name="bad", policy_document=bad))
    )
    assert (status, code) == (400, "MalformedPolicyDocument")
    ram.attach_policy_to_user(
        ram_models.AttachPolicyToUserRequest(policy_type="Custom", policy_name="use-keys", user_name="alice")
    )
    ram.attach_policy_to_user(
        ram_models.AttachPolicyToUserRequest(
            policy_type="System", policy_name="AliyunKMSReadOnlyAccess", user_name="alice"
        )
    )
    attached = ram.list_policies_for_user(ram_models.ListPoliciesForUserRequest(user_name="alice")).body
    assert {p.policy_name for p in attached.policies.policy} == {"use-keys", "AliyunKMSReadOnlyAccess"}
    entities = ram.list_entities_for_policy(
        ram_models.ListEntitiesForPolicyRequest(policy_name="use-keys", policy_type="Custom")
    ).body
    assert [u.user_name for u in entities.users.user] == ["alice"]

    # Versions: v2 becomes default; the default cannot be deleted; ids are never reused.
    v2 = ram.create_policy_version(
        ram_models.CreatePolicyVersionRequest(
            policy_name="use-keys", policy_document=ALLOW_ENCRYPT, set_as_default=True
        )
    ).body.policy_version
    assert (v2.version_id, v2.is_default_version) == ("v2", True)
    assert error_of(
        lambda: ram.delete_policy_version(
            ram_models.DeletePolicyVersionRequest(policy_name="use-keys", version_id="v2")
        )
    ) == (409, "DeleteConflict.Policy.Version.Default")
    ram.delete_policy_version(ram_models.DeletePolicyVersionRequest(policy_name="use-keys", version_id="v1"))
    v3 = ram.create_policy_version(
        ram_models.CreatePolicyVersionRequest(policy_name="use-keys", policy_document=ALLOW_ENCRYPT)
    ).body.policy_version
    assert (v3.version_id, v3.is_default_version) == ("v3", False)
    got = ram.get_policy(ram_models.GetPolicyRequest(policy_name="use-keys", policy_type="Custom")).body
    assert (got.policy.default_version, got.policy.attachment_count) == ("v2", 1)
    assert json.loads(got.default_policy_version.policy_document) == json.loads(ALLOW_ENCRYPT)
    system = ram.list_policies(ram_models.ListPoliciesRequest(policy_type="System")).body.policies.policy
    assert "AliyunKMSCryptoUserAccess" in {p.policy_name for p in system}

    # Nothing attached or holding keys may be deleted.
    assert error_of(lambda: ram.delete_user(ram_models.DeleteUserRequest(user_name="alice"))) == (
        409, "DeleteConflict.User.AccessKey",
    )  # fmt: skip
    assert error_of(lambda: ram.delete_policy(ram_models.DeletePolicyRequest(policy_name="use-keys"))) == (
        409, "DeleteConflict.Policy.User",
    )  # fmt: skip
    for k in ram.list_access_keys(ram_models.ListAccessKeysRequest(user_name="alice")).body.access_keys.access_key:
        ram.delete_access_key(ram_models.DeleteAccessKeyRequest(user_name="alice", user_access_key_id=k.access_key_id))
    assert error_of(lambda: ram.delete_user(ram_models.DeleteUserRequest(user_name="alice"))) == (
        409, "DeleteConflict.User.Policy",
    )  # fmt: skip
    for name, kind in (("use-keys", "Custom"), ("AliyunKMSReadOnlyAccess", "System")):
        ram.detach_policy_from_user(
            ram_models.DetachPolicyFromUserRequest(policy_type=kind, policy_name=name, user_name="alice")
        )
    ram.delete_user(ram_models.DeleteUserRequest(user_name="alice"))
    assert error_of(lambda: ram.delete_policy(ram_models.DeletePolicyRequest(policy_name="use-keys"))) == (
        409, "DeleteConflict.Policy.Version",
    )  # fmt: skip
    ram.delete_policy(ram_models.DeletePolicyRequest(policy_name="use-keys", cascading_delete=True))
    assert ram.list_users(ram_models.ListUsersRequest()).body.users.user == []


def test_the_old_sdk(server: InProcessServer, account: tuple[str, str, str]) -> None:
    ak, secret, _ = account
    client = AcsClient(ak, secret, "cn-hangzhou")

    def call(request: Any) -> dict[str, Any]:
        request.set_endpoint(f"http://{server.endpoint}")
        return json.loads(client.do_action_with_exception(request))  # type: ignore[no-any-return]

    req = CreateUserRequest.CreateUserRequest()
    req.set_UserName("carol")
    assert call(req)["User"]["UserName"] == "carol"
    req = GetUserRequest.GetUserRequest()
    req.set_UserName("carol")
    assert call(req)["User"]["UserName"] == "carol"
    req = CreatePolicyRequest.CreatePolicyRequest()
    req.set_PolicyName("encrypt-only")
    req.set_PolicyDocument(ALLOW_ENCRYPT)
    assert call(req)["Policy"]["DefaultVersion"] == "v1"
    req = AttachPolicyToUserRequest.AttachPolicyToUserRequest()
    req.set_PolicyType("Custom")
    req.set_PolicyName("encrypt-only")
    req.set_UserName("carol")
    call(req)
    req = CreateAccessKeyRequest.CreateAccessKeyRequest()
    req.set_UserName("carol")
    pair = call(req)["AccessKey"]
    assert [u["UserName"] for u in call(ListUsersRequest.ListUsersRequest())["Users"]["User"]] == ["carol"]
    req = DeleteUserRequest.DeleteUserRequest()
    req.set_UserName("carol")
    with pytest.raises(ServerException) as err:
        call(req)
    assert (err.value.get_http_status(), err.value.get_error_code()) == (409, "DeleteConflict.User.AccessKey")

    # The new user's pair signs KMS requests, and its policy decides what it may do.
    owner = Kms("new-v3", server.endpoint, ak, secret)
    key_id = owner.call("CreateKey")["KeyMetadata"]["KeyId"]
    user = Kms("old", server.endpoint, pair["AccessKeyId"], pair["AccessKeySecret"])
    assert user.call("Encrypt", KeyId=key_id, Plaintext="allowed")["KeyId"] == key_id


def test_the_version_selects_the_api(server: InProcessServer, account: tuple[str, str, str]) -> None:
    """RAM's actions answer only under 2015-05-01 and KMS's only under 2016-01-20 (the two APIs
    share names such as CreatePolicy, which are different operations)."""
    ak, secret, _ = account
    signer = Signer(server.base_url, ak, secret)
    assert expect_wire(signer.v1("ListUsers").send(), 404, "InvalidAction.NotFound")
    assert expect_wire(signer.v1("ListKeys", version="2015-05-01").send(), 404, "InvalidAction.NotFound")
    assert expect_wire(signer.v1("ListKeys", version="2014-01-01").send(), 400, "InvalidVersion")
    body = signer.v3("ListUsers", version="2015-05-01").send()
    assert body.status_code == 200, body.text


RAM_PARAMS: dict[str, dict[str, str]] = {
    "CreateUser": {"UserName": "x"}, "GetUser": {"UserName": "x"}, "UpdateUser": {"UserName": "x"},
    "ListUsers": {}, "DeleteUser": {"UserName": "x"}, "CreateAccessKey": {"UserName": "x"},
    "ListAccessKeys": {"UserName": "x"},
    "UpdateAccessKey": {"UserName": "x", "UserAccessKeyId": "LTAIx", "Status": "Active"},
    "DeleteAccessKey": {"UserName": "x", "UserAccessKeyId": "LTAIx"},
    "CreatePolicy": {"PolicyName": "p", "PolicyDocument": ALLOW_ENCRYPT},
    "GetPolicy": {"PolicyName": "p", "PolicyType": "Custom"},
    "ListPolicies": {}, "DeletePolicy": {"PolicyName": "p"},
    "CreatePolicyVersion": {"PolicyName": "p", "PolicyDocument": ALLOW_ENCRYPT},
    "GetPolicyVersion": {"PolicyName": "p", "PolicyType": "Custom", "VersionId": "v1"},
    "ListPolicyVersions": {"PolicyName": "p", "PolicyType": "Custom"},
    "DeletePolicyVersion": {"PolicyName": "p", "VersionId": "v1"},
    "SetDefaultPolicyVersion": {"PolicyName": "p", "VersionId": "v1"},
    "AttachPolicyToUser": {"PolicyName": "p", "PolicyType": "Custom", "UserName": "x"},
    "DetachPolicyFromUser": {"PolicyName": "p", "PolicyType": "Custom", "UserName": "x"},
    "ListPoliciesForUser": {"UserName": "x"}, "ListEntitiesForPolicy": {"PolicyName": "p", "PolicyType": "Custom"},
}  # fmt: skip


def test_every_ram_action_needs_a_ram_permission(server: InProcessServer, account: tuple[str, str, str]) -> None:
    """A RAM user without a policy is refused every RAM action (403 NoPermission); with
    AliyunRAMFullAccess none of them is refused as a permission."""
    assert set(RAM_PARAMS) == set(RAM_ACTIONS)
    ak, secret, _ = account
    owner = ram_client(server, ak, secret)
    owner.create_user(ram_models.CreateUserRequest(user_name="operator"))
    pair = owner.create_access_key(ram_models.CreateAccessKeyRequest(user_name="operator")).body.access_key
    operator = Signer(server.base_url, pair.access_key_id, pair.access_key_secret)
    for action, params in RAM_PARAMS.items():
        assert expect_wire(operator.v1(action, params, version="2015-05-01").send(), 403, "NoPermission"), action
    owner.attach_policy_to_user(
        ram_models.AttachPolicyToUserRequest(
            policy_type="System", policy_name="AliyunRAMFullAccess", user_name="operator"
        )
    )
    for action, params in RAM_PARAMS.items():
        response = operator.v1(action, params, version="2015-05-01").send()
        assert response.json().get("Code") != "NoPermission", (action, response.text)
