"""``openkms audit``: verify the audit trail, print its public key, hash a value the way it does.

``verify`` needs the public key that signed the checkpoints: ``--public-key`` (a copy kept
apart from the trail: the strongest check), else the data directory's own (which needs the root
key), else, for a bare trail directory, the ``public-key.pem`` stored beside the chains, which
proves the trail consistent but not that openkms's key signed it (said on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from openkms import bootstrap
from openkms.audit.files import PUBLIC_KEY_FILE
from openkms.audit.keys import PublicKey
from openkms.audit.verify import Report, verify
from openkms.cli import admin


def _data_dir_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="data directory (default ./openkms-data, or OPENKMS_DATA_DIR)")
    parser.add_argument("--config", type=Path, help="TOML configuration file (or OPENKMS_CONFIG)")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p_audit = sub.add_parser("audit", help="verify and search the tamper-evident audit trail")
    audit_sub = p_audit.add_subparsers(dest="audit_command", required=True)
    p_verify = audit_sub.add_parser(
        "verify", help="check every chain and checkpoint; exit 1 naming the first bad line or checkpoint"
    )
    p_verify.add_argument("directory", nargs="?", type=Path, help="a trail directory (instead of --data-dir)")
    _data_dir_options(p_verify)
    p_verify.add_argument("--public-key", type=Path, metavar="PEM", help="the audit public key, kept apart")
    p_verify.set_defaults(func=verify_command)
    p_key = audit_sub.add_parser("public-key", help="print the PEM of the key that signs checkpoints")
    _data_dir_options(p_key)
    p_key.set_defaults(func=public_key_command)
    p_hash = audit_sub.add_parser(
        "hash", help="hash a CiphertextBlob or EncryptionContext value as the trail does, to search for it"
    )
    _data_dir_options(p_hash)
    p_hash.add_argument("value", help="the value as sent (a blob's base64 text)")
    p_hash.set_defaults(func=hash_command)


def _public_key(args: argparse.Namespace, bare_directory: Path | None) -> PublicKey:
    if args.public_key is not None:
        return PublicKey(args.public_key.read_bytes())
    if bare_directory is not None:
        sys.stderr.write(
            f"openkms: using {bare_directory / PUBLIC_KEY_FILE} from the trail itself: this shows the trail is "
            "consistent, not who signed it (give --public-key for that)\n"
        )
        return PublicKey((bare_directory / PUBLIC_KEY_FILE).read_bytes())
    return bootstrap.audit_keys(admin.load_settings(args)).public


def verify_command(args: argparse.Namespace) -> int:
    if args.directory is not None and (args.data_dir is not None or args.config is not None):
        sys.stderr.write("openkms: give a trail directory or --data-dir/--config, not both\n")
        return 2
    directory = args.directory or bootstrap.audit_config(admin.load_settings(args)).directory
    if not directory.is_dir():
        sys.stderr.write(f"openkms: there is no audit trail at {directory}\n")
        return 1
    try:
        key = _public_key(args, args.directory)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"openkms: cannot read the audit public key: {exc}\n")
        return 2
    report = verify(directory, key)
    _print(report)
    if report.problem is not None:
        sys.stderr.write(f"openkms: the audit trail is NOT intact: {report.problem}\n")
        return 1
    sys.stdout.write(f"intact: {len(report.chains)} chains in {directory}\n")
    return 0


def _print(report: Report) -> None:
    for chain in report.chains:
        last = chain.last_checkpoint
        sealed = (
            f"checkpoint {last.index} at {last.time}: treeSize {last.tree_size} rootHash {last.root}"
            if last
            else "no checkpoint"
        )
        sys.stdout.write(
            f"{chain.chain}: lines {chain.first_seq}-{chain.events - 1}, {chain.checkpoints} checkpoints, "
            f"{chain.unsealed} unsealed; {sealed}\n"
        )


def public_key_command(args: argparse.Namespace) -> int:
    sys.stdout.write(bootstrap.audit_keys(admin.load_settings(args)).public.pem.decode())
    return 0


def hash_command(args: argparse.Namespace) -> int:
    sys.stdout.write(bootstrap.audit_keys(admin.load_settings(args)).keyed_hash(args.value.encode()) + "\n")
    return 0
