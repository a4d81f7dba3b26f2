"""A request that succeeds, for every action of the RPC API: its parameters, and what it needs
made first (keys, aliases, ciphertexts), made through the services.

Tests that must reach every action (authorization, audit, quotas) iterate over the protocol's
dispatch table and take each action's sample from here; an action without a sample fails them, so
an action added later cannot skip those rules silently.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from openkms.domain.app_access import KEY_USER
from openkms.domain.identity import Caller
from openkms.domain.instances import DEFAULT_INSTANCE
from openkms.domain.keys import Key
from openkms.domain.ram.identities import PolicyType, RotateStrategy
from openkms.domain.rotation import DAY
from openkms.domain.secrets import DataType, SecretType
from openkms.domain.specs import KeyUsage, Origin
from openkms.domain.tags import Tag
from openkms.service.app_access import PolicyFields
from openkms.service.container import Services
from openkms.service.keys import CreateKeyRequest
from openkms.service.ram_users import UserFields
from openkms.service.secrets import CreateSecretRequest
from openkms.system import ManualClock
from tests.nodes import wrap_for_import

Params = dict[str, str]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


_CALLER_PUBLIC_KEY = b64(
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .public_key()
    .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
)


_WRAP_FOR_CALLER = {"PublicKeyBlob": _CALLER_PUBLIC_KEY, "WrappingKeySpec": "RSA_2048",
                    "WrappingAlgorithm": "RSAES_OAEP_SHA_256"}  # fmt: skip
_WRAPPING = {"WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}
_TEAM_TAG = {"Tag.1.Key": "team", "Tag.1.Value": "a"}


@dataclass
class Samples:
    """Builds each sample on demand, for ``caller``'s account, through ``services``."""

    services: Services
    caller: Caller
    clock: ManualClock

    def _key(self, **request: Any) -> Key:
        return self.services.keys.create_key(self.caller, CreateKeyRequest(**request))

    def _aes(self) -> str:
        return self._key().id

    def _blob(self, key_id: str) -> str:
        return b64(self.services.crypto.encrypt(self.caller, key_id, b"sample", {}).blob)

    def _asymmetric(self, spec: str, usage: KeyUsage) -> tuple[str, str]:
        key = self._key(spec=spec, usage=usage)
        assert key.primary_version_id is not None
        return key.id, key.primary_version_id

    def _external_with_material(self) -> str:
        key = self._key(origin=Origin.EXTERNAL)
        self.import_material(key.id)
        return key.id

    def import_material(self, key_id: str) -> None:
        issued = self.services.importing.get_parameters(self.caller, key_id, "RSAES_OAEP_SHA_256", "RSA_2048")
        wrapped = wrap_for_import(issued.public_key, os.urandom(32))
        self.services.importing.import_material(self.caller, key_id, issued.token, wrapped, None)

    def _alias(self, key_id: str) -> str:
        name = f"alias/sample-{os.urandom(6).hex()}"
        self.services.aliases.create_alias(self.caller, name, key_id)
        return name

    def _secret(self, secret_type: SecretType = SecretType.GENERIC) -> str:
        name = f"sample-{os.urandom(6).hex()}"
        config = None if secret_type is SecretType.GENERIC else json.dumps({"SecretSubType": "SingleUser"})
        request = CreateSecretRequest(name, "v1", "sample-value", secret_type=secret_type, extended_config=config)
        self.services.secrets.create_secret(self.caller, request)
        return name

    def _second_version(self) -> tuple[str, str]:
        name = self._secret()
        self.services.secrets.put_secret_value(self.caller, name, "v2", "second", DataType.TEXT, ["custom"])
        return name, "v2"

    def _network_rule(self) -> str:
        name = f"rule-{os.urandom(5).hex()}"
        self.services.app_access.create_network_rule(self.caller, name, "Private", ("10.0.0.0/8",), "")
        return name

    def _app_policy(self) -> str:
        name = f"policy-{os.urandom(5).hex()}"
        fields = PolicyFields("", (KEY_USER,), ("key/*",), (self._network_rule(),))
        self.services.app_access.create_policy(self.caller, name, DEFAULT_INSTANCE, fields)
        return name

    def _aap(self) -> str:
        name = f"aap-{os.urandom(5).hex()}"
        self.services.app_access.create_access_point(self.caller, name, "ClientKey", (self._app_policy(),), "")
        return name

    def _client_key(self) -> str:
        return self.services.app_access.create_client_key(self.caller, self._aap(), "pass-word-1", None, None).key.id

    def params(self, action: str) -> Params:
        """Parameters of a request for ``action`` that succeeds (KeyError: no sample yet)."""
        return _SAMPLES[action](self)


def _digest() -> str:
    return b64(hashlib.sha256(b"sample").digest())


def _sign(s: Samples) -> Params:
    key_id, version = s._asymmetric("RSA_2048", KeyUsage.SIGN_VERIFY)
    return {"KeyId": key_id, "KeyVersionId": version, "Algorithm": "RSA_PSS_SHA_256", "Digest": _digest()}


def _verify(s: Samples) -> Params:
    p = _sign(s)
    result = s.services.asymmetric.sign(
        s.caller, p["KeyId"], p["KeyVersionId"], p["Algorithm"], base64.b64decode(p["Digest"])
    )
    return {**p, "Value": b64(result.value)}


def _asym_encrypt(s: Samples) -> Params:
    key_id, version = s._asymmetric("RSA_2048", KeyUsage.ENCRYPT_DECRYPT)
    return {"KeyId": key_id, "KeyVersionId": version, "Algorithm": "RSAES_OAEP_SHA_256", "Plaintext": b64(b"sample")}


def _asym_decrypt(s: Samples) -> Params:
    p = _asym_encrypt(s)
    done = s.services.asymmetric.encrypt(s.caller, p["KeyId"], p["KeyVersionId"], p["Algorithm"], b"sample")
    return {"KeyId": p["KeyId"], "KeyVersionId": p["KeyVersionId"], "Algorithm": p["Algorithm"],
            "CiphertextBlob": b64(done.value)}  # fmt: skip


def _public_key(s: Samples) -> Params:
    key_id, version = s._asymmetric("EC_P256", KeyUsage.SIGN_VERIFY)
    return {"KeyId": key_id, "KeyVersionId": version}


def _create_key_version(s: Samples) -> Params:
    key_id, _ = s._asymmetric("EC_P256", KeyUsage.SIGN_VERIFY)
    s.clock.advance(8 * DAY)  # past the spacing between versions
    return {"KeyId": key_id}


def _export(s: Samples) -> Params:
    made = s.services.crypto.generate_data_key(s.caller, s._aes(), 32, {})
    return {"CiphertextBlob": b64(made.blob), **_WRAP_FOR_CALLER}


def _pending_deletion(s: Samples) -> Params:
    key_id = s._aes()
    s.services.keys.schedule_deletion(s.caller, key_id, 7)
    return {"KeyId": key_id}


def _untag(s: Samples) -> Params:
    key_id = s._aes()
    s.services.tags.tag(s.caller, [key_id], [Tag("team", "a")])
    return {"KeyId": key_id, "TagKeys": json.dumps(["team"])}


def _untag_batch(s: Samples) -> Params:
    key_id = s._aes()
    s.services.tags.tag(s.caller, [key_id], [Tag("team", "a")])
    return {"ResourceType": "key", "ResourceId.1": key_id, "TagKey.1": "team"}


def _stage_removed(s: Samples) -> Params:
    name, version_id = s._second_version()
    return {"SecretName": name, "VersionStage": "custom", "RemoveFromVersion": version_id}


def _deleted_secret(s: Samples) -> Params:
    name = s._secret()
    s.services.secrets.delete_secret(s.caller, name, False, 7)
    return {"SecretName": name}


def _update_alias(s: Samples) -> Params:
    return {"AliasName": s._alias(s._aes()), "KeyId": s._aes()}


def _import_material(s: Samples) -> Params:
    key = s._key(origin=Origin.EXTERNAL)
    issued = s.services.importing.get_parameters(s.caller, key.id, "RSAES_OAEP_SHA_256", "RSA_2048")
    return {"KeyId": key.id, "ImportToken": issued.token,
            "EncryptedKeyMaterial": b64(wrap_for_import(issued.public_key, os.urandom(32)))}  # fmt: skip


# A key policy that grants one named principal of an unrelated account: it must not widen what the
# tests' own users may do with the key.
_POLICY = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Principal": {"RAM": ["acs:ram::1:user/x"]},
                                                     "Action": ["kms:Encrypt"], "Resource": ["*"]}]})  # fmt: skip

_SAMPLES: dict[str, Callable[[Samples], Params]] = {
    "CreateKey": lambda s: {"Description": "sample"},
    "DescribeKey": lambda s: {"KeyId": s._aes()},
    "ListKeys": lambda s: {},
    "EnableKey": lambda s: {"KeyId": s._aes()},
    "DisableKey": lambda s: {"KeyId": s._aes()},
    "UpdateKeyDescription": lambda s: {"KeyId": s._aes(), "Description": "new"},
    "ScheduleKeyDeletion": lambda s: {"KeyId": s._aes(), "PendingWindowInDays": "7"},
    "CancelKeyDeletion": _pending_deletion,
    "SetDeletionProtection": lambda s: {"KeyId": s._aes(), "EnableDeletionProtection": "true"},
    "GetKeyPolicy": lambda s: {"KeyId": s._aes(), "PolicyName": "default"},
    "SetKeyPolicy": lambda s: {"KeyId": s._aes(), "PolicyName": "default", "Policy": _POLICY},
    "Encrypt": lambda s: {"KeyId": s._aes(), "Plaintext": "sample"},
    "Decrypt": lambda s: {"CiphertextBlob": s._blob(s._aes())},
    "ReEncrypt": lambda s: {"CiphertextBlob": s._blob(s._aes()), "DestinationKeyId": s._aes()},
    "GenerateDataKey": lambda s: {"KeyId": s._aes()},
    "GenerateDataKeyWithoutPlaintext": lambda s: {"KeyId": s._aes()},
    "GenerateAndExportDataKey": lambda s: {
        "KeyId": s._aes(),
        "PublicKeyBlob": _CALLER_PUBLIC_KEY,
        "WrappingKeySpec": "RSA_2048",
        "WrappingAlgorithm": "RSAES_OAEP_SHA_256",
    },
    "ExportDataKey": _export,
    "AsymmetricSign": _sign,
    "AsymmetricVerify": _verify,
    "AsymmetricEncrypt": _asym_encrypt,
    "AsymmetricDecrypt": _asym_decrypt,
    "GetPublicKey": _public_key,
    "ListKeyVersions": lambda s: {"KeyId": s._aes()},
    "DescribeKeyVersion": lambda s: {"KeyId": (k := s._key()).id, "KeyVersionId": k.primary_version_id or ""},
    "UpdateRotationPolicy": lambda s: {"KeyId": s._aes(), "EnableAutomaticRotation": "true", "RotationInterval": "30d"},
    "CreateKeyVersion": _create_key_version,
    "CreateAlias": lambda s: {"AliasName": f"alias/new-{os.urandom(6).hex()}", "KeyId": s._aes()},
    "UpdateAlias": _update_alias,
    "DeleteAlias": lambda s: {"AliasName": s._alias(s._aes())},
    "ListAliases": lambda s: {},
    "ListAliasesByKeyId": lambda s: {"KeyId": s._aes()},
    "TagResource": lambda s: {"KeyId": s._aes(), "Tags": json.dumps([{"TagKey": "team", "TagValue": "a"}])},
    "UntagResource": _untag,
    "TagResources": lambda s: {
        "ResourceType": "key",
        "ResourceId.1": s._aes(),
        "Tag.1.Key": "team",
        "Tag.1.Value": "a",
    },
    "UntagResources": _untag_batch,
    "ListResourceTags": lambda s: {"KeyId": s._aes()},
    "ListTagResources": lambda s: {"ResourceType": "key", "ResourceId.1": s._aes()},
    "GetParametersForImport": lambda s: {
        "KeyId": s._key(origin=Origin.EXTERNAL).id,
        "WrappingAlgorithm": "RSAES_OAEP_SHA_256",
        "WrappingKeySpec": "RSA_2048",
    },
    "ImportKeyMaterial": _import_material,
    "DeleteKeyMaterial": lambda s: {"KeyId": s._external_with_material()},
    "DescribeRegions": lambda s: {},
    "DescribeAccountKmsStatus": lambda s: {},
    "OpenKmsService": lambda s: {},  # answers ServiceAlreadyOpened: a self-hosted KMS is always open
    "GetRandomPassword": lambda s: {"PasswordLength": "16"},
    # KMS instances (the configured key stores)
    "ListKmsInstances": lambda s: {},
    "GetKmsInstance": lambda s: {"KmsInstanceId": "kst-openkms-default"},
    "GetKmsInstanceQuotaInfos": lambda s: {"KmsInstanceId": "kst-openkms-default", "ResourceType": "KEY"},
    "GetDefaultKmsInstance": lambda s: {},
    # application access
    "CreateApplicationAccessPoint": lambda s: {
        "Name": f"aap-{os.urandom(5).hex()}",
        "AuthenticationMethod": "ClientKey",
        "Policies": json.dumps([s._app_policy()]),
    },
    "DescribeApplicationAccessPoint": lambda s: {"Name": s._aap()},
    "ListApplicationAccessPoints": lambda s: {},
    "UpdateApplicationAccessPoint": lambda s: {"Name": s._aap(), "Description": "new"},
    "DeleteApplicationAccessPoint": lambda s: {"Name": s._aap()},
    "CreateClientKey": lambda s: {"AapName": s._aap(), "Password": "pass-word-1"},
    "GetClientKey": lambda s: {"ClientKeyId": s._client_key()},
    "ListClientKeys": lambda s: {"AapName": s._aap()},
    "DeleteClientKey": lambda s: {"ClientKeyId": s._client_key()},
    "CreatePolicy": lambda s: {
        "Name": f"policy-{os.urandom(5).hex()}",
        "KmsInstance": DEFAULT_INSTANCE,
        "Permissions": json.dumps([KEY_USER]),
        "Resources": json.dumps(["key/*"]),
    },
    "DescribePolicy": lambda s: {"Name": s._app_policy()},
    "ListPolicies": lambda s: {},
    "UpdatePolicy": lambda s: {"Name": s._app_policy(), "Resources": json.dumps(["key/*", "secret/*"])},
    "DeletePolicy": lambda s: {"Name": s._app_policy()},
    "CreateNetworkRule": lambda s: {
        "Name": f"rule-{os.urandom(5).hex()}",
        "Type": "Private",
        "SourcePrivateIp": "10.0.0.0/8,192.168.1.7",
    },
    "DescribeNetworkRule": lambda s: {"Name": s._network_rule()},
    "ListNetworkRules": lambda s: {},
    "UpdateNetworkRule": lambda s: {"Name": s._network_rule(), "SourcePrivateIp": "172.16.0.0/12"},
    "DeleteNetworkRule": lambda s: {"Name": s._network_rule()},
    # Secrets Manager
    "CreateSecret": lambda s: {"SecretName": f"new-{os.urandom(6).hex()}", "VersionId": "v1", "SecretData": "x"},
    "GetSecretValue": lambda s: {"SecretName": s._secret()},
    "BatchGetSecretValue": lambda s: {"SecretsList": json.dumps([{"SecretName": s._secret()}])},
    "PutSecretValue": lambda s: {"SecretName": s._secret(), "VersionId": "v2", "SecretData": "y"},
    "UpdateSecretVersionStage": _stage_removed,
    "DescribeSecret": lambda s: {"SecretName": s._secret()},
    "ListSecrets": lambda s: {},
    "ListSecretVersionIds": lambda s: {"SecretName": s._secret()},
    "UpdateSecret": lambda s: {"SecretName": s._secret(), "Description": "new"},
    "UpdateSecretRotationPolicy": lambda s: {
        "SecretName": s._secret(SecretType.RDS),
        "EnableAutomaticRotation": "true",
        "RotationInterval": "7d",
    },
    "RotateSecret": lambda s: {"SecretName": s._secret(SecretType.RDS), "VersionId": "v2"},
    "DeleteSecret": lambda s: {"SecretName": s._secret(), "RecoveryWindowInDays": "7"},
    "RestoreSecret": _deleted_secret,
    "GetSecretPolicy": lambda s: {"SecretName": s._secret(), "PolicyName": "default"},
    "SetSecretPolicy": lambda s: {"SecretName": s._secret(), "PolicyName": "default", "Policy": _POLICY},
    # ActionTrail 2020-07-06 (its own table, selected by Version): the last seven days' events
    "LookupEvents": lambda s: {},
}

# Actions whose successful call is an error response by design.
EXPECTED_ERRORS = {
    "OpenKmsService": "Forbidden.Opened",
    "RotateSecret": "Rejected.UnsupportedOperation",  # Rds: no PostgreSQL server in [secrets] rotation_hosts
}


# --- RAM 2015-05-01 -------------------------------------------------------------------------------

_DOC = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "kms:List*", "Resource": "*"}]})


def _user(s: Samples) -> str:
    name = f"u{os.urandom(5).hex()}"
    s.services.ram_users.create_user(s.caller, name, UserFields())
    return name


def _access_key(s: Samples) -> Params:
    user = _user(s)
    return {"UserName": user, "UserAccessKeyId": s.services.ram_users.create_access_key(s.caller, user).access_key.id}


def _policy(s: Samples, versions: int = 1) -> str:
    name = f"p{os.urandom(5).hex()}"
    s.services.ram_policies.create_policy(s.caller, name, _DOC)
    for _ in range(versions - 1):
        s.services.ram_policies.create_version(s.caller, name, _DOC, True, RotateStrategy.NONE)
    return name


def _attached(s: Samples) -> Params:
    user, policy = _user(s), _policy(s)
    s.services.ram_policies.attach(s.caller, PolicyType.CUSTOM, policy, user)
    return {"UserName": user, "PolicyName": policy, "PolicyType": "Custom"}


_RAM_SAMPLES: dict[str, Callable[[Samples], Params]] = {
    "CreateUser": lambda s: {"UserName": f"u{os.urandom(5).hex()}"},
    "GetUser": lambda s: {"UserName": _user(s)},
    "UpdateUser": lambda s: {"UserName": _user(s), "NewDisplayName": "renamed"},
    "ListUsers": lambda s: {},
    "DeleteUser": lambda s: {"UserName": _user(s)},
    "CreateAccessKey": lambda s: {"UserName": _user(s)},
    "ListAccessKeys": lambda s: {"UserName": _user(s)},
    "UpdateAccessKey": lambda s: {**_access_key(s), "Status": "Inactive"},
    "DeleteAccessKey": _access_key,
    "CreatePolicy": lambda s: {"PolicyName": f"p{os.urandom(5).hex()}", "PolicyDocument": _DOC},
    "GetPolicy": lambda s: {"PolicyName": _policy(s), "PolicyType": "Custom"},
    "ListPolicies": lambda s: {},
    "DeletePolicy": lambda s: {"PolicyName": _policy(s)},
    "CreatePolicyVersion": lambda s: {"PolicyName": _policy(s), "PolicyDocument": _DOC, "SetAsDefault": "true"},
    "GetPolicyVersion": lambda s: {"PolicyName": _policy(s), "PolicyType": "Custom", "VersionId": "v1"},
    "ListPolicyVersions": lambda s: {"PolicyName": _policy(s), "PolicyType": "Custom"},
    "DeletePolicyVersion": lambda s: {"PolicyName": _policy(s, versions=2), "VersionId": "v1"},
    "SetDefaultPolicyVersion": lambda s: {"PolicyName": _policy(s, versions=2), "VersionId": "v1"},
    "AttachPolicyToUser": lambda s: {"UserName": _user(s), "PolicyName": _policy(s), "PolicyType": "Custom"},
    "DetachPolicyFromUser": _attached,
    "ListPoliciesForUser": lambda s: {"UserName": _attached(s)["UserName"]},
    "ListEntitiesForPolicy": lambda s: {"PolicyName": _attached(s)["PolicyName"], "PolicyType": "Custom"},
}


def ram_params(samples: Samples, action: str) -> Params:
    """Parameters of a RAM request for ``action`` that succeeds (KeyError: no sample yet)."""
    return _RAM_SAMPLES[action](samples)
