"""Running ``openkms`` administration commands in-process through ``main`` (the same code as the
command), against one data directory, with what they print."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from openkms.cli import admin
from openkms.cli.main import main
from openkms.service.container import Services


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert (self.code, self.err) == (0, ""), self.err
        return json.loads(self.out)  # the whole of stdout is one JSON document

    def rows(self) -> list[list[str]]:
        """A table's lines, split into cells (the header first)."""
        assert (self.code, self.err) == (0, ""), self.err
        return [line.split() for line in self.out.splitlines()]


@dataclass
class Cli:
    data_dir: Path
    capsys: pytest.CaptureFixture[str]

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()
        code = main([*args, "--data-dir", str(self.data_dir)])
        out, err = self.capsys.readouterr()
        return Result(code, out, err)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert (result.code, result.err) == (0, ""), result.err
        return result

    def refused(self, *args: str) -> str:
        """A refused operation: status 1, nothing on stdout, one line on stderr (returned)."""
        result = self(*args)
        assert (result.code, result.out) == (1, ""), result
        assert result.err.startswith("openkms: ")
        assert result.err.endswith("\n")
        assert result.err.count("\n") == 1
        return result.err

    @contextmanager
    def services(self) -> Iterator[Services]:
        """The services over the same data directory, as the commands build them."""
        with admin.services(argparse.Namespace(data_dir=self.data_dir, config=None)) as s:
            yield s


def clear_openkms_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OPENKMS_"):
            monkeypatch.delenv(name)
