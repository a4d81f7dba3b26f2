"""The state table of domain/states.py, checked cell by cell against the table of the API notes
(spec section 4.3, "Key states and what each operation may do"), transcribed here verbatim."""

from __future__ import annotations

import pytest

from openkms.domain import errors
from openkms.domain.states import ALLOWED, KeyState, Op, require

# Spec section 4.3, copied as it stands (rows documented by Alibaba's "impact of CMK status" page).
SPEC_TABLE = """
| API | Enabled | Disabled | PendingDeletion | PendingImport |
|---|---|---|---|---|
| GenerateDataKey(WithoutPlaintext), Encrypt, Decrypt | OK | R.Disabled | R.PendingDeletion | R.PendingImport |
| ListKeys, DescribeKey, ListAliases, DeleteAlias, ListResourceTags, DescribeKeyVersion, ListKeyVersions | OK | OK | OK | OK |
| UpdateKeyDescription, TagResource, UntagResource | OK | OK | R.PendingDeletion | OK |
| EnableKey, DisableKey | OK | OK | R.StateModifiedFailed | R.StateModifiedFailed |
| ScheduleKeyDeletion | OK | OK | R.StateModifiedFailed | OK |
| CancelKeyDeletion | R.StateModifiedFailed | R.StateModifiedFailed | OK → Enabled | R.StateModifiedFailed |
| CreateAlias | OK | OK | R.StateModifiedFailed | OK |
| CreateKeyVersion, UpdateRotationPolicy | OK | R.Disabled | R.PendingDeletion | R.PendingImport |
| UpdateAlias (target key) | OK | OK | R.PendingDeletion | OK |
| GetParametersForImport, DeleteKeyMaterial | OK | OK | OK | OK |
| ImportKeyMaterial | OK | OK | R.StateModifiedFailed | OK |
"""  # noqa: E501

# Which operation class of the domain each spec row is.
ROW_OP = {
    "GenerateDataKey(WithoutPlaintext), Encrypt, Decrypt": Op.USE,
    "ListKeys, DescribeKey, ListAliases, DeleteAlias, ListResourceTags, DescribeKeyVersion, ListKeyVersions": Op.READ,
    "UpdateKeyDescription, TagResource, UntagResource": Op.MODIFY,
    "EnableKey, DisableKey": Op.ENABLE_DISABLE,
    "ScheduleKeyDeletion": Op.SCHEDULE_DELETION,
    "CancelKeyDeletion": Op.CANCEL_DELETION,
    "CreateAlias": Op.CREATE_ALIAS,
    "CreateKeyVersion, UpdateRotationPolicy": Op.ROTATE,
    "UpdateAlias (target key)": Op.ALIAS_TARGET,
    "GetParametersForImport, DeleteKeyMaterial": Op.IMPORT_PARAMS,
    "ImportKeyMaterial": Op.IMPORT_MATERIAL,
}

# The wire codes of section 4.3 and the domain error each one is raised as.
CELL_ERROR: dict[str, type[errors.KmsError]] = {
    "R.Disabled": errors.RejectedDisabled,
    "R.PendingDeletion": errors.RejectedPendingDeletion,
    "R.PendingImport": errors.RejectedPendingImport,
    "R.StateModifiedFailed": errors.StateModifiedFailed,
}


def _parse() -> list[tuple[str, KeyState, str]]:
    lines = [line for line in SPEC_TABLE.strip().splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    states = [KeyState(name) for name in header[1:]]
    cells = []
    for line in lines[2:]:
        row = [c.strip() for c in line.strip("|").split("|")]
        for state, cell in zip(states, row[1:], strict=True):
            cells.append((row[0], state, cell))
    return cells


CELLS = _parse()


def test_the_transcribed_table_has_every_cell() -> None:
    assert len(CELLS) == 11 * 4
    assert {row for row, _, _ in CELLS} == set(ROW_OP)


def test_every_domain_operation_is_a_spec_row() -> None:
    assert set(ROW_OP.values()) == set(Op)
    assert set(ALLOWED) == set(Op)
    for op in Op:
        assert set(ALLOWED[op]) == set(KeyState), op


@pytest.mark.parametrize(("row", "state", "cell"), CELLS, ids=[f"{ROW_OP[r]}-{s}" for r, s, _ in CELLS])
def test_cell(row: str, state: KeyState, cell: str) -> None:
    op = ROW_OP[row]
    if cell.startswith("OK"):
        require(state, op)  # must not raise
        assert ALLOWED[op][state] is None
    else:
        expected = CELL_ERROR[cell]
        with pytest.raises(errors.StateRejected) as err:
            require(state, op)
        assert type(err.value) is expected


def test_rejections_carry_the_documented_messages() -> None:
    with pytest.raises(errors.RejectedDisabled, match="key state is Disabled"):
        require(KeyState.DISABLED, Op.USE)
    with pytest.raises(errors.RejectedPendingDeletion, match="key state is PendingDeletion"):
        require(KeyState.PENDING_DELETION, Op.USE)
    with pytest.raises(errors.RejectedPendingImport, match="key state is PendingImport"):
        require(KeyState.PENDING_IMPORT, Op.USE)
    with pytest.raises(errors.StateModifiedFailed, match="Keystate modified failed"):
        require(KeyState.ENABLED, Op.CANCEL_DELETION)


def test_state_spellings_are_the_wire_spellings() -> None:
    # Stored in the database and returned as KeyState: the spelling must never drift.
    assert [s.value for s in KeyState] == ["Enabled", "Disabled", "PendingDeletion", "PendingImport"]
