"""The restore drill (``scripts/restore-drill``): back up a running openkms's PostgreSQL database
with pg_dump, restore it into a fresh database, start ``openkms serve`` on it under the same root
of trust (a fresh data directory otherwise), and prove that what was there before the backup is
there after: keys, versions, aliases and secrets, ciphertexts made before the backup, refusals.

It exits 0 only when every check passed, 1 when one failed or a step could not run, 2 on a usage
error. It prints no secret: not the root key, not the AccessKey, not a plaintext or secret value
(those are compared by SHA-256), not the database password.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from openkms.bootstrap import ROOT_KEY_FILE
from openkms.cli import drill_inventory, drill_pg, drill_verify
from openkms.cli.drill_node import start_node
from openkms.cli.drill_pg import Database, DrillError
from openkms.cli.remote import RemoteClient, RemoteError, client_from
from openkms.crypto.sealing import decode_root_key
from openkms.settings import Settings, SettingsError

ADMIN_CREDENTIALS = "admin-credentials.json"
TOKEN_DIR = "softhsm"  # noqa: S105 - a directory name: openkms's own SoftHSM2 token (crypto/softhsm.py)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="restore-drill",
        description="Back up a running openkms's PostgreSQL database, restore it into a fresh database, "
        "start openkms on it and prove that the data opens under the same root of trust.",
    )
    p.add_argument(
        "--endpoint", required=True, help="the live node's API, e.g. http://10.0.0.5:8080 (canaries, inventory)"
    )
    p.add_argument("--ca-file", type=Path, help="CA certificate for an https endpoint")
    p.add_argument("--region", help="the RegionId whose keys and secrets are checked (default: the server's)")
    p.add_argument("--credentials", type=Path, help="AccessKey JSON file (default: OPENKMS_ACCESS_KEY_ID/SECRET, "
                   "else DATA_DIR/admin-credentials.json)")  # fmt: skip
    p.add_argument("--config", type=Path, help="the live node's TOML configuration (or OPENKMS_CONFIG)")
    p.add_argument("--data-dir", type=Path, help="the live node's data directory (or OPENKMS_DATA_DIR)")
    p.add_argument("--database-url", help="the live database (or OPENKMS_DATABASE_URL, or the configuration's)")
    p.add_argument("--root-key-file", type=Path, help="the root key (as in DATA_DIR/root.key) to restore under; "
                   "default: OPENKMS_ROOT_KEY, [hsm] root_key_keystore, else DATA_DIR/root.key")  # fmt: skip
    p.add_argument("--ciphertexts", type=Path, help="JSON lines of old ciphertexts to decrypt: "
                   '{"CiphertextBlob": ..., "PlaintextSha256": ..., "EncryptionContext": {...}}')  # fmt: skip
    p.add_argument(
        "--restore-url", help="the fresh database to create (default: <live name>_drill_<time>, same server)"
    )
    p.add_argument("--maintenance-db", default="postgres", help="where createdb/dropdb connect (default postgres)")
    p.add_argument("--backup-file", type=Path, help="keep the dump here (default: a temporary file, removed)")
    p.add_argument("--keep", action="store_true", help="keep the restored database and the drill's directory")
    return p


@dataclass(frozen=True)
class Plan:
    live: Database
    restored: Database
    settings: Settings  # the live node's, as its configuration and environment give them
    root_env: dict[str, str]  # what the restored node is given (OPENKMS_ROOT_KEY), never printed
    root_files: tuple[Path, ...]  # copied into the drill's data directory (root.key, the SoftHSM2 token)
    root_shown: str


def _root_of_trust(args: argparse.Namespace, settings: Settings) -> tuple[dict[str, str], list[Path], str]:
    """How the restored node unseals: the same root key or key store as the live node."""
    if args.root_key_file is not None:
        try:
            text = args.root_key_file.read_text().strip()
            decode_root_key(text)
        except OSError as exc:
            raise DrillError(f"cannot read the root key file {args.root_key_file}: {exc.strerror}") from None
        except ValueError as exc:
            raise DrillError(f"{args.root_key_file}: {exc}") from None
        return {"OPENKMS_ROOT_KEY": text}, [], f"the root key in {args.root_key_file}"
    if settings.root_key:
        return {"OPENKMS_ROOT_KEY": settings.root_key}, [], "OPENKMS_ROOT_KEY (from this environment)"
    if settings.root_key_keystore:
        return {}, [], f"the key store {settings.root_key_keystore} ([hsm] root_key_keystore)"
    if (settings.data_dir / ROOT_KEY_FILE).is_file():
        return {}, [settings.data_dir / ROOT_KEY_FILE], f"{settings.data_dir / ROOT_KEY_FILE} (a copy is used)"
    raise DrillError(
        "no root of trust: give --root-key-file, set OPENKMS_ROOT_KEY, configure [hsm] root_key_keystore "
        f"(--config), or point --data-dir at the node's data directory (no {ROOT_KEY_FILE} in {settings.data_dir})"
    )


def plan(args: argparse.Namespace) -> Plan:
    try:
        settings = Settings.load(config_file=args.config, data_dir=args.data_dir, database_url=args.database_url)
    except SettingsError as exc:
        raise DrillError(f"the live node's settings: {exc}") from None
    if not settings.database_url:
        raise DrillError("no live database: give --database-url (or OPENKMS_DATABASE_URL, or --config)")
    live = Database.parse(settings.database_url)
    restored = (
        Database.parse(args.restore_url)
        if args.restore_url
        else live.named(f"{live.name}_drill_{time.strftime('%Y%m%d%H%M%S')}")
    )
    if restored.shown == live.shown:
        raise DrillError("the database to restore into is the live database")
    root_env, files, shown = _root_of_trust(args, settings)
    if (settings.data_dir / TOKEN_DIR).is_dir():
        files.append(settings.data_dir / TOKEN_DIR)
    return Plan(live, restored, settings, root_env, tuple(files), shown)


def credentials(args: argparse.Namespace, settings: Settings) -> RemoteClient:
    file = args.credentials
    if file is None and (settings.data_dir / ADMIN_CREDENTIALS).is_file():
        file = settings.data_dir / ADMIN_CREDENTIALS
    try:
        client = client_from(args.endpoint, None, None, file, args.region)
    except RemoteError as exc:
        raise DrillError(exc.message) from None
    except (OSError, ValueError, KeyError):
        raise DrillError(f"cannot read an AccessKeyId and AccessKeySecret from {file}") from None
    return replace(client, ca_file=args.ca_file)


class Reported(DrillError):
    """A step failed and the report already says why."""


class Report:
    def __init__(self) -> None:
        self.failed = 0

    def line(self, status: str, text: str) -> None:
        print(f"{status:<5} {text}", flush=True)

    def check(self, check: drill_verify.Check) -> None:
        if check.failures:
            self.failed += 1
            self.line("FAIL", f"{check.name}: {len(check.failures)} wrong")
            for failure in check.failures:
                print(f"        {failure}", flush=True)
        else:
            self.line("ok", f"{check.name}: {check.detail}" if check.detail else check.name)


@contextmanager
def _step(report: Report, text: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    except DrillError as exc:
        report.line("FAIL", f"{text}: {exc}")
        raise Reported from None
    except RemoteError as exc:
        report.line("FAIL", f"{text}: {exc.code} (HTTP {exc.status}): {exc.message}")
        raise Reported from None
    report.line("ok", f"{text} ({time.monotonic() - started:.2f} s)")


def _work_dir(args: argparse.Namespace, stack: ExitStack) -> Path:
    work = Path(tempfile.mkdtemp(prefix="openkms-restore-drill-"))
    if args.keep:
        print(f"      the drill's directory (kept): {work}", flush=True)
    else:
        stack.callback(shutil.rmtree, work, True)
    return work


def _copy_root_files(files: tuple[Path, ...], data: Path) -> None:
    data.mkdir(mode=0o700)
    for path in files:
        if path.is_dir():
            shutil.copytree(path, data / path.name)
        else:
            shutil.copy2(path, data / path.name)


def drill(args: argparse.Namespace, report: Report) -> None:
    the = plan(args)
    print("openkms restore drill", flush=True)
    print(f"      live database:  {the.live.shown}", flush=True)
    print(f"      restore into:   {the.restored.shown}", flush=True)
    print(f"      root of trust:  {the.root_shown}", flush=True)
    live = credentials(args, the.settings)
    old = drill_inventory.read_ciphertexts(args.ciphertexts) if args.ciphertexts else []
    with _step(report, "inventory of the live node"):
        inv = drill_inventory.take(live)
    counts = f"{len(inv.keys)} keys, {inv.version_count} versions, {len(inv.aliases)} aliases"
    report.line("", f"{counts}, {len(inv.secrets)} secret versions")
    with _step(report, "canaries made on the live node"):
        drill_inventory.make_canaries(live, inv)
    report.line("", f"{len(inv.canaries)} canaries")
    with ExitStack() as stack:
        work = _work_dir(args, stack)
        backup = args.backup_file or work / "openkms.dump"
        with _step(report, "pg_dump --format=custom"):
            drill_pg.dump(the.live, backup)
        report.line("", f"{backup.stat().st_size / 1024:.1f} KiB in {backup}")
        with _step(report, f"createdb {the.restored.name}"):
            drill_pg.create(the.restored, args.maintenance_db)
        if not args.keep:
            stack.callback(drill_pg.drop, the.restored, args.maintenance_db)
        with _step(report, "pg_restore"):
            drill_pg.restore(the.restored, backup)
        _copy_root_files(the.root_files, work / "data")
        with _step(report, "openkms serve on the restored database answered"):
            endpoint = stack.enter_context(start_node(the.restored, the.root_env, args.config, work))
        restored = replace(live, endpoint=endpoint, ca_file=None)
        for check in _checks(restored, inv, old):
            report.check(check)


def _checks(
    client: RemoteClient, inv: drill_inventory.Inventory, old: list[drill_inventory.Canary]
) -> Iterator[drill_verify.Check]:
    yield drill_verify.keys(client, inv)
    yield drill_verify.aliases(client, inv)
    yield drill_verify.secrets(client, inv)
    yield drill_verify.canaries(client, inv.canaries, "canaries made before the backup")
    if old:
        yield drill_verify.canaries(client, old, "old ciphertexts")
    yield drill_verify.refusals(client, inv)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    missing = drill_pg.missing_tools()
    if missing:
        print(f"FAIL  the PostgreSQL client tools are missing: {', '.join(missing)}", file=sys.stderr)
        return 1
    report = Report()
    try:
        drill(args, report)
    except (DrillError, RemoteError, OSError) as exc:
        if isinstance(exc, RemoteError):
            report.line("FAIL", f"{exc.code} (HTTP {exc.status}): {exc.message}")
        elif isinstance(exc, OSError):  # a file the drill reads or writes (the backup, a copy)
            report.line("FAIL", f"{exc.filename or 'a file'}: {exc.strerror or exc}")
        elif not isinstance(exc, Reported):
            report.line("FAIL", str(exc))
        print("FAILED: the drill could not complete", flush=True)
        return 1
    if report.failed:
        print(f"FAILED: {report.failed} checks failed", flush=True)
        return 1
    print("PASSED: the backup restores, and what it held opens under this root of trust", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
