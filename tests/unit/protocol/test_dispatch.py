"""The dispatch table: the actions openkms serves, pinned, each declared in the domain's catalogue."""

from __future__ import annotations

import pytest

from openkms.domain.actions import ACTIONS as CATALOGUE
from openkms.domain.actions import ACTIONTRAIL_ACTIONS as ACTIONTRAIL_CATALOGUE
from openkms.domain.actions import RAM_ACTIONS as RAM_CATALOGUE
from openkms.protocol.actions.context import Ctx
from openkms.protocol.dispatch import ACTIONS, ACTIONTRAIL_ACTIONS, RAM_ACTIONS, merge

SERVED = [
    "AsymmetricDecrypt", "AsymmetricEncrypt", "AsymmetricSign", "AsymmetricVerify", "CancelKeyDeletion",
    "CreateAlias", "CreateKey", "CreateKeyVersion", "Decrypt", "DeleteAlias", "DeleteKeyMaterial",
    "DescribeAccountKmsStatus", "DescribeKey", "DescribeKeyVersion", "DescribeRegions", "DisableKey", "EnableKey",
    "Encrypt", "ExportDataKey", "GenerateAndExportDataKey", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
    "GetKeyPolicy", "GetParametersForImport", "GetPublicKey", "GetRandomPassword", "ImportKeyMaterial",
    "ListAliases", "ListAliasesByKeyId", "ListKeyVersions", "ListKeys", "ListResourceTags", "ListTagResources",
    "OpenKmsService", "ReEncrypt", "ScheduleKeyDeletion", "SetDeletionProtection", "SetKeyPolicy", "TagResource",
    "TagResources", "UntagResource", "UntagResources", "UpdateAlias", "UpdateKeyDescription",
    "UpdateRotationPolicy",
    # Secrets Manager
    "BatchGetSecretValue", "CreateSecret", "DeleteSecret", "DescribeSecret", "GetSecretPolicy", "GetSecretValue",
    "ListSecretVersionIds", "ListSecrets", "PutSecretValue", "RestoreSecret", "RotateSecret", "SetSecretPolicy",
    "UpdateSecret", "UpdateSecretRotationPolicy", "UpdateSecretVersionStage",
    # KMS instances
    "GetDefaultKmsInstance", "GetKmsInstance", "GetKmsInstanceQuotaInfos", "ListKmsInstances",
    # application access
    "CreateApplicationAccessPoint", "DescribeApplicationAccessPoint", "ListApplicationAccessPoints",
    "UpdateApplicationAccessPoint", "DeleteApplicationAccessPoint", "CreateClientKey", "GetClientKey",
    "ListClientKeys", "DeleteClientKey", "CreatePolicy", "DescribePolicy", "ListPolicies", "UpdatePolicy",
    "DeletePolicy", "CreateNetworkRule", "DescribeNetworkRule", "ListNetworkRules", "UpdateNetworkRule",
    "DeleteNetworkRule",
]  # fmt: skip


def test_the_served_actions_are_pinned() -> None:
    assert sorted(ACTIONS) == sorted(SERVED)


def test_every_served_action_is_declared_in_the_catalogue() -> None:
    """The catalogue is what authorization, audit and quotas read: a handler without a row would
    escape them."""
    assert set(ACTIONS) == set(CATALOGUE)
    for name, row in CATALOGUE.items():
        assert row.name == name
        assert row.ram_name == f"kms:{name}"


def _handler(_ctx: Ctx) -> dict[str, object]:
    return {}


def test_an_action_claimed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="Encrypt is handled twice"):
        merge({"Encrypt": _handler}, {"Decrypt": _handler}, {"Encrypt": _handler})


def test_every_ram_action_is_declared_in_the_catalogue() -> None:
    assert set(RAM_ACTIONS) == set(RAM_CATALOGUE)
    assert all(row.ram_name == f"ram:{name}" for name, row in RAM_CATALOGUE.items())


def test_every_actiontrail_action_is_declared_in_the_catalogue() -> None:
    assert set(ACTIONTRAIL_ACTIONS) == set(ACTIONTRAIL_CATALOGUE) == {"LookupEvents"}
    assert all(row.ram_name == f"actiontrail:{name}" for name, row in ACTIONTRAIL_CATALOGUE.items())
    assert not any(row.writes for row in ACTIONTRAIL_CATALOGUE.values())
