"""A configuration that cannot work stops every command before it touches anything, with one line
that says what is wrong (status 2), never a traceback. Run in-process through ``main`` (the same
code as the ``openkms`` command; the e2e tests run the command itself)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from openkms.cli.main import main


@pytest.fixture(autouse=True)
def no_openkms_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OPENKMS_"):
            monkeypatch.delenv(name)


_KEYSTORE = '[[keystores]]\nid = "kst-1"\nmodule = "/usr/lib/libpkcs11.so"\ntoken_label = "t"\npin_env = "P"\n'


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("this is not toml", "cannot read config file"),
        ('server = "x"', "[server] must be a table"),
        ('[server]\nport = "eighty"', "[server] port must be an integer, not 'eighty'"),
        ("[server]\nport = 70000", "port must be between 0 and 65535, not 70000"),
        ('[server]\nworkers = "two"', "[server] workers must be an integer, not 'two'"),
        ("[server]\nworkers = true", "[server] workers must be an integer, not True"),
        ("[server]\nworkers = 0", "workers must be at least 1"),
        ("[server]\nhost = 5", "[server] host must be a string, not 5"),
        ('[server]\nlog_level = "loud"', "log level must be one of critical, error, warning, info, debug"),
        ('[server]\nlog_level = "trace"', "log level must be one of"),  # trace would log query strings
        ("[storage]\ndata_dir = 5", "[storage] data_dir must be a string, not 5"),
        ('[limits]\nkeys_per_region = "many"', "[limits] keys_per_region must be an integer, not 'many'"),
        ("[limits]\nkeys_per_region = -1", "cannot be negative"),
        ('[scheduler]\ninterval_seconds = "soon"', "[scheduler] interval_seconds must be a number, not 'soon'"),
        ("[scheduler]\ninterval_seconds = 0", "the scheduler interval must be positive"),
        ('[regions]\nregion = "x"', "[[regions.region]] must be a list of tables"),
        ('[[regions.region]]\nname = "no id"', "[[regions.region]] entries need an id"),
        ("[[regions.region]]\nid = 3", "[regions.region] id must be a string, not 3"),
        ('[[regions.region]]\nid = "a-b-1"\nmainland_china = "yes"', "mainland_china must be true or false"),
        ('[[regions.region]]\nid = "a-b-1"', "default region 'cn-hangzhou' is not in the catalogue"),
        ("[regions]\ndefault = 3", "[regions] default must be a string, not 3"),
        ('[hsm]\nretry_seconds = "soon"', "[hsm] retry_seconds must be a number, not 'soon'"),
        ("[hsm]\nretry_seconds = 0", "[hsm] retry_seconds must be positive"),
        ("[hsm]\nretry_seconds = 60\nretry_max_seconds = 10", "retry_max_seconds at least as long"),
        ('http = "fast"', "[http] must be a table"),
        ('[http]\nmax_headers = "many"', "[http] max_headers must be an integer, not 'many'"),
        ("[http]\nmax_header_bytes = 0", "[http] max_header_bytes must be positive, not 0"),
        ("[http]\nmax_body_bytes = 1.5", "[http] max_body_bytes must be an integer, not 1.5"),
        ("[http]\nmax_request_line_bytes = 70000", "max_request_line_bytes can be at most 65535"),
        ('[http]\nrequest_timeout_seconds = "1s"', "[http] request_timeout_seconds must be a number, not '1s'"),
        ("[http]\nkeep_alive_timeout_seconds = -1", "[http] keep_alive_timeout_seconds must be positive"),
        (_KEYSTORE + 'kind = "kmip"', "key store kst-1: unknown kind 'kmip' (known kinds: pkcs11)"),
        (_KEYSTORE + "kind = 5", "[keystores] kind must be a string, not 5"),
    ],
)
@pytest.mark.parametrize("command", [["serve"], ["accesskey", "list"], ["ram", "user", "list"]])
def test_invalid_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, message: str, command: list[str]
) -> None:
    config = tmp_path / "openkms.toml"
    config.write_text(toml)
    data = tmp_path / "data"
    assert main([*command, "--config", str(config), "--data-dir", str(data)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("openkms: configuration error: ")
    assert message in err
    assert err.count("\n") == 1
    assert not data.exists()


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--config", str(tmp_path / "nowhere.toml"), "--data-dir", str(tmp_path / "d")]) == 2
    assert "cannot read config file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("OPENKMS_PORT", "http", "OPENKMS_PORT is not a valid int"),
        ("OPENKMS_WORKERS", "0", "workers must be at least 1"),
        ("OPENKMS_LOG_LEVEL", "verbose", "log level must be one of"),
        ("OPENKMS_ADMIN_ACCESS_KEY_ID", "LTAIonlyTheId", "set both OPENKMS_ADMIN_ACCESS_KEY_ID and"),
        ("OPENKMS_ADMIN_ACCESS_KEY_SECRET", "only-the-secret", "set both OPENKMS_ADMIN_ACCESS_KEY_ID and"),
        ("OPENKMS_ROOT_KEY", "c2hvcnQ=", "OPENKMS_ROOT_KEY: the root key must be 32 bytes"),
        ("OPENKMS_HTTP_MAX_BODY_BYTES", "1MB", "OPENKMS_HTTP_MAX_BODY_BYTES is not a valid int"),
        ("OPENKMS_HTTP_MAX_CONNECTIONS", "0", "[http] max_connections must be positive, not 0"),
        ("OPENKMS_HTTP_REQUEST_TIMEOUT", "soon", "OPENKMS_HTTP_REQUEST_TIMEOUT is not a valid float"),
    ],
)
def test_invalid_environment(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["accesskey", "list", "--data-dir", str(tmp_path / "data")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("openkms: configuration error: ")
    assert message in err
    if variable in ("OPENKMS_ROOT_KEY", "OPENKMS_ADMIN_ACCESS_KEY_SECRET"):
        assert value not in err
    assert not (tmp_path / "data" / "openkms.sqlite3").exists()


@pytest.mark.parametrize("secret", ["a", "fifteen-chars-x"])
def test_a_short_administrator_secret_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], secret: str
) -> None:
    monkeypatch.setenv("OPENKMS_ADMIN_ACCESS_KEY_ID", "LTAIoperatorChosen0001")
    monkeypatch.setenv("OPENKMS_ADMIN_ACCESS_KEY_SECRET", secret)
    assert main(["accesskey", "list", "--data-dir", str(tmp_path / "data")]) == 2
    out, err = capsys.readouterr()
    assert (out, err.count("\n")) == ("", 1)
    assert "OPENKMS_ADMIN_ACCESS_KEY_SECRET must be at least 16 characters" in err
    if len(secret) > 1:  # a one-letter secret is in any message
        assert secret not in err
    monkeypatch.setenv("OPENKMS_ADMIN_ACCESS_KEY_SECRET", "sixteen-chars-xx")
    assert main(["accesskey", "list", "--data-dir", str(tmp_path / "data")]) == 0
