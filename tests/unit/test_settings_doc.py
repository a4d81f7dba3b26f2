"""README.md's configuration section is written from the table of settings (scripts/settings-doc):
it fails here when someone adds, changes or removes an option without running it. And the rest of
the README names only settings that exist: its TOML examples are configurations openkms accepts,
with no key it would ignore, and every OPENKMS_ variable it mentions is an option's."""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from openkms import settings_doc
from openkms.settings import ENTRY_LISTS, OPTIONS, Settings

README = Path(__file__).resolve().parents[2] / "README.md"
TOML_BLOCK = re.compile(r"^```toml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_the_configuration_section_is_up_to_date() -> None:
    readme = README.read_text()
    written = settings_doc.update(readme)
    if written != readme:
        diff = "".join(difflib.unified_diff(readme.splitlines(True), written.splitlines(True), "README.md", "written"))
        pytest.fail(f"README.md does not say what src/openkms/settings.py does: run scripts/settings-doc\n{diff}")


def test_the_script_says_so_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "README.md"
    stale.write_text(README.read_text().replace("`OPENKMS_PORT`", "`OPENKMS_PORT_NUMBER`"))
    monkeypatch.setattr(settings_doc, "README", stale)
    assert settings_doc.main(["settings-doc", "--check"]) == 1
    assert "OPENKMS_PORT_NUMBER" in stale.read_text()
    assert settings_doc.main(["settings-doc"]) == 0
    assert stale.read_text() == README.read_text()
    assert settings_doc.main(["settings-doc", "--check"]) == 0
    assert settings_doc.main(["settings-doc", "--chek"]) == 2


def test_the_script_runs_from_anywhere(tmp_path: Path) -> None:
    script = README.parent / "scripts" / "settings-doc"
    env = {"PATH": os.environ["PATH"], "PYTHON": sys.executable}
    result = subprocess.run([script, "--check"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_readme_without_the_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="settings-doc"):
        settings_doc.update("# openkms\n")


def unknown_keys(doc: dict[str, Any]) -> list[str]:
    """The keys of a TOML document that no option, entry list or table has."""
    known = {(row.table, row.key) for row in OPTIONS if row.table}
    lists = {name: {row.key for row in rows} for name, _, rows in ENTRY_LISTS}
    unknown = []
    for table, body in doc.items():
        if table in lists:
            unknown += [f"[[{table}]] {k}" for entry in body for k in entry if k not in lists[table]]
            continue
        for key, value in body.items():
            if f"{table}.{key}" in lists:
                unknown += [
                    f"[[{table}.{key}]] {k}" for entry in value for k in entry if k not in lists[f"{table}.{key}"]
                ]
            elif (table, key) not in known:
                unknown.append(f"[{table}] {key}")
    return unknown


@pytest.mark.parametrize("block", TOML_BLOCK.findall(README.read_text()))
def test_every_toml_example_is_a_configuration_openkms_accepts(tmp_path: Path, block: str) -> None:
    assert unknown_keys(tomllib.loads(block)) == []
    config = tmp_path / "openkms.toml"
    config.write_text(block)
    Settings.load(env={}, config_file=config, data_dir=tmp_path / "data")


def test_the_unknown_keys_are_found() -> None:
    doc = {"server": {"port": 1, "prot": 2}, "keystores": [{"id": "k", "pin": "1"}], "regions": {"region": [{"ip": 1}]}}
    assert unknown_keys(doc) == ["[server] prot", "[[keystores]] pin", "[[regions.region]] ip"]


# Read by a command that is a client of a running server (`openkms secret`), not by the server.
CLIENT_VARIABLES = {"OPENKMS_ENDPOINT"}


def test_every_variable_the_readme_names_is_an_option() -> None:
    prose = TOML_BLOCK.sub("", README.read_text())  # a TOML example may name a PIN's variable
    named = set(re.findall(r"\bOPENKMS_[A-Z0-9_]*[A-Z0-9]\b", prose))
    assert named - {row.env for row in OPTIONS} - CLIENT_VARIABLES == set()
