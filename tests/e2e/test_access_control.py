"""Access control over the whole dispatch table, through the KMS SDK: for every action, a RAM user
whose policy allows exactly that action succeeds, and users with no policy or with an explicit Deny
get 403 Forbidden.RAM with Alibaba's AccessDeniedDetail. An action added later without going
through the authorizer fails here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from alibabacloud_kms20160120.client import Client
from alibabacloud_tea_openapi import utils_models as api
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_util.models import RuntimeOptions

from openkms.domain.identity import Caller
from openkms.domain.ram.identities import PolicyType
from openkms.protocol.dispatch import ACTIONS
from openkms.service.ram_users import UserFields
from tests.action_samples import EXPECTED_ERRORS, Samples
from tests.servers import InProcessServer


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "1", "Statement": list(statements)})


@dataclass
class Account:
    server: InProcessServer
    root: Caller
    samples: Samples

    def user(self, name: str, policy: str | None) -> Client:
        """A RAM user of the account with ``policy`` attached (None: no policy), and its SDK client."""
        services = self.server.services
        services.ram_users.create_user(self.root, name, UserFields())
        if policy is not None:
            services.ram_policies.create_policy(self.root, f"p-{name}", policy)
            services.ram_policies.attach(self.root, PolicyType.CUSTOM, f"p-{name}", name)
        issued = services.ram_users.create_access_key(self.root, name)
        config = Config(
            access_key_id=issued.access_key.id,
            access_key_secret=issued.secret,
            endpoint=self.server.endpoint,
            protocol="http",
        )
        return Client(config)


@pytest.fixture(scope="module")
def account(server: InProcessServer) -> Account:
    ak, _, uid = server.new_account()
    root = Caller(uid, "cn-hangzhou", ak)
    return Account(server, root, Samples(server.services, root, server.clock))  # type: ignore[arg-type]


def call(client: Client, action: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """Any action through the SDK's generic call (its own V3 signing), as (status, body)."""
    request = api.Params(
        action=action, version="2016-01-20", protocol="HTTP", pathname="/", method="POST",
        auth_type="AK", style="RPC", req_body_type="formData", body_type="json",
    )  # fmt: skip
    try:
        response = client.call_api(request, api.OpenApiRequest(query=params), RuntimeOptions())
    except AlibabaCloudException as exc:
        return int(exc.status_code or 0), dict(exc.data or {})  # type: ignore[attr-defined]
    return 200, dict(response["body"])


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_a_user_allowed_only_this_action_may_perform_it(account: Account, action: str) -> None:
    client = account.user(f"only-{action}", _policy({"Effect": "Allow", "Action": f"kms:{action}", "Resource": "*"}))
    status, body = call(client, action, account.samples.params(action))
    if action in EXPECTED_ERRORS:
        assert body.get("Code") == EXPECTED_ERRORS[action], body
    else:
        assert status == 200, body


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_users_without_an_allow_or_with_a_deny_are_refused(account: Account, action: str) -> None:
    nothing = account.user(f"none-{action}", None)
    status, body = call(nothing, action, account.samples.params(action))
    assert (status, body.get("Code")) == (403, "Forbidden.RAM"), body
    assert body["AccessDeniedDetail"]["AuthAction"] == f"kms:{action}"
    assert body["AccessDeniedDetail"]["NoPermissionType"] == "ImplicitDeny"
    assert body["AccessDeniedDetail"]["AuthPrincipalType"] == "SubUser"

    denied = account.user(
        f"deny-{action}",
        _policy(
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
            {"Effect": "Deny", "Action": f"kms:{action}", "Resource": "*"},
        ),
    )
    status, body = call(denied, action, account.samples.params(action))
    assert (status, body.get("Code")) == (403, "Forbidden.RAM"), body
    assert body["AccessDeniedDetail"]["NoPermissionType"] == "ExplicitDeny"
