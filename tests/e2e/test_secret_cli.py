"""``openkms secret get|put|list`` against a running server, as a script would run them: the pair
from the environment, only the value on stdout, a refusal as one line with its Alibaba code."""

from __future__ import annotations

import json
import os

import pytest

from openkms.cli.main import main
from tests.e2e.clients import Kms
from tests.servers import InProcessServer, inprocess_server


@pytest.fixture
def account(server: InProcessServer, monkeypatch: pytest.MonkeyPatch) -> Kms:
    ak, secret, _ = server.new_account()
    for name in list(os.environ):
        if name.startswith(("OPENKMS_", "ALIBABA_CLOUD_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", ak)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
    monkeypatch.setenv("OPENKMS_ENDPOINT", server.endpoint)
    return Kms("new", server.endpoint, ak, secret)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["secret", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_get_prints_only_the_value(account: Kms, capsys: pytest.CaptureFixture[str]) -> None:
    account.call("CreateSecret", SecretName="orders-db", VersionId="v1", SecretData="pa ss\nword")
    assert _run(capsys, "get", "orders-db") == (0, "pa ss\nword", "")
    code, out, _ = _run(capsys, "get", "orders-db", "--json")
    assert code == 0
    found = json.loads(out)
    assert (found["SecretData"], found["VersionId"]) == ("pa ss\nword", "v1")


def test_put_makes_a_new_current_version(
    account: Kms, capsys: pytest.CaptureFixture[str], tmp_path: os.PathLike[str]
) -> None:
    account.call("CreateSecret", SecretName="token", VersionId="v1", SecretData="one")
    code, out, err = _run(capsys, "put", "token", "--value", "two", "--version-id", "v2")
    assert (code, err) == (0, "")
    assert out == "token: version v2 (ACSCurrent)\n"
    assert _run(capsys, "get", "token") == (0, "two", "")
    assert _run(capsys, "get", "token", "--version-stage", "ACSPrevious") == (0, "one", "")
    path = os.path.join(tmp_path, "value.txt")
    with open(path, "w") as f:
        f.write("three")
    assert _run(capsys, "put", "token", "--value-file", path)[0] == 0  # a version id of its own
    assert _run(capsys, "get", "token") == (0, "three", "")


def test_list_shows_names_never_values(account: Kms, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("alpha", "beta"):
        account.call("CreateSecret", SecretName=name, VersionId="v1", SecretData="hidden-value")
    code, out, _ = _run(capsys, "list", "--json")
    assert code == 0
    assert sorted(row["SecretName"] for row in json.loads(out)) == ["alpha", "beta"]
    code, out, _ = _run(capsys, "list")
    assert code == 0
    assert out.splitlines()[0].split() == ["SecretName", "SecretType", "CreateTime", "PlannedDeleteTime"]
    assert "hidden-value" not in out


def test_a_refusal_is_one_line_with_the_code(account: Kms, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "get", "no-such-secret")
    assert (code, out) == (1, "")
    assert err.startswith("openkms: Forbidden.ResourceNotFound: ")
    assert err.count("\n") == 1


def test_without_credentials_it_says_which_variables(
    account: Kms, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    code, _, err = _run(capsys, "list")
    assert code == 1
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in err


def test_get_over_https_with_the_local_ca(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with inprocess_server(tmp_path_factory.mktemp("cli-tls") / "data", tls=True) as srv:
        ak, secret, _ = srv.new_account()
        Kms("new", srv.endpoint, ak, secret).call("CreateSecret", SecretName="api-token", VersionId="v1",
                                                  SecretData="over-tls")  # fmt: skip
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", ak)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
        url = f"https://{srv.tls_endpoint}/"
        assert _run(capsys, "get", "api-token", "--endpoint", url, "--ca-file", str(srv.ca_file)) == (0, "over-tls", "")
        code, _, err = _run(capsys, "get", "api-token", "--endpoint", url)  # the local CA is not trusted by default
        assert code == 1
        assert "CERTIFICATE_VERIFY_FAILED" in err
