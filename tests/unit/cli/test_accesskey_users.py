"""``openkms accesskey create --user NAME`` issues a RAM user's pair, and ``accesskey list`` says
whose each pair is (``-``: the account's own), as a table or, with ``--json``, for scripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from openkms.cli import admin
from openkms.domain.identity import Caller
from openkms.domain.ram.identities import User
from openkms.service.ram_users import UserFields
from tests.unit.cli.commands import Cli


def add_user(cli: Cli, name: str, account: str | None = None) -> User:
    """A RAM user, made through the services (``openkms ram user create`` has tests of its own)."""
    with cli.services() as s:
        return s.ram_users.create_user(admin.root_caller(s, account), name, UserFields())


def test_the_root_caller_is_the_accounts_own_in_the_default_region(cli: Cli) -> None:
    with cli.services() as s:
        administrator = s.identity.list_access_keys()[0].account_uid  # the pair of the first start
        assert admin.root_caller(s, None) == Caller(administrator, s.regions.default, "")
        other = s.identity.create_access_key(new_account=True).access_key.account_uid
        assert admin.root_caller(s, other) == Caller(other, s.regions.default, "")
        assert admin.root_caller(s, other).is_root


def test_a_users_pair_names_the_user_and_is_listed_as_theirs(cli: Cli) -> None:
    with cli.services() as s:
        admin_account = admin.root_caller(s, None).account_uid
    add_user(cli, "ci")
    record = cli.ok("accesskey", "create", "--user", "ci", "--description", "the CI runner").json()
    assert set(record) == {"AccessKeyId", "AccessKeySecret", "AccountId", "UserName"}
    assert (record["AccountId"], record["UserName"]) == (admin_account, "ci")

    listed = {k["AccessKeyId"]: k for k in cli.ok("accesskey", "list", "--json").json()}
    assert listed[record["AccessKeyId"]] == {
        "AccessKeyId": record["AccessKeyId"],
        "AccountId": admin_account,
        "UserName": "ci",
        "Status": "Enabled",
        "Description": "the CI runner",
        "CreateDate": listed[record["AccessKeyId"]]["CreateDate"],
    }
    assert all(k["UserName"] == "" for id_, k in listed.items() if id_ != record["AccessKeyId"])
    table = cli.ok("accesskey", "list")
    assert record["AccessKeySecret"] not in table.out
    rows = table.rows()
    assert rows[0] == ["AccessKeyId", "AccountId", "Status", "UserName", "Description"]
    assert next(r for r in rows if r[0] == record["AccessKeyId"]) == [
        record["AccessKeyId"], admin_account, "Enabled", "ci", "the", "CI", "runner"
    ]  # fmt: skip


def test_an_accounts_own_pair_is_printed_as_before(cli: Cli) -> None:
    record = cli.ok("accesskey", "create").json()
    assert set(record) == {"AccessKeyId", "AccessKeySecret", "AccountId"}


def test_a_user_of_another_account(cli: Cli) -> None:
    other = cli.ok("accesskey", "create", "--new-account").json()["AccountId"]
    add_user(cli, "ops", other)
    record = cli.ok("accesskey", "create", "--user", "ops", "--account", other).json()
    assert (record["AccountId"], record["UserName"]) == (other, "ops")
    # The administrator's account has no user of that name.
    err = cli.refused("accesskey", "create", "--user", "ops")
    assert err == "openkms: EntityNotExist.User: The user does not exist.\n"


def test_a_user_has_at_most_two_pairs(cli: Cli) -> None:
    add_user(cli, "busy")
    cli.ok("accesskey", "create", "--user", "busy")
    cli.ok("accesskey", "create", "--user", "busy")
    err = cli.refused("accesskey", "create", "--user", "busy")
    assert err.startswith("openkms: LimitExceeded.User.AccessKey: ")


def test_an_invalid_user_name_is_refused_with_rams_code(cli: Cli) -> None:
    err = cli.refused("accesskey", "create", "--user", "no spaces")
    message = 'The parameter - "UserName" contains invalid chars.'
    assert err == f"openkms: InvalidParameter.UserName.InvalidChars: {message}\n"


def test_user_and_new_account_do_not_go_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = Cli(tmp_path / "data", capsys)("accesskey", "create", "--new-account", "--user", "x")
    assert (result.code, result.out) == (2, "")
    assert "--user: not allowed with argument --new-account" in result.err
    assert not (tmp_path / "data").exists()
