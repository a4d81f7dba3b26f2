"""A change made through one node is honoured by the other node's very next request (two
``openkms serve`` nodes, two workers each, on one PostgreSQL database): a disabled key, a deleted
alias, a disabled AccessKey, a key policy's Deny, a RAM policy detached.

No node keeps a copy that could go stale: every request reads the key, the alias and the AccessKey
in its own unit of work, and the authorizer's remembered policies and decisions are keyed by what
the same request read (the account's RAM generation, the key's policy), so nothing needs telling.
Each check below is the first request on node B after node A acknowledged the change."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.clients import ApiError, Kms
from tests.e2e.cluster import ADMIN_ID, ADMIN_SECRET, cluster_env, needs_postgres
from tests.e2e.signed import Signer
from tests.servers import process_server

pytestmark = needs_postgres
DENIED = "User not authorized to operate on the specified resource, or this API doesn't support RAM."


def _refused(call: Callable[[], Any], message: str = "") -> tuple[int, str]:
    """The refusal's status and code; its message (the SDK wraps it) must hold ``message``."""
    with pytest.raises(ApiError) as err:
        call()
    assert message in err.value.message
    return err.value.status, err.value.code


def test_changes_on_one_node_are_honoured_by_the_others_next_request(tmp_path: Path) -> None:
    with (
        cluster_env() as env,
        process_server(tmp_path / "node-a", env=env, workers=2) as node_a,
        process_server(tmp_path / "node-b", env=env, workers=2) as node_b,
    ):
        a = Kms("new-v3", node_a.endpoint, ADMIN_ID, ADMIN_SECRET)
        b = Kms("new-v3", node_b.endpoint, ADMIN_ID, ADMIN_SECRET)
        ram = Signer(f"http://{node_a.endpoint}", ADMIN_ID, ADMIN_SECRET)

        def on_a(action: str, **params: str) -> dict[str, Any]:
            response = ram.v1(action, params, version="2015-05-01").send()
            assert response.status_code == 200, response.text
            return dict(response.json())

        key_id = a.call("CreateKey")["KeyMetadata"]["KeyId"]
        other_key = a.call("CreateKey")["KeyMetadata"]["KeyId"]
        a.call("CreateAlias", AliasName="alias/moving", KeyId=other_key)
        on_a("CreateUser", UserName="app")
        allow = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
        on_a("CreatePolicy", PolicyName="all", PolicyDocument=json.dumps(allow))
        on_a("AttachPolicyToUser", PolicyType="Custom", PolicyName="all", UserName="app")
        pair = on_a("CreateAccessKey", UserName="app")["AccessKey"]
        user_b = Kms("new-v3", node_b.endpoint, pair["AccessKeyId"], pair["AccessKeySecret"])
        # Node B has used everything once (anything it might remember is warm).
        for _ in range(4):  # both workers
            assert b.call("Encrypt", KeyId=key_id, Plaintext="x")["KeyId"] == key_id
            assert b.call("Encrypt", KeyId="alias/moving", Plaintext="x")["KeyId"] == other_key
            assert user_b.call("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id

        started = time.monotonic()
        a.call("DisableKey", KeyId=key_id)
        disabled = "The request was rejected because the key state is Disabled."
        assert _refused(lambda: b.call("Encrypt", KeyId=key_id, Plaintext="x"), disabled) == (409, "Rejected.Disabled")
        a.call("DeleteAlias", AliasName="alias/moving")
        gone = "The specified Alias is not found."
        assert _refused(lambda: b.call("Encrypt", KeyId="alias/moving", Plaintext="x"), gone) == (
            404,
            "Forbidden.AliasNotFound",
        )

        uid = a.call("DescribeKey", KeyId=key_id)["KeyMetadata"]["Creator"]
        deny = {"Effect": "Deny", "Action": "kms:DescribeKey", "Principal": {"RAM": [f"acs:ram::{uid}:*"]}}
        a.call(
            "SetKeyPolicy", KeyId=key_id, PolicyName="default", Policy=json.dumps({"Version": "1", "Statement": [deny]})
        )
        assert _refused(lambda: user_b.call("DescribeKey", KeyId=key_id), DENIED) == (403, "Forbidden.RAM")

        on_a("DetachPolicyFromUser", PolicyType="Custom", PolicyName="all", UserName="app")
        assert _refused(lambda: user_b.call("DescribeKey", KeyId=other_key), DENIED) == (403, "Forbidden.RAM")

        on_a("UpdateAccessKey", UserName="app", UserAccessKeyId=pair["AccessKeyId"], Status="Inactive")
        inactive = "This AccessKey is not enabled."
        assert _refused(lambda: user_b.call("DescribeKey", KeyId=other_key), inactive) == (403, "Forbidden.AccessKey")
        print(f"five changes made on node A and refused on node B in {time.monotonic() - started:.2f} s")
