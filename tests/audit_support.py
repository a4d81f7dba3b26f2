"""Reading a server's audit trail in tests: every event of every chain, as ActionTrail dicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
