"""The table of settings (openkms/settings.py): one row per option, and the file, the environment
and the checks all follow from it. The messages of bad settings: tests/unit/cli/test_configuration_errors.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openkms import settings as settings_module
from openkms.bootstrap import audit_mode
from openkms.settings import KEYSTORE_OPTIONS, OPTIONS, REGION_OPTIONS, Settings, SettingsError
from openkms.settings_options import BOOL, FLOAT, INT, PATH, STR, Option, literal, option

# Every variable openkms read before the table, with the field it sets: their names stay.
EXISTING_VARIABLES = {
    "OPENKMS_CONFIG": "config_file",
    "OPENKMS_DATA_DIR": "data_dir",
    "OPENKMS_HOST": "host",
    "OPENKMS_PORT": "port",
    "OPENKMS_WORKERS": "workers",
    "OPENKMS_DATABASE_URL": "database_url",
    "OPENKMS_DEFAULT_REGION": "default_region",
    "OPENKMS_LOG_LEVEL": "log_level",
    "OPENKMS_ROOT_KEY": "root_key",
    "OPENKMS_ADMIN_ACCESS_KEY_ID": "admin_access_key_id",
    "OPENKMS_ADMIN_ACCESS_KEY_SECRET": "admin_access_key_secret",
    "OPENKMS_KEYS_PER_REGION": "keys_per_region",
    "OPENKMS_SCHEDULER_INTERVAL": "scheduler_interval",
    "OPENKMS_RSA_POOL_SIZE": "rsa_pool_size",
    "OPENKMS_VERSION_SPACING_DAYS": "version_spacing_days",
    "OPENKMS_HTTP_MAX_REQUEST_LINE_BYTES": "http_max_request_line_bytes",
    "OPENKMS_HTTP_MAX_HEADER_BYTES": "http_max_header_bytes",
    "OPENKMS_HTTP_MAX_HEADERS": "http_max_headers",
    "OPENKMS_HTTP_MAX_BODY_BYTES": "http_max_body_bytes",
    "OPENKMS_HTTP_REQUEST_TIMEOUT": "http_request_timeout",
    "OPENKMS_HTTP_KEEP_ALIVE_TIMEOUT": "http_keep_alive_timeout",
    "OPENKMS_HTTP_MAX_CONNECTIONS": "http_max_connections",
}
# Names that are not OPENKMS_<TABLE>_<KEY>: those above, and OPENKMS_ALIASES_PER_REGION (beside
# OPENKMS_KEYS_PER_REGION). Any other option is named by the rule.
# OPENKMS_METRICS_TOKEN: a secret, in no table of the file, named for the table it serves.
IRREGULAR = set(EXISTING_VARIABLES) | {"OPENKMS_ALIASES_PER_REGION", "OPENKMS_METRICS_TOKEN"}


def sample(row: Option) -> tuple[Any, str]:
    """A value for ``row`` other than its default, and the text that says it in the environment."""
    samples: dict[object, tuple[Any, str]] = {
        INT: (7, "7"),
        FLOAT: (2.5, "2.5"),
        STR: ("x-1", "x-1"),
        PATH: (Path("/srv/x"), "/srv/x"),
        BOOL: (not row.default, "false" if row.default else "true"),
    }
    return samples[row.kind]


def test_every_option_is_one_row() -> None:
    names = [row.name for row in OPTIONS]
    assert len(set(names)) == len(names)
    variables = [row.env for row in OPTIONS]
    assert len(set(variables)) == len(variables)
    places = [(row.table, row.key) for row in OPTIONS if row.table]
    assert len(set(places)) == len(places)
    # Every field of Settings is a row, but for the [[...]] lists (their own rows).
    assert set(Settings.__dataclass_fields__) - set(names) == {"regions", "keystores", "quota_overrides"}
    for row in OPTIONS:
        assert row.env, row.name
        assert row.doc, row.name
        assert row.kind in (INT, FLOAT, STR, PATH, BOOL)
        if row.secret:  # secrets come from the environment only, and are never shown
            assert row.table is None
            assert not Settings.__dataclass_fields__[row.name].repr
    for row in (*KEYSTORE_OPTIONS, *REGION_OPTIONS):
        assert row.env is None
        assert row.doc
        assert row.table


@pytest.mark.parametrize("row", [row for row in OPTIONS if row.env not in IRREGULAR], ids=lambda row: row.name)
def test_a_new_variable_is_named_by_its_table_and_key(row: Option) -> None:
    assert row.env == f"OPENKMS_{row.table}_{row.key}".upper().replace(".", "_")


@pytest.mark.parametrize(("variable", "name"), EXISTING_VARIABLES.items())
def test_every_existing_variable_keeps_its_name(variable: str, name: str) -> None:
    (row,) = (row for row in OPTIONS if row.env == variable)
    assert row.name == name


@pytest.mark.parametrize("row", [row for row in OPTIONS if row.table], ids=lambda row: row.name)
def test_the_file_and_the_environment_say_the_same(tmp_path: Path, row: Option) -> None:
    value, text = sample(row)
    assert value != row.default
    config = tmp_path / "openkms.toml"
    config.write_text(f"[{row.table}]\n{row.key} = {literal(value)}\n")
    from_file = settings_module._apply_file(Settings(), config)
    from_env = settings_module._apply_env(Settings(), {row.env or "": text})
    assert getattr(from_file, row.name) == getattr(from_env, row.name) == value


@pytest.mark.parametrize(
    ("variable", "text", "name", "value"),
    [
        ("OPENKMS_ALIASES_PER_REGION", "12", "aliases_per_region", 12),
        ("OPENKMS_HSM_DEFAULT_KEYSTORE", "kst-1", "default_hsm_keystore", "kst-1"),
        ("OPENKMS_HSM_AUTO_SOFTHSM", "false", "auto_softhsm", False),
        ("OPENKMS_HSM_AUTO_SOFTHSM", "0", "auto_softhsm", False),
        ("OPENKMS_HSM_AUTO_SOFTHSM", "True", "auto_softhsm", True),
        ("OPENKMS_HSM_ROOT_KEY_KEYSTORE", "kst-1", "root_key_keystore", "kst-1"),
        ("OPENKMS_HSM_RETRY_SECONDS", "1.5", "hsm_retry_seconds", 1.5),
        ("OPENKMS_HSM_RETRY_MAX_SECONDS", "60", "hsm_retry_max_seconds", 60.0),
    ],
)
def test_the_new_variables(tmp_path: Path, variable: str, text: str, name: str, value: object) -> None:
    config = tmp_path / "openkms.toml"
    config.write_text('[[keystores]]\nid = "kst-1"\nmodule = "/m.so"\ntoken_label = "t"\npin_env = "P"\n')
    s = Settings.load(env={"OPENKMS_CONFIG": str(config), variable: text}, data_dir=tmp_path / "data")
    assert getattr(s, name) == value


def test_a_new_variable_that_cannot_work() -> None:
    with pytest.raises(SettingsError, match=r"^OPENKMS_HSM_AUTO_SOFTHSM is not a valid bool$"):
        Settings.load(env={"OPENKMS_HSM_AUTO_SOFTHSM": "maybe"})
    with pytest.raises(SettingsError, match=r"^\[limits\] aliases_per_region cannot be negative, not -1$"):
        Settings.load(env={"OPENKMS_ALIASES_PER_REGION": "-1"})


def test_the_environment_wins_over_the_file_and_the_command_line_over_both(tmp_path: Path) -> None:
    config = tmp_path / "openkms.toml"
    config.write_text("[server]\nport = 1\nworkers = 3\nhost = '10.0.0.1'\n")
    s = Settings.load(env={"OPENKMS_CONFIG": str(config), "OPENKMS_PORT": "2", "OPENKMS_WORKERS": "4"}, workers=5)
    assert (s.host, s.port, s.workers, s.config_file) == ("10.0.0.1", 2, 5, config)
    other = tmp_path / "other.toml"
    other.write_text("")
    assert Settings.load(env={"OPENKMS_CONFIG": str(config)}, config_file=other).config_file == other


def test_secrets_are_never_read_from_the_file_nor_shown(tmp_path: Path) -> None:
    config = tmp_path / "openkms.toml"
    secrets = {row.name: "s3cret-value-of-the-test" for row in OPTIONS if row.secret}
    lines = [f'{name} = "x"' for name in secrets]
    config.write_text("\n".join([*lines, "[server]", *lines, "[storage]", *lines]))
    assert all(getattr(Settings.load(env={}, config_file=config), name) is None for name in secrets)
    assert "s3cret" not in repr(Settings(**secrets))


def test_an_option_that_cannot_be_read_is_refused_where_it_is_declared() -> None:
    with pytest.raises(ValueError, match="needs its variable"):
        option(1, None, "Read from nowhere.")
    with pytest.raises(ValueError, match="never read from the file"):
        option("", "server.password", "A secret in the file.", secret=True)


def test_production_makes_the_audit_trail_fail_closed_unless_set_otherwise(tmp_path: Path) -> None:
    config = tmp_path / "openkms.toml"
    config.write_text("[server]\nproduction = true\n")
    assert audit_mode(Settings.load(env={}, config_file=config)) == "fail-closed"
    assert audit_mode(Settings.load(env={})) == "best-effort"
    config.write_text('[server]\nproduction = true\n[audit]\nmode = "best-effort"\n')
    assert audit_mode(Settings.load(env={}, config_file=config)) == "best-effort"
    config.write_text('[server]\nproduction = true\n[audit]\nmode = "off"\n')
    with pytest.raises(SettingsError, match="production"):
        Settings.load(env={}, config_file=config)
