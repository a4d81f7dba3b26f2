"""Key policies combined with RAM policies (same account: either allows; another account: both
must, by ARN, and only a key user's actions), and condition keys (source IP, key tags, secure
transport, the encryption algorithm) decided on real requests through the SDK."""

from __future__ import annotations

import json
from typing import Any

from openkms.domain.identity import Caller
from openkms.domain.ram.identities import PolicyType, RotateStrategy
from openkms.service.ram_users import UserFields
from tests.e2e.clients import ApiError, Kms
from tests.servers import InProcessServer


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "1", "Statement": list(statements)})


def allow(action: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": "*", **extra}


def when(operator: str, key: str, value: str) -> dict[str, Any]:
    return {"Condition": {operator: {key: value}}}


def new_user(server: InProcessServer, root: Caller, name: str, document: str | None = None) -> Kms:
    services = server.services
    services.ram_users.create_user(root, name, UserFields())
    if document is not None:
        services.ram_policies.create_policy(root, f"p-{name}", document)
        services.ram_policies.attach(root, PolicyType.CUSTOM, f"p-{name}", name)
    issued = services.ram_users.create_access_key(root, name)
    return Kms("new-v3", server.endpoint, issued.access_key.id, issued.secret)


def account(server: InProcessServer) -> tuple[Kms, Caller]:
    ak, secret, uid = server.new_account()
    return Kms("new-v3", server.endpoint, ak, secret), Caller(uid, "cn-hangzhou", ak)


def code_of(kms: Kms, action: str, **params: Any) -> str:
    try:
        kms.call(action, **params)
    except ApiError as exc:
        return exc.code
    return "ok"


def test_a_key_policy_naming_a_user_lets_it_use_the_key_without_a_ram_policy(server: InProcessServer) -> None:
    owner, root = account(server)
    key = owner.call("CreateKey")["KeyMetadata"]
    app = new_user(server, root, "app")
    # The default key policy names the whole account: that delegates to RAM policies, and app has none.
    assert code_of(app, "Encrypt", KeyId=key["KeyId"], Plaintext="x") == "Forbidden.RAM"
    named = policy(allow(["kms:Encrypt", "kms:Decrypt"], Principal={"RAM": [f"acs:ram::{root.account_uid}:user/app"]}))
    owner.call("SetKeyPolicy", KeyId=key["KeyId"], PolicyName="default", Policy=named)
    blob = app.call("Encrypt", KeyId=key["KeyId"], Plaintext="x")["CiphertextBlob"]
    assert app.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "x"
    assert code_of(app, "DisableKey", KeyId=key["KeyId"]) == "Forbidden.RAM"
    # An explicit Deny in the key policy wins over a RAM policy that allows.
    admin = new_user(server, root, "admin", policy(allow("kms:*")))
    assert admin.call("DescribeKey", KeyId=key["KeyId"])["KeyMetadata"]["KeyId"] == key["KeyId"]
    deny = {"Effect": "Deny", "Action": "kms:DescribeKey", "Principal": {"RAM": [f"acs:ram::{root.account_uid}:*"]}}
    owner.call("SetKeyPolicy", KeyId=key["KeyId"], PolicyName="default", Policy=policy(deny))
    assert code_of(admin, "DescribeKey", KeyId=key["KeyId"]) == "Forbidden.RAM"
    assert owner.call("DescribeKey", KeyId=key["KeyId"])["KeyMetadata"]["KeyId"] == key["KeyId"]  # the account


def test_another_account_uses_a_shared_key_by_arn_when_both_policies_allow(server: InProcessServer) -> None:
    owner, _ = account(server)
    other_root, other = account(server)
    key = owner.call("CreateKey")["KeyMetadata"]
    user = new_user(server, other, "reader", policy(allow(["kms:Encrypt", "kms:DisableKey"])))
    # Not shared: another account's key is not found, by id or by ARN (no existence oracle).
    for ref in (key["KeyId"], key["Arn"]):
        assert code_of(user, "Encrypt", KeyId=ref, Plaintext="x") == "Forbidden.KeyNotFound"
        assert code_of(other_root, "Encrypt", KeyId=ref, Plaintext="x") == "Forbidden.KeyNotFound"
    shared = policy(
        allow("kms:*", Principal={"RAM": [f"acs:ram::{owner_uid(key)}:*"]}),
        allow(["kms:Encrypt", "kms:DisableKey"], Principal={"RAM": [f"acs:ram::{other.account_uid}:*"]}),
    )
    owner.call("SetKeyPolicy", KeyId=key["KeyId"], PolicyName="default", Policy=shared)
    assert user.call("Encrypt", KeyId=key["Arn"], Plaintext="x")["KeyId"] == key["KeyId"]
    assert other_root.call("Encrypt", KeyId=key["Arn"], Plaintext="x")["KeyId"] == key["KeyId"]
    # By bare id it is still the caller's own account that is searched.
    assert code_of(user, "Encrypt", KeyId=key["KeyId"], Plaintext="x") == "Forbidden.KeyNotFound"
    # Only a key user's actions cross accounts, whatever the policies say.
    assert code_of(user, "DisableKey", KeyId=key["Arn"]) in ("Forbidden.KeyNotFound", "Forbidden.RAM")
    # Both halves must allow: a user of the other account without a RAM policy is refused.
    bare = new_user(server, other, "bare")
    assert code_of(bare, "Encrypt", KeyId=key["Arn"], Plaintext="x") == "Forbidden.RAM"


def owner_uid(key: dict[str, Any]) -> str:
    return str(key["Arn"].split(":")[3])


def test_condition_keys(server: InProcessServer) -> None:
    owner, root = account(server)
    tagged = owner.call("CreateKey", Tags=json.dumps([{"TagKey": "team", "TagValue": "pay"}]))["KeyMetadata"]
    other = owner.call("CreateKey")["KeyMetadata"]
    by_tag = new_user(
        server, root, "by-tag", policy(allow("kms:Encrypt", Condition={"StringEquals": {"kms:tag/team": "pay"}}))
    )
    assert code_of(by_tag, "Encrypt", KeyId=tagged["KeyId"], Plaintext="x") == "ok"
    assert code_of(by_tag, "Encrypt", KeyId=other["KeyId"], Plaintext="x") == "Forbidden.RAM"

    local = new_user(
        server, root, "local", policy(allow("kms:Encrypt", Condition={"IpAddress": {"acs:SourceIp": "127.0.0.0/8"}}))
    )
    remote = new_user(
        server, root, "remote", policy(allow("kms:Encrypt", Condition={"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}))
    )
    assert code_of(local, "Encrypt", KeyId=other["KeyId"], Plaintext="x") == "ok"
    assert code_of(remote, "Encrypt", KeyId=other["KeyId"], Plaintext="x") == "Forbidden.RAM"

    # Plain HTTP is not secure transport: a policy that insists on TLS refuses it.
    tls = new_user(
        server, root, "tls", policy(allow("kms:Encrypt", Condition={"Bool": {"acs:SecureTransport": "true"}}))
    )
    assert code_of(tls, "Encrypt", KeyId=other["KeyId"], Plaintext="x") == "Forbidden.RAM"

    rsa = owner.call("CreateKey", KeySpec="RSA_2048", KeyUsage="ENCRYPT/DECRYPT")["KeyMetadata"]
    only_oaep_256 = when("StringEquals", "kms:EncryptionAlgorithm", "RSAES_OAEP_SHA_256")
    oaep = new_user(server, root, "oaep", policy(allow("kms:AsymmetricEncrypt", **only_oaep_256)))
    common = {"KeyId": rsa["KeyId"], "KeyVersionId": rsa["PrimaryKeyVersion"], "Plaintext": "eA=="}
    assert code_of(oaep, "AsymmetricEncrypt", Algorithm="RSAES_OAEP_SHA_256", **common) == "ok"
    assert code_of(oaep, "AsymmetricEncrypt", Algorithm="RSAES_OAEP_SHA_1", **common) == "Forbidden.RAM"


def test_a_policy_change_takes_effect_on_the_next_request(server: InProcessServer) -> None:
    owner, root = account(server)
    key = owner.call("CreateKey")["KeyMetadata"]
    user = new_user(server, root, "changing", policy(allow("kms:Encrypt")))
    assert code_of(user, "Encrypt", KeyId=key["KeyId"], Plaintext="x") == "ok"
    server.services.ram_policies.create_version(
        root,
        "p-changing",
        policy(allow(["kms:Encrypt", "kms:Decrypt"])),
        set_as_default=True,
        rotate=RotateStrategy.NONE,
    )
    blob = user.call("Encrypt", KeyId=key["KeyId"], Plaintext="x")["CiphertextBlob"]
    server.services.ram_policies.create_version(
        root, "p-changing", policy(allow("kms:Decrypt")), True, RotateStrategy.NONE
    )
    assert code_of(user, "Encrypt", KeyId=key["KeyId"], Plaintext="x") == "Forbidden.RAM"
    assert code_of(user, "Decrypt", CiphertextBlob=blob) == "ok"
    server.services.ram_policies.detach(root, PolicyType.CUSTOM, "p-changing", "changing")
    assert code_of(user, "Decrypt", CiphertextBlob=blob) == "Forbidden.RAM"
    server.services.ram_users.update_access_key(root, user.access_key_id, active=False, user_name="changing")
    assert code_of(user, "Encrypt", KeyId=key["KeyId"], Plaintext="x") == "Forbidden.AccessKey"


def test_listings_show_only_what_the_caller_may_list(server: InProcessServer) -> None:
    owner, root = account(server)
    keys = [owner.call("CreateKey")["KeyMetadata"]["KeyId"] for _ in range(3)]
    for n, key_id in enumerate(keys):
        owner.call("CreateAlias", AliasName=f"alias/k{n}", KeyId=key_id)
    one_key = f"acs:kms:cn-hangzhou:{root.account_uid}:key/{keys[1]}"
    narrow = new_user(
        server, root, "narrow",
        policy({"Effect": "Allow", "Action": "kms:ListKeys", "Resource": one_key},
               {"Effect": "Allow", "Action": "kms:ListAliases", "Resource": "acs:kms:*:*:alias/k2"}),
    )  # fmt: skip
    assert [k["KeyId"] for k in narrow.call("ListKeys")["Keys"]["Key"]] == [keys[1]]
    assert [a["AliasName"] for a in narrow.call("ListAliases")["Aliases"]["Alias"]] == ["alias/k2"]
    everything = new_user(server, root, "everything", policy(allow(["kms:ListKeys", "kms:ListAliases"])))
    assert sorted(k["KeyId"] for k in everything.call("ListKeys")["Keys"]["Key"]) == sorted(keys)
    assert len(everything.call("ListAliases")["Aliases"]["Alias"]) == 3
    nothing = new_user(server, root, "nothing")
    assert code_of(nothing, "ListKeys") == "Forbidden.RAM"
    assert code_of(nothing, "ListAliases") == "Forbidden.RAM"
