"""``openkms accesskey create|list|disable|enable|delete`` run as commands beside a running server:
they share its SQLite database, and every change takes effect on the server's next request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.clients import ApiError, Kms
from tests.servers import ProcessServer, process_server, run_openkms


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessServer]:
    with process_server(tmp_path_factory.mktemp("accesskeys") / "data") as server:
        yield server


def accesskey(srv: ProcessServer, *args: str) -> tuple[int, str, str]:
    result = run_openkms("accesskey", *args, "--data-dir", str(srv.data_dir))
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout, result.stderr


def create(srv: ProcessServer, *args: str) -> dict[str, str]:
    code, out, err = accesskey(srv, "create", *args)
    assert code == 0, err
    record: dict[str, str] = json.loads(out)  # the whole of stdout is one JSON document
    assert set(record) == {"AccessKeyId", "AccessKeySecret", "AccountId"}
    return record


def client(srv: ProcessServer, record: dict[str, str], mode: str = "new-v3") -> Kms:
    return Kms(mode, srv.endpoint, record["AccessKeyId"], record["AccessKeySecret"])


def api_error(kms: Kms, action: str, **params: str) -> ApiError:
    with pytest.raises(ApiError) as err:
        kms.call(action, **params)
    return err.value


def test_create_issues_a_working_pair_in_the_administrator_account(srv: ProcessServer) -> None:
    admin = srv.admin()
    record = create(srv, "--description", "ci runner")
    assert record["AccountId"] == admin["AccountId"]
    assert record["AccessKeyId"] != admin["AccessKeyId"]
    key = client(srv, record).call("CreateKey")["KeyMetadata"]
    assert key["Creator"] == admin["AccountId"]
    # Same account: the administrator sees the key.
    assert client(srv, admin, "old").call("DescribeKey", KeyId=key["KeyId"])["KeyMetadata"]["KeyId"] == key["KeyId"]


def test_new_account_is_isolated(srv: ProcessServer) -> None:
    admin = srv.admin()
    mine = create(srv, "--new-account")
    assert mine["AccountId"] != admin["AccountId"]
    assert mine["AccountId"].isdigit()
    theirs = client(srv, admin).call("CreateKey", Description="the administrator's")["KeyMetadata"]["KeyId"]
    kms = client(srv, mine)
    own = kms.call("CreateKey")["KeyMetadata"]
    assert own["Creator"] == mine["AccountId"]
    assert own["Arn"].split(":")[3] == mine["AccountId"]
    listed = [k["KeyId"] for k in kms.call("ListKeys", PageSize=100)["Keys"]["Key"]]
    assert listed == [own["KeyId"]]
    err = api_error(kms, "DescribeKey", KeyId=theirs)
    assert (err.status, err.code) == (404, "Forbidden.KeyNotFound")

    # A second pair for that account (--account) shares its keys.
    second = create(srv, "--account", mine["AccountId"])
    assert second["AccountId"] == mine["AccountId"]
    assert client(srv, second, "old").call("DescribeKey", KeyId=own["KeyId"])["KeyMetadata"]["KeyId"] == own["KeyId"]


def test_list_shows_every_pair_and_no_secret(srv: ProcessServer) -> None:
    admin = srv.admin()
    records = [create(srv, "--description", "listed"), create(srv, "--new-account")]
    code, out, err = accesskey(srv, "list")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["AccessKeyId", "AccountId", "Status", "UserName", "Description"]
    for record in [admin, *records]:
        row = next(line for line in lines if line.startswith(record["AccessKeyId"]))
        assert row.split()[1:4] == [record["AccountId"], "Enabled", "-"]  # -: the account's own pair
        assert record["AccessKeySecret"] not in out + err
    assert next(line for line in lines if line.startswith(records[0]["AccessKeyId"])).endswith("listed")


def test_disable_enable_delete_take_effect_on_the_running_server(srv: ProcessServer) -> None:
    record = create(srv)
    ak = record["AccessKeyId"]
    kms = client(srv, record)
    old = client(srv, record, "old")
    kms.call("DescribeRegions")

    code, out, _ = accesskey(srv, "disable", ak)
    assert (code, out.strip()) == (0, f"{ak}: Disabled")
    for c in (kms, old):
        err = api_error(c, "ListKeys")
        assert (err.status, err.code) == (403, "Forbidden.AccessKey")
    listed = accesskey(srv, "list")[1]
    assert next(line for line in listed.splitlines() if line.startswith(ak)).split()[2] == "Disabled"

    code, out, _ = accesskey(srv, "enable", ak)
    assert (code, out.strip()) == (0, f"{ak}: Enabled")
    assert kms.call("ListKeys")["TotalCount"] >= 0
    old.call("ListKeys")

    code, out, _ = accesskey(srv, "delete", ak)
    assert (code, out.strip()) == (0, f"{ak}: deleted")
    for c in (kms, old):
        err = api_error(c, "ListKeys")
        assert (err.status, err.code) == (404, "InvalidAccessKeyId.NotFound")
    assert ak not in accesskey(srv, "list")[1]
    # The other pairs are untouched.
    client(srv, srv.admin()).call("ListKeys")


@pytest.mark.parametrize("command", ["disable", "enable", "delete"])
def test_unknown_access_key_id_is_a_clear_error(srv: ProcessServer, command: str) -> None:
    code, out, err = accesskey(srv, command, "LTAIdoesNotExist0000")
    assert code == 1
    assert out == ""
    assert err == "openkms: LTAIdoesNotExist0000: Specified access key is not found.\n"


def test_unknown_account_is_a_clear_error(srv: ProcessServer) -> None:
    code, out, err = accesskey(srv, "create", "--account", "1234")
    assert code == 1
    assert out == ""
    assert err.startswith("openkms: ")
    assert "No account 1234." in err


def test_account_options_are_exclusive(tmp_path: Path) -> None:
    result = run_openkms("accesskey", "create", "--new-account", "--account", "1", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr
    assert not (tmp_path / "openkms.sqlite3").exists()
