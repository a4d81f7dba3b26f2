"""Audit trails in tests: reading a server's events (every chain, as ActionTrail dicts), and a
real small file system to fill up."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openkms.audit import files


def events(directory: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if not directory.exists():
        return found
    for chain in files.chains(directory):
        for _, segment in files.segments(chain):
            for line in segment.read_bytes().splitlines():
                found.append(json.loads(line)["event"])
    return found


def by_request(directory: Path, request_id: str) -> list[dict[str, Any]]:
    return [e for e in events(directory) if e["requestId"] == request_id]


def one_event(directory: Path, request_id: str) -> dict[str, Any]:
    found = by_request(directory, request_id)
    assert len(found) == 1, f"{len(found)} events for request {request_id}"
    return found[0]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a 1 MiB tmpfs needs root")
    where = tmp_path / "small"
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)


def fill(where: Path, leave: int) -> Path:
    """Fill the file system but for about ``leave`` bytes."""
    filler = where / "filler"
    free = os.statvfs(where).f_bavail * os.statvfs(where).f_frsize
    with filler.open("wb") as fh, contextlib.suppress(OSError):
        fh.write(b"\0" * max(free - leave, 0))
    return filler
