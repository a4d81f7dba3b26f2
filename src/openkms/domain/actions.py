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
    RAM = "ram"  # a RAM user or policy
    TRAIL = "trail"  # the account's audit trail (ActionTrail)
    SECRET = "secret"  # noqa: S105 (a target: a secret, or the account's secrets in a region)


@dataclass(frozen=True, slots=True)
class Action:
    name: str  # the API's Action parameter
    writes: bool  # changes state (ActionTrail's eventRW: Write), or only reads or uses keys
    target: Target
    op: Op | None = None  # the key state rule the resolver applies (None: the use case applies its own)
    # What a key *user* may do: the actions another account's caller can be granted on a key
    # (through the key's policy), never its administration.
    cross_account: bool = False
    service: str = "kms"

    @property
    def ram_name(self) -> str:
        """The name policies use: ``kms:Encrypt``."""
        return f"{self.service}:{self.name}"


K, C = Target.KEY, Target.CONTAINER

_ALL = (
    # keys
    Action("CreateKey", True, C),
    Action("DescribeKey", False, K, Op.READ, cross_account=True),
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
    Action("Encrypt", False, K, Op.USE, cross_account=True),
    Action("Decrypt", False, K, Op.USE, cross_account=True),
    Action("ReEncrypt", False, K, Op.USE, cross_account=True),
    Action("GenerateDataKey", False, K, Op.USE, cross_account=True),
    Action("GenerateDataKeyWithoutPlaintext", False, K, Op.USE, cross_account=True),
    Action("GenerateAndExportDataKey", False, K, Op.USE, cross_account=True),
    Action("ExportDataKey", False, K, Op.USE, cross_account=True),
    # asymmetric cryptography
    Action("AsymmetricSign", False, K, Op.USE, cross_account=True),
    Action("AsymmetricVerify", False, K, Op.USE, cross_account=True),
    Action("AsymmetricEncrypt", False, K, Op.USE, cross_account=True),
    Action("AsymmetricDecrypt", False, K, Op.USE, cross_account=True),
    Action("GetPublicKey", False, K, Op.USE, cross_account=True),
    # versions and rotation
    Action("ListKeyVersions", False, K, Op.READ, cross_account=True),
    Action("DescribeKeyVersion", False, K, Op.READ, cross_account=True),
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
    # KMS instances: the configured key stores, read only
    Action("ListKmsInstances", False, C),
    Action("GetKmsInstance", False, C),
    Action("GetKmsInstanceQuotaInfos", False, C),
    Action("GetDefaultKmsInstance", False, C),
    # application access (the instance gateway's callers): access points, client keys, policies, network rules
    *(
        Action(f"{verb}{noun}", verb not in ("Describe", "List", "Get"), C)
        for noun, verbs in (
            ("ApplicationAccessPoint", ("Create", "Describe", "Update", "Delete")),
            ("ClientKey", ("Create", "Get", "Delete")),
            ("Policy", ("Create", "Describe", "Update", "Delete")),
            ("NetworkRule", ("Create", "Describe", "Update", "Delete")),
        )
        for verb in verbs
    ),
    Action("ListApplicationAccessPoints", False, C),
    Action("ListClientKeys", False, C),
    Action("ListPolicies", False, C),
    Action("ListNetworkRules", False, C),
    # Secrets Manager (a secret's key is reached for its use: GenerateDataKey / Decrypt)
    *(
        Action(name, writes, Target.SECRET)
        for name, writes in (
            ("CreateSecret", True), ("GetSecretValue", False), ("BatchGetSecretValue", False),
            ("PutSecretValue", True), ("UpdateSecretVersionStage", True), ("DescribeSecret", False),
            ("ListSecrets", False), ("ListSecretVersionIds", False), ("UpdateSecret", True),
            ("UpdateSecretRotationPolicy", True), ("RotateSecret", True), ("DeleteSecret", True),
            ("RestoreSecret", True), ("GetSecretPolicy", False), ("SetSecretPolicy", True),
        )
    ),
)  # fmt: skip

R = Target.RAM
_RAM = tuple(
    Action(name, writes, R, service="ram")
    for name, writes in (
        ("CreateUser", True), ("GetUser", False), ("UpdateUser", True), ("ListUsers", False), ("DeleteUser", True),
        ("CreateAccessKey", True), ("ListAccessKeys", False), ("UpdateAccessKey", True), ("DeleteAccessKey", True),
        ("CreatePolicy", True), ("GetPolicy", False), ("ListPolicies", False), ("DeletePolicy", True),
        ("CreatePolicyVersion", True), ("GetPolicyVersion", False), ("ListPolicyVersions", False),
        ("DeletePolicyVersion", True), ("SetDefaultPolicyVersion", True),
        ("AttachPolicyToUser", True), ("DetachPolicyFromUser", True),
        ("ListPoliciesForUser", False), ("ListEntitiesForPolicy", False),
    )
)  # fmt: skip


# ActionTrail 2020-07-06: reading the audit trail.
_ACTIONTRAIL = (Action("LookupEvents", False, Target.TRAIL, service="actiontrail"),)


def _table(rows: tuple[Action, ...]) -> dict[str, Action]:
    table: dict[str, Action] = {}
    for row in rows:
        if row.name in table:
            raise ValueError(f"action {row.name} is declared twice")
        table[row.name] = row
    return table


ACTIONS: dict[str, Action] = _table(_ALL)  # KMS 2016-01-20
RAM_ACTIONS: dict[str, Action] = _table(_RAM)  # RAM 2015-05-01: some names are KMS's too (CreatePolicy)
ACTIONTRAIL_ACTIONS: dict[str, Action] = _table(_ACTIONTRAIL)  # ActionTrail 2020-07-06
_SERVICES = {"kms": ACTIONS, "ram": RAM_ACTIONS, "actiontrail": ACTIONTRAIL_ACTIONS}


def action(name: str, service: str = "kms") -> Action:
    """The row for ``name``; a KeyError is a programming error (an undeclared action)."""
    return _SERVICES[service][name]
