"""Every action openkms serves, as data: what it is called in policies, whether it writes, and
which key state rule applies when it names a key.

The one table that authorization (RAM actions), the audit trail (eventRW) and quotas read. A
protocol's dispatch table maps the same names to handlers; a test fails when a handler has no row
here, so an action added later cannot slip past authorization.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from openkms.domain.states import Op


class Target(StrEnum):
    """What an action is authorized on."""

    KEY = "key"  # one or more keys named by id, alias or ARN (or found through a ciphertext)
    CONTAINER = "container"  # no key: the account's keys in a region (CreateKey, ListKeys, ...)


@dataclass(frozen=True, slots=True)
class Action:
    name: str  # the API's Action parameter
    writes: bool  # changes state (ActionTrail's eventRW: Write), or only reads or uses keys
    target: Target
    op: Op | None = None  # the key state rule the resolver applies (None: the use case applies its own)
    service: str = "kms"

    @property
    def ram_name(self) -> str:
        """The name policies use: ``kms:Encrypt``."""
        return f"{self.service}:{self.name}"


K, C = Target.KEY, Target.CONTAINER

_ALL = (
    # keys
    Action("CreateKey", True, C),
    Action("DescribeKey", False, K, Op.READ),
    Action("ListKeys", False, C),
    Action("EnableKey", True, K),
    Action("DisableKey", True, K),
    Action("UpdateKeyDescription", True, K),
    Action("ScheduleKeyDeletion", True, K),
    Action("CancelKeyDeletion", True, K),
    Action("SetDeletionProtection", True, K),
    Action("GetKeyPolicy", False, K, Op.READ),
    Action("SetKeyPolicy", True, K),
    # symmetric cryptography
    Action("Encrypt", False, K, Op.USE),
    Action("Decrypt", False, K, Op.USE),
    Action("ReEncrypt", False, K, Op.USE),
    Action("GenerateDataKey", False, K, Op.USE),
    Action("GenerateDataKeyWithoutPlaintext", False, K, Op.USE),
    Action("GenerateAndExportDataKey", False, K, Op.USE),
    Action("ExportDataKey", False, K, Op.USE),
    # asymmetric cryptography
    Action("AsymmetricSign", False, K, Op.USE),
    Action("AsymmetricVerify", False, K, Op.USE),
    Action("AsymmetricEncrypt", False, K, Op.USE),
    Action("AsymmetricDecrypt", False, K, Op.USE),
    Action("GetPublicKey", False, K, Op.USE),
    # versions and rotation
    Action("ListKeyVersions", False, K, Op.READ),
    Action("DescribeKeyVersion", False, K, Op.READ),
    Action("UpdateRotationPolicy", True, K),
    Action("CreateKeyVersion", True, K),
    # aliases
    Action("CreateAlias", True, K, Op.CREATE_ALIAS),
    Action("UpdateAlias", True, K, Op.ALIAS_TARGET),
    Action("DeleteAlias", True, C),
    Action("ListAliases", False, C),
    Action("ListAliasesByKeyId", False, K, Op.READ),
    # tags
    Action("TagResource", True, K, Op.MODIFY),
    Action("UntagResource", True, K, Op.MODIFY),
    Action("TagResources", True, K, Op.MODIFY),
    Action("UntagResources", True, K, Op.MODIFY),
    Action("ListResourceTags", False, K, Op.READ),
    Action("ListTagResources", False, K, Op.READ),
    # bring your own key
    Action("GetParametersForImport", True, K, Op.IMPORT_PARAMS),
    Action("ImportKeyMaterial", True, K),
    Action("DeleteKeyMaterial", True, K, Op.IMPORT_PARAMS),
    # the account
    Action("DescribeRegions", False, C),
    Action("DescribeAccountKmsStatus", False, C),
    Action("OpenKmsService", True, C),
    Action("GetRandomPassword", False, C),
)

ACTIONS: dict[str, Action] = {}
for _action in _ALL:
    if _action.name in ACTIONS:
        raise ValueError(f"action {_action.name} is declared twice")
    ACTIONS[_action.name] = _action


def action(name: str) -> Action:
    """The row for ``name``; a KeyError is a programming error (an undeclared action)."""
    return ACTIONS[name]
