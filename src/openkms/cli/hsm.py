"""``openkms hsm``: administration of the HSM key stores (their PKCS#11 tokens)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from openkms.cli import admin
from openkms.service.reconcile import DEFAULT_GRACE_SECONDS, Reconciliation


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p_hsm = sub.add_parser("hsm", help="administer the HSM key stores")
    hsm_sub = p_hsm.add_subparsers(dest="hsm_command", required=True)
    p_rec = hsm_sub.add_parser(
        "reconcile", help="report token objects that no database row references (orphans); --destroy removes them"
    )
    p_rec.add_argument("--data-dir", type=Path, help="data directory (default ./openkms-data, or OPENKMS_DATA_DIR)")
    p_rec.add_argument("--config", type=Path, help="TOML configuration file (or OPENKMS_CONFIG)")
    p_rec.add_argument(
        "--destroy",
        action="store_true",
        help="destroy the orphans found at a first look that are still orphans at a second look, --grace later",
    )
    p_rec.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE_SECONDS,
        metavar="SECONDS",
        help="how long an object must stay an orphan before --destroy takes it, so that a CreateKey under "
        f"way keeps its object (default {DEFAULT_GRACE_SECONDS:g})",
    )
    p_rec.set_defaults(func=reconcile)


def reconcile(args: argparse.Namespace) -> int:
    """Prints one line per key store, then every orphan's name. Exit status 0 when every store
    was checked, 1 when one could not be (unreachable), 2 for a configuration error."""
    if args.grace < 0:
        sys.stderr.write("openkms: --grace cannot be negative\n")
        return 2
    with admin.services(args) as s:
        if args.destroy:
            sys.stderr.write(
                f"openkms: looking twice, {args.grace:g} s apart: only objects orphaned at both looks are destroyed\n"
            )
            result = s.reconcile.destroy_orphans(args.grace, time.sleep)
        else:
            result = s.reconcile.look()
    _print(result)
    return 0 if result.complete else 1


def _print(result: Reconciliation) -> None:
    if not result.stores:
        sys.stdout.write("no HSM key store is configured\n")
    for report in result.stores:
        sys.stdout.write(report.summary(names=0) + "\n")
        for obj in report.destroyed:
            sys.stdout.write(f"  destroyed  {obj.label}\n")
        for obj in report.orphans:
            sys.stdout.write(f"  orphan     {obj.label}\n")
