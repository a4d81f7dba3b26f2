"""Who may read a secret: RAM policies on ``acs:kms:<region>:<account>:secret/<name>``, the secret's
own policy combined with them as a key's is, and use (Decrypt) of a key the caller chose."""

from __future__ import annotations

import json

from openkms.service.keys import CreateKeyRequest
from openkms.service.secrets import CreateSecretRequest
from tests.e2e.test_access_control import Account, _policy, account, call

__all__ = ["account"]  # the module's fixture, shared


def _secret(account: Account, name: str, key_ref: str | None = None) -> str:
    services = account.server.services
    services.secrets.create_secret(account.root, CreateSecretRequest(name, "v1", "value", key_ref=key_ref))
    return f"acs:kms:cn-hangzhou:{account.root.account_uid}:secret/{name}"


def test_a_user_is_allowed_the_secrets_its_policy_names(account: Account) -> None:
    arn = _secret(account, "team-a-db")
    _secret(account, "team-b-db")
    client = account.user("team-a", _policy({"Effect": "Allow", "Action": "kms:GetSecretValue", "Resource": arn}))
    assert call(client, "GetSecretValue", {"SecretName": "team-a-db"})[0] == 200
    status, body = call(client, "GetSecretValue", {"SecretName": "team-b-db"})
    assert (status, body["Code"]) == (403, "Forbidden.RAM")
    assert body["AccessDeniedDetail"]["AuthAction"] == "kms:GetSecretValue"
    # Refused before existence is told: an unknown name is a denial too, not a 404.
    assert call(client, "GetSecretValue", {"SecretName": "no-such"})[1]["Code"] == "Forbidden.RAM"


def test_reading_a_secret_under_a_chosen_key_needs_decrypt_on_it(account: Account) -> None:
    key = account.server.services.keys.create_key(account.root, CreateKeyRequest())
    _secret(account, "own-key-db", key.id)
    reader = account.user("reader", _policy({"Effect": "Allow", "Action": "kms:GetSecretValue", "Resource": "*"}))
    status, body = call(reader, "GetSecretValue", {"SecretName": "own-key-db"})
    assert (status, body["Code"]) == (403, "Forbidden.RAM")
    assert body["AccessDeniedDetail"]["AuthAction"] == "kms:Decrypt"
    both = account.user("reader-and-decrypter", _policy(
        {"Effect": "Allow", "Action": ["kms:GetSecretValue", "kms:Decrypt"], "Resource": "*"}
    ))  # fmt: skip
    status, body = call(both, "GetSecretValue", {"SecretName": "own-key-db"})
    assert (status, body["SecretData"]) == (200, "value")


def test_creating_under_a_chosen_key_needs_generate_data_key_on_it(account: Account) -> None:
    key = account.server.services.keys.create_key(account.root, CreateKeyRequest())
    creator = account.user("creator", _policy({"Effect": "Allow", "Action": "kms:CreateSecret", "Resource": "*"}))
    params = {"SecretName": "made-by-user", "VersionId": "v1", "SecretData": "x", "EncryptionKeyId": key.id}
    status, body = call(creator, "CreateSecret", params)
    assert (status, body["AccessDeniedDetail"]["AuthAction"]) == (403, "kms:GenerateDataKey")


def test_a_secret_policy_deny_wins_over_a_ram_allow(account: Account) -> None:
    _secret(account, "guarded")
    client = account.user("guarded-reader", _policy({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}))
    assert call(client, "GetSecretValue", {"SecretName": "guarded"})[0] == 200
    deny = {"Effect": "Deny", "Principal": {"RAM": [f"acs:ram::{account.root.account_uid}:user/guarded-reader"]},
            "Action": ["kms:GetSecretValue"], "Resource": ["*"]}  # fmt: skip
    allow_account = {"Effect": "Allow", "Principal": {"RAM": [f"acs:ram::{account.root.account_uid}:*"]},
                     "Action": ["kms:*"], "Resource": ["*"]}  # fmt: skip
    account.server.services.secrets.set_policy(
        account.root, "guarded", "default", json.dumps({"Version": "1", "Statement": [allow_account, deny]})
    )
    status, body = call(client, "GetSecretValue", {"SecretName": "guarded"})
    assert (status, body["Code"]) == (403, "Forbidden.RAM")
    assert call(client, "DescribeSecret", {"SecretName": "guarded"})[0] == 200


def test_a_listing_shows_the_secrets_a_user_may_list(account: Account) -> None:
    arn = _secret(account, "listed-one")
    _secret(account, "listed-other")
    client = account.user("lister", _policy({"Effect": "Allow", "Action": "kms:ListSecrets", "Resource": arn}))
    status, body = call(client, "ListSecrets", {"PageSize": "100"})
    assert status == 200, body
    assert [s["SecretName"] for s in body["SecretList"]["Secret"]] == ["listed-one"]
    nobody = account.user("no-lister", None)
    assert call(nobody, "ListSecrets", {})[1]["Code"] == "Forbidden.RAM"


def test_dry_run_checks_everything_and_reveals_nothing(account: Account) -> None:
    _secret(account, "dry")
    reader = account.user("dry-reader", _policy({"Effect": "Allow", "Action": "kms:GetSecretValue", "Resource": "*"}))
    status, body = call(reader, "GetSecretValue", {"SecretName": "dry", "DryRun": "true"})
    assert (status, body["Code"]) == (400, "DryRunOperationError")
    assert "SecretData" not in body
