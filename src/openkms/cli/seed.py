"""``openkms seed export``: a running dev server's data as a seed file (docs/SEED.md).

    openkms seed export --out tests/seed.toml

Through the control API (``GET /_openkms/seed``), signed like ``openkms dev``: only the
administrator's own pair, and only a dev server, which answers with its material in clear.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from openkms.cli.dev_control import connection_options, control_client
from openkms.cli.remote import RemoteError
from openkms.seedfile import writer


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p_seed = sub.add_parser("seed", help="seed files of dev servers (docs/SEED.md)")
    ssub = p_seed.add_subparsers(dest="seed_command", required=True)
    p_export = ssub.add_parser("export", help="write a running dev server's data as a seed file")
    connection_options(p_export)
    p_export.add_argument("--out", type=Path, help="the file to write, mode 0600 (default: standard output)")
    p_export.set_defaults(func=export)


def export(args: argparse.Namespace) -> int:
    try:
        answer = control_client(args).call("GET", "/seed")
    except RemoteError as exc:
        sys.stderr.write(f"openkms seed export: {exc}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"openkms seed export: cannot reach {args.endpoint}: {exc}\n")
        return 1
    text = writer.dumps(answer["Seed"])
    for key_id in answer.get("SkippedKeys", []):
        sys.stderr.write(f"openkms seed export: key {key_id} left out (not a software key with material)\n")
    if args.out is None:
        sys.stdout.write(text)
        return 0
    # Key material in clear: readable by its owner only, as the administrator's credentials file is.
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    sys.stderr.write(f"openkms seed export: wrote {args.out}\n")
    return 0
