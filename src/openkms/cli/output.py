"""How the administration commands answer: a table for people by default, JSON (``--json``) for
scripts, and a refusal as one line on stderr.

A command builds records (dicts named as the API names the fields); the table shows some of their
fields as columns, and ``--json`` prints the records whole.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from openkms.domain import errors

Record = Mapping[str, Any]


def iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"  # an empty cell would shift the columns that follow it
    return str(value)


def table(columns: Sequence[str], records: Sequence[Record]) -> None:
    """One header line, then one line a record; every column but the last padded to its widest."""
    rows = [list(columns), *([_cell(r.get(c)) for c in columns] for r in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns) - 1)]
    for row in rows:
        padded = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        sys.stdout.write(" ".join([*padded, row[-1]]).rstrip() + "\n")


def write_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2)
    sys.stdout.write("\n")


def show(records: Sequence[Record], columns: Sequence[str], as_json: bool) -> None:
    """A listing: a JSON array of the records, or a table of their ``columns``."""
    if as_json:
        write_json([dict(r) for r in records])
    else:
        table(columns, records)


def show_one(record: Record, columns: Sequence[str], as_json: bool) -> None:
    """One record: a JSON object, or a table of one row."""
    if as_json:
        write_json(dict(record))
    else:
        table(columns, [record])


def ram_code(exc: errors.KmsError) -> str:
    """The RAM API's code for a RAM refusal, built from the error's data as protocol/errors.py
    builds it on the wire (the command line does not import the protocol); empty for others."""
    if isinstance(exc, errors.RamError):
        return f"{exc.family}.{exc.entity}"
    if isinstance(exc, errors.RamInvalidParameter):
        return f"InvalidParameter.{exc.parameter}{exc.rule_suffix}"
    if isinstance(exc, errors.MalformedPolicyDocument):
        return "MalformedPolicyDocument"
    return ""


def fail(exc: errors.KmsError, subject: str = "") -> int:
    """A refused operation: one line on stderr (the RAM code first, for a RAM refusal), status 1."""
    parts = [part for part in (subject, ram_code(exc), exc.message) if part]
    line = ": ".join(parts).replace("\n", " ")
    sys.stderr.write(f"openkms: {line}\n")
    return 1


def usage(message: str) -> int:
    """A command line that cannot work as given (status 2, as argparse's own usage errors)."""
    sys.stderr.write(f"openkms: {message}\n")
    return 2
