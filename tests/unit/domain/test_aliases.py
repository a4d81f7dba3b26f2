"""Alias names (spec 4.6): ``alias/`` + 1-255 of ``[A-Za-z0-9_/-]``, never under ``alias/acs``."""

from __future__ import annotations

import pytest

from openkms.domain import errors
from openkms.domain.aliases import is_alias, validate_alias_name


@pytest.mark.parametrize(
    "name",
    ["alias/a", "alias/test-1", "alias/A_b/c-D9", "alias/" + "x" * 255, "alias/ac", "alias/my/acs", "alias/-"],
)
def test_valid_names(name: str) -> None:
    assert validate_alias_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "alias/",
        "alias",
        "test",
        "Alias/x",
        "alias/" + "x" * 256,
        "alias/has space",
        "alias/dot.not",
        "alias/ümlaut",
        "alias/x\n",
        "/alias/x",
        "alias/x*",
    ],
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(errors.InvalidParameter) as err:
        validate_alias_name(name)
    assert err.value.name == "AliasName"


@pytest.mark.parametrize("name", ["alias/acs", "alias/acs-x", "alias/acs/y", "alias/ACS-upper", "alias/acsfoo"])
def test_the_acs_prefix_is_reserved(name: str) -> None:
    with pytest.raises(errors.InvalidParameter, match="reserved"):
        validate_alias_name(name)


def test_is_alias() -> None:
    assert is_alias("alias/x")
    assert not is_alias("6f1c0f9e-1111-4222-8333-944445555666")
    assert not is_alias("acs:kms:cn-hangzhou:1:alias/x")
