"""``openkms ram ...`` and ``openkms accesskey create --user`` beside a running ``openkms serve``: a
user, a policy and the user's pair made from the command line sign requests the policy allows, are
refused (403 Forbidden.RAM) the others, and every change applies to the server's next request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.clients import ApiError, Kms
from tests.servers import ProcessServer, process_server, run_openkms

ENCRYPT_DECRYPT = {
    "Version": "1",
    "Statement": [{"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}],
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessServer]:
    with process_server(tmp_path_factory.mktemp("ram") / "data") as server:
        yield server


def openkms(srv: ProcessServer, *args: str) -> tuple[int, str, str]:
    result = run_openkms(*args, "--data-dir", str(srv.data_dir))
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout, result.stderr


def ok(srv: ProcessServer, *args: str) -> str:
    code, out, err = openkms(srv, *args)
    assert (code, err) == (0, ""), err
    return out


def refused(kms: Kms, action: str, **params: str) -> None:
    with pytest.raises(ApiError) as err:
        kms.call(action, **params)
    assert (err.value.status, err.value.code) == (403, "Forbidden.RAM"), err.value


def test_a_user_made_by_the_cli_may_do_what_its_policy_allows(srv: ProcessServer, tmp_path: Path) -> None:
    admin = srv.admin()
    key_id = Kms("new-v3", srv.endpoint, admin["AccessKeyId"], admin["AccessKeySecret"]).call("CreateKey")[
        "KeyMetadata"
    ]["KeyId"]

    ok(srv, "ram", "user", "create", "app", "--display-name", "the app")
    document = tmp_path / "encrypt-decrypt.json"
    document.write_text(json.dumps(ENCRYPT_DECRYPT))
    ok(srv, "ram", "policy", "create", "encrypt-decrypt", "--document", str(document))
    ok(srv, "ram", "policy", "attach", "encrypt-decrypt", "--user", "app")
    pair = json.loads(ok(srv, "accesskey", "create", "--user", "app"))
    assert (pair["AccountId"], pair["UserName"]) == (admin["AccountId"], "app")
    listed = ok(srv, "accesskey", "list")
    assert next(line for line in listed.splitlines() if line.startswith(pair["AccessKeyId"])).split()[3] == "app"

    for mode in ("new-v3", "old"):
        app = Kms(mode, srv.endpoint, pair["AccessKeyId"], pair["AccessKeySecret"])
        blob = app.call("Encrypt", KeyId=key_id, Plaintext="for the app")["CiphertextBlob"]
        assert app.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "for the app"
        refused(app, "CreateKey")
        refused(app, "ListKeys")
        refused(app, "DescribeKey", KeyId=key_id)

    # Changes apply to the server's next request.
    app = Kms("new-v3", srv.endpoint, pair["AccessKeyId"], pair["AccessKeySecret"])
    ok(srv, "ram", "policy", "detach", "encrypt-decrypt", "--user", "app")
    refused(app, "Encrypt", KeyId=key_id, Plaintext="no longer")
    ok(srv, "ram", "policy", "attach", "AliyunKMSFullAccess", "--user", "app")
    made = app.call("CreateKey")["KeyMetadata"]
    assert made["Creator"] == admin["AccountId"]  # the account's key, made by its user
    assert app.call("Encrypt", KeyId=key_id, Plaintext="again")["KeyId"] == key_id


def test_a_user_with_a_pair_cannot_be_deleted_until_the_pair_is(srv: ProcessServer) -> None:
    ok(srv, "ram", "user", "create", "temp")
    pair = json.loads(ok(srv, "accesskey", "create", "--user", "temp"))
    code, out, err = openkms(srv, "ram", "user", "delete", "temp")
    assert (code, out) == (1, "")
    assert (
        err == "openkms: DeleteConflict.User.AccessKey: The user CAN NOT has any access key while deleting the user.\n"
    )
    ok(srv, "accesskey", "delete", pair["AccessKeyId"])
    with pytest.raises(ApiError) as gone:
        Kms("new-v3", srv.endpoint, pair["AccessKeyId"], pair["AccessKeySecret"]).call("ListKeys")
    assert gone.value.code == "InvalidAccessKeyId.NotFound"
    assert ok(srv, "ram", "user", "delete", "temp") == "temp: deleted\n"
    users = json.loads(ok(srv, "ram", "user", "list", "--json"))
    assert "temp" not in [u["UserName"] for u in users]
