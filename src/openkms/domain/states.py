"""The key state machine: one table of what each state allows, one source of truth.

The table follows the Alibaba "impact of CMK status on API operations" page; rows the page does
not list (ReEncrypt, the asymmetric operations, SetDeletionProtection, ...) are our choices and
are listed in docs/COMPATIBILITY.md.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from openkms.domain import errors


class KeyState(StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    PENDING_DELETION = "PendingDeletion"
    PENDING_IMPORT = "PendingImport"


class Op(StrEnum):
    """Operations whose permission depends on the key state."""

    USE = "use"  # Encrypt, Decrypt, GenerateDataKey*, ReEncrypt, Export*, Asymmetric*, GetPublicKey
    READ = "read"  # DescribeKey, ListKeys, versions, aliases listing, tags listing, DeleteAlias
    MODIFY = "modify"  # UpdateKeyDescription, TagResource, UntagResource, SetDeletionProtection
    ENABLE_DISABLE = "enable_disable"
    SCHEDULE_DELETION = "schedule_deletion"
    CANCEL_DELETION = "cancel_deletion"
    CREATE_ALIAS = "create_alias"
    ALIAS_TARGET = "alias_target"  # UpdateAlias: the new target's state
    ROTATE = "rotate"  # CreateKeyVersion, UpdateRotationPolicy
    IMPORT_PARAMS = "import_params"  # GetParametersForImport, DeleteKeyMaterial
    IMPORT_MATERIAL = "import_material"


_OK = None
_Reject = Callable[[], errors.KmsError]

_D: _Reject = errors.RejectedDisabled
_PD: _Reject = errors.RejectedPendingDeletion
_PI: _Reject = errors.RejectedPendingImport
_SMF: _Reject = errors.StateModifiedFailed

E, D, PD, PI = KeyState.ENABLED, KeyState.DISABLED, KeyState.PENDING_DELETION, KeyState.PENDING_IMPORT

# For each operation: the error factory per state, or None where the state allows it.
ALLOWED: dict[Op, dict[KeyState, _Reject | None]] = {
    Op.USE: {E: _OK, D: _D, PD: _PD, PI: _PI},
    Op.READ: {E: _OK, D: _OK, PD: _OK, PI: _OK},
    Op.MODIFY: {E: _OK, D: _OK, PD: _PD, PI: _OK},
    Op.ENABLE_DISABLE: {E: _OK, D: _OK, PD: _SMF, PI: _SMF},
    Op.SCHEDULE_DELETION: {E: _OK, D: _OK, PD: _SMF, PI: _OK},
    Op.CANCEL_DELETION: {E: _SMF, D: _SMF, PD: _OK, PI: _SMF},
    Op.CREATE_ALIAS: {E: _OK, D: _OK, PD: _SMF, PI: _OK},
    Op.ALIAS_TARGET: {E: _OK, D: _OK, PD: _PD, PI: _OK},
    Op.ROTATE: {E: _OK, D: _D, PD: _PD, PI: _PI},
    Op.IMPORT_PARAMS: {E: _OK, D: _OK, PD: _OK, PI: _OK},
    Op.IMPORT_MATERIAL: {E: _OK, D: _OK, PD: _SMF, PI: _OK},
}


def require(state: KeyState, op: Op) -> None:
    """Raise the Alibaba-specified rejection if ``state`` does not allow ``op``."""
    reject = ALLOWED[op][state]
    if reject is not None:
        raise reject()
