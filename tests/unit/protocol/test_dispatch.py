"""The dispatch table: the actions openkms serves, pinned, each declared in the domain's catalogue."""

from __future__ import annotations

import pytest

from openkms.domain.actions import ACTIONS as CATALOGUE
from openkms.protocol.actions.context import Ctx
from openkms.protocol.dispatch import ACTIONS, merge

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
]  # fmt: skip


def test_the_served_actions_are_pinned() -> None:
    assert sorted(ACTIONS) == SERVED


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
