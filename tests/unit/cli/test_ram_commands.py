"""``openkms ram user|policy ...``: an account's RAM users and policies from the command line, acting
as the account's root (the administrator's account by default). Tables for people, ``--json`` for
scripts; a refusal is RAM's code and message on one line, status 1."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from openkms.cli.output import ram_code
from openkms.cli.ram import every
from openkms.domain import errors
from openkms.protocol.errors import to_wire
from openkms.service.ram_users import Page, page_of
from tests.unit.cli.commands import Cli

ENCRYPT_ONLY = json.dumps(
    {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}]}, indent=2
)


def policy_file(tmp_path: Path, text: str = ENCRYPT_ONLY) -> str:
    path = tmp_path / "policy.json"
    path.write_text(text)
    return str(path)


# --- users ----------------------------------------------------------------------------------------


def test_user_create_prints_a_row_or_json_and_list_shows_them(cli: Cli) -> None:
    rows = cli.ok("ram", "user", "create", "alice", "--display-name", "Alice", "--comments", "on call").rows()
    assert rows[0] == ["UserName", "UserId", "DisplayName", "CreateDate", "Comments"]
    assert len(rows) == 2
    assert rows[1][0] == "alice"
    assert rows[1][1].isdigit()
    assert (rows[1][2], rows[1][4:]) == ("Alice", ["on", "call"])

    bob = cli.ok("ram", "user", "create", "bob", "--json").json()
    assert set(bob) == {
        "UserName", "UserId", "DisplayName", "Email", "MobilePhone", "Comments", "CreateDate", "UpdateDate"
    }  # fmt: skip
    assert (bob["UserName"], bob["DisplayName"], bob["Comments"]) == ("bob", "", "")
    assert bob["CreateDate"].endswith("Z")

    listed = {u["UserName"]: u for u in cli.ok("ram", "user", "list", "--json").json()}
    assert {"alice", "bob"} <= set(listed)
    assert listed["bob"] == bob
    table = {row[0]: row for row in cli.ok("ram", "user", "list").rows()[1:]}
    assert table["bob"][2] == "-"  # an empty cell keeps its column


def test_users_belong_to_an_account(cli: Cli) -> None:
    other = cli.ok("accesskey", "create", "--new-account").json()["AccountId"]
    cli.ok("ram", "user", "create", "shared-name")
    cli.ok("ram", "user", "create", "shared-name", "--account", other)
    cli.ok("ram", "user", "create", "only-there", "--account", other)
    theirs = [u["UserName"] for u in cli.ok("ram", "user", "list", "--account", other, "--json").json()]
    assert sorted(theirs) == ["only-there", "shared-name"]  # listed by creation time, so order is timing
    assert "only-there" not in cli.ok("ram", "user", "list").out
    err = cli.refused("ram", "user", "list", "--account", "42")
    assert err == 'openkms: The specified parameter "AccountId" is not valid. No account 42.\n'


def test_delete_is_refused_while_the_user_has_pairs_or_policies(cli: Cli) -> None:
    cli.ok("ram", "user", "create", "carol")
    pair = cli.ok("accesskey", "create", "--user", "carol").json()
    cli.ok("ram", "policy", "attach", "AliyunKMSReadOnlyAccess", "--user", "carol")

    err = cli.refused("ram", "user", "delete", "carol")
    assert err == (
        "openkms: DeleteConflict.User.AccessKey: The user CAN NOT has any access key while deleting the user.\n"
    )
    cli.ok("accesskey", "delete", pair["AccessKeyId"])
    err = cli.refused("ram", "user", "delete", "carol")
    assert err.startswith("openkms: DeleteConflict.User.Policy: The user CAN NOT has any attached policy")
    cli.ok("ram", "policy", "detach", "AliyunKMSReadOnlyAccess", "--user", "carol")

    assert cli.ok("ram", "user", "delete", "carol").out == "carol: deleted\n"
    assert "carol" not in cli.ok("ram", "user", "list").out
    assert cli.refused("ram", "user", "delete", "carol") == "openkms: EntityNotExist.User: The user does not exist.\n"


def test_delete_json(cli: Cli) -> None:
    cli.ok("ram", "user", "create", "dave")
    assert cli.ok("ram", "user", "delete", "dave", "--json").json() == {"UserName": "dave", "Status": "Deleted"}


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["ram", "user", "create", "erin"], "EntityAlreadyExists.User: The user does already EXIST."),
        (
            ["ram", "user", "create", "not a name"],
            'InvalidParameter.UserName.InvalidChars: The parameter - "UserName" contains invalid chars.',
        ),
        (["ram", "user", "create", "x" * 65], 'InvalidParameter.UserName.Length: The parameter - "UserName" beyond'),
        (
            ["ram", "user", "create", "frank", "--comments", "c" * 129],
            'InvalidParameter.Comments.Length: The parameter - "Comments" beyond the length limit.',
        ),
        (["ram", "policy", "attach", "no-such-policy", "--user", "erin"], "EntityNotExist.Policy:"),
        (["ram", "policy", "attach", "AliyunKMSFullAccess", "--user", "nobody"], "EntityNotExist.User:"),
        (["ram", "policy", "detach", "AliyunKMSFullAccess", "--user", "erin"], "EntityNotExist.User.Policy:"),
        (["ram", "policy", "show", "AliyunKMSFullAccess", "--type", "Custom"], "EntityNotExist.Policy:"),
        (["ram", "policy", "show", "no-such-policy"], "EntityNotExist.Policy: The policy does not exist."),
        (["ram", "policy", "delete", "AliyunKMSFullAccess"], "EntityNotExist.Policy:"),
        (["ram", "policy", "list", "--user", "nobody"], "EntityNotExist.User:"),
    ],
)
def test_refusals_are_rams_code_and_message_on_one_line(cli: Cli, args: list[str], line: str) -> None:
    if "erin" not in cli.ok("ram", "user", "list").out:
        cli.ok("ram", "user", "create", "erin")
    assert cli.refused(*args).startswith(f"openkms: {line}")


# --- policies -------------------------------------------------------------------------------------


def test_policy_create_from_a_file_and_show_prints_its_document(cli: Cli, tmp_path: Path) -> None:
    path = policy_file(tmp_path)
    rows = cli.ok("ram", "policy", "create", "encrypt-only", "--document", path, "--description", "Encrypt").rows()
    assert rows == [
        ["PolicyName", "PolicyType", "DefaultVersion", "AttachmentCount", "Description"],
        ["encrypt-only", "Custom", "v1", "0", "Encrypt"],
    ]
    assert cli.ok("ram", "policy", "show", "encrypt-only").out == ENCRYPT_ONLY + "\n"
    shown = cli.ok("ram", "policy", "show", "encrypt-only", "--json").json()
    assert shown["PolicyDocument"] == ENCRYPT_ONLY
    assert (shown["PolicyType"], shown["DefaultVersion"], shown["Description"]) == ("Custom", "v1", "Encrypt")
    err = cli.refused("ram", "policy", "create", "encrypt-only", "--document", path)
    assert err == "openkms: EntityAlreadyExists.Policy: The policy does already EXIST.\n"


def test_policy_create_from_standard_input(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(ENCRYPT_ONLY))
    created = cli.ok("ram", "policy", "create", "from-stdin", "--document", "-", "--json").json()
    assert (created["PolicyName"], created["PolicyType"], created["AttachmentCount"]) == ("from-stdin", "Custom", 0)
    assert cli.ok("ram", "policy", "show", "from-stdin").out == ENCRYPT_ONLY + "\n"


def test_a_malformed_document_is_refused_with_its_line(cli: Cli, tmp_path: Path) -> None:
    bad = ENCRYPT_ONLY.replace('"Allow"', '"Maybe"')
    line = next(n for n, text in enumerate(bad.splitlines(), 1) if "Maybe" in text)
    err = cli.refused("ram", "policy", "create", "malformed", "--document", policy_file(tmp_path, bad))
    assert err.startswith(f"openkms: MalformedPolicyDocument: The policy document is malformed: line {line}: ")
    assert "Effect" in err
    err = cli.refused("ram", "policy", "create", "not-json", "--document", policy_file(tmp_path, "{\n  nope"))
    assert err.startswith("openkms: MalformedPolicyDocument: The policy document is malformed: line 2: ")
    custom = cli.ok("ram", "policy", "list", "--type", "Custom").out
    assert "malformed" not in custom
    assert "not-json" not in custom


def test_an_unreadable_document_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("ram", "policy", "create", "nowhere", "--document", str(tmp_path / "missing.json"))
    assert (result.code, result.out) == (2, "")
    assert (
        result.err
        == f"openkms: cannot read the policy document {tmp_path / 'missing.json'}: No such file or directory\n"
    )


def test_policy_list_by_type_and_by_user(cli: Cli, tmp_path: Path) -> None:
    cli.ok("ram", "policy", "create", "listed", "--document", policy_file(tmp_path))
    cli.ok("ram", "user", "create", "grace")
    system = cli.ok("ram", "policy", "list", "--type", "System", "--json").json()
    assert {p["PolicyType"] for p in system} == {"System"}
    assert {"AliyunKMSFullAccess", "AliyunKMSCryptoUserAccess", "AliyunRAMFullAccess"} <= {
        p["PolicyName"] for p in system
    }
    custom = cli.ok("ram", "policy", "list", "--type", "Custom", "--json").json()
    assert {p["PolicyType"] for p in custom} == {"Custom"}
    assert "listed" in {p["PolicyName"] for p in custom}
    every = cli.ok("ram", "policy", "list").rows()
    assert every[0] == ["PolicyName", "PolicyType", "DefaultVersion", "AttachmentCount", "Description"]
    assert len(every) == 1 + len(system) + len(custom)

    assert cli.ok("ram", "policy", "list", "--user", "grace", "--json").json() == []
    cli.ok("ram", "policy", "attach", "listed", "--user", "grace")
    cli.ok("ram", "policy", "attach", "AliyunKMSCryptoUserAccess", "--user", "grace")
    mine = cli.ok("ram", "policy", "list", "--user", "grace", "--json").json()
    assert {(p["PolicyName"], p["PolicyType"]) for p in mine} == {
        ("listed", "Custom"), ("AliyunKMSCryptoUserAccess", "System")
    }  # fmt: skip
    assert next(p for p in mine if p["PolicyName"] == "listed")["AttachmentCount"] == 1
    only_custom = cli.ok("ram", "policy", "list", "--user", "grace", "--type", "Custom", "--json").json()
    assert [p["PolicyName"] for p in only_custom] == ["listed"]


def test_attach_and_detach(cli: Cli, tmp_path: Path) -> None:
    cli.ok("ram", "policy", "create", "attached", "--document", policy_file(tmp_path))
    cli.ok("ram", "user", "create", "heidi")
    # The type defaults to System for a system policy's name, else Custom.
    assert (
        cli.ok("ram", "policy", "attach", "attached", "--user", "heidi").out == "attached (Custom): attached to heidi\n"
    )
    out = cli.ok("ram", "policy", "attach", "AliyunKMSFullAccess", "--user", "heidi").out
    assert out == "AliyunKMSFullAccess (System): attached to heidi\n"
    err = cli.refused("ram", "policy", "attach", "attached", "--user", "heidi")
    assert err == "openkms: EntityAlreadyExists.User.Policy: The user has already been attached this policy.\n"
    assert cli.ok("ram", "policy", "show", "attached", "--json").json()["AttachmentCount"] == 1

    detached = cli.ok("ram", "policy", "detach", "attached", "--user", "heidi", "--type", "Custom", "--json").json()
    assert detached == {"PolicyName": "attached", "PolicyType": "Custom", "UserName": "heidi", "Status": "Detached"}
    out = cli.ok("ram", "policy", "detach", "AliyunKMSFullAccess", "--user", "heidi").out
    assert out == "AliyunKMSFullAccess (System): detached from heidi\n"
    assert cli.ok("ram", "policy", "list", "--user", "heidi", "--json").json() == []


def test_policy_delete(cli: Cli, tmp_path: Path) -> None:
    cli.ok("ram", "policy", "create", "short-lived", "--document", policy_file(tmp_path))
    cli.ok("ram", "user", "create", "ivan")
    cli.ok("ram", "policy", "attach", "short-lived", "--user", "ivan")
    err = cli.refused("ram", "policy", "delete", "short-lived")
    assert err.startswith("openkms: DeleteConflict.Policy.User: ")
    cli.ok("ram", "policy", "detach", "short-lived", "--user", "ivan")
    assert cli.ok("ram", "policy", "delete", "short-lived").out == "short-lived: deleted\n"
    assert cli.refused("ram", "policy", "show", "short-lived").startswith("openkms: EntityNotExist.Policy: ")


def test_a_system_policys_document(cli: Cli) -> None:
    shown = cli.ok("ram", "policy", "show", "AliyunKMSFullAccess", "--json").json()
    assert shown["PolicyType"] == "System"
    assert json.loads(shown["PolicyDocument"])["Statement"][0]["Action"] == "kms:*"
    assert cli.ok("ram", "policy", "show", "AliyunKMSFullAccess", "--type", "System").out.startswith("{")


@pytest.mark.parametrize(
    "exc",
    [
        errors.EntityNotExist("User.AccessKey"),
        errors.EntityAlreadyExists("Policy"),
        errors.DeleteConflict("User.Policy"),
        errors.RamLimitExceeded("User.AccessKey"),
        errors.RamInvalidParameter("UserName", "InvalidChars"),
        errors.RamInvalidParameter("PolicyType"),
        errors.MalformedPolicyDocument("a reason", 3),
    ],
)
def test_the_codes_printed_are_the_apis(exc: errors.KmsError) -> None:
    """The command line builds RAM's codes itself (it does not import the protocol): the same ones."""
    assert ram_code(exc) == to_wire(exc).code


def test_listings_read_every_page() -> None:
    names = [f"user-{n:04}" for n in range(2500)]
    pages: list[Page] = []

    def fetch(page: Page) -> tuple[list[str], str | None]:
        pages.append(page)
        start, end, marker = page_of(names, page)
        return names[start:end], marker

    assert every(fetch) == names
    assert [p.marker for p in pages] == [None, "user-1000", "user-2000"]
