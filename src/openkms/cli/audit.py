"""``openkms audit``: verify the audit trail, search it, print its public key, hash a value the way
it does.

``verify`` needs the public key that signed the checkpoints: ``--public-key`` (a copy kept
apart from the trail: the strongest check), else the data directory's own (which needs the root
key), else, for a bare trail directory, the ``public-key.pem`` stored beside the chains, which
proves the trail consistent but not that openkms's key signed it (said on stderr).

``search`` reads the trail's files directly (every account's events: it is the operator's tool; the
API's LookupEvents keeps a caller to its own account), newest first, and needs no key.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from openkms import bootstrap
from openkms.audit.files import PUBLIC_KEY_FILE
from openkms.audit.keys import PublicKey
from openkms.audit.reader import TrailReader
from openkms.audit.verify import Report, verify
from openkms.cli import admin, output
from openkms.domain import errors
from openkms.domain.audit import KEY_RESOURCE, event_time
from openkms.domain.audit_query import AuditQuery, parse_when


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
    _add_search(audit_sub)
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


# --- search -------------------------------------------------------------------------------------

SEARCH_COLUMNS = ("time", "action", "who", "accessKey", "sourceIp", "key", "result")
_BATCH = 1000  # events read per page while printing


def _add_search(audit_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = audit_sub.add_parser("search", help="find events: who used which key, when, from where (newest first)")
    p.add_argument("directory", nargs="?", type=Path, help="a trail directory (instead of --data-dir)")
    _data_dir_options(p)
    p.add_argument("--key", help="a key id (or another resource id) the event acted on")
    p.add_argument("--since", help="from this time: 2h, 7d, 30m (ago), 2026-12-01, 2026-12-01T08:30:00Z (UTC)")
    p.add_argument("--until", help="up to this time, in the same forms")
    p.add_argument("--action", action="append", default=[], help="an action (eventName); repeat for any of several")
    p.add_argument("--access-key", help="the AccessKey ID that signed the request")
    p.add_argument("--user", help="the RAM user's name")
    p.add_argument("--account", help="the account whose trail holds the event (recipientAccountId)")
    p.add_argument("--region", help="the region (acsRegion)")
    p.add_argument("--rw", choices=("Read", "Write"), help="reads or writes only")
    p.add_argument(
        "--value", help="a hashed value anywhere in the request or answer, as `openkms audit hash` prints it"
    )
    outcome = p.add_mutually_exclusive_group()
    outcome.add_argument("--failed", action="store_true", help="refused or failed requests only")
    outcome.add_argument("--succeeded", action="store_true", help="successful requests only")
    p.add_argument("--oldest-first", action="store_true", help="oldest first instead of newest first")
    p.add_argument("--limit", type=int, default=50, help="at most N events (default 50; 0: all)")
    p.add_argument("--json", action="store_true", help="each event whole, one JSON object a line")
    p.set_defaults(func=search_command)


def _when(flag: str, text: str | None, now: float) -> str:
    if text is None:
        return ""
    seconds = parse_when(text, now)
    if seconds is None:
        raise ValueError(f"{flag}: not a time: {text!r} (use 2h, 7d, 2026-12-01 or 2026-12-01T08:30:00Z)")
    return event_time(seconds)


def search_query(args: argparse.Namespace, now: float) -> AuditQuery:
    """The query the command line asks for; ValueError for a time it cannot read."""
    return AuditQuery(
        since=_when("--since", args.since, now),
        until=_when("--until", args.until, now),
        event_names=tuple(args.action),
        resource=args.key or "",
        access_key_id=args.access_key or "",
        user_name=args.user or "",
        account_id=args.account or "",
        region=args.region or "",
        event_rw=args.rw or "",
        parameter_value=args.value or "",
        failed=True if args.failed else False if args.succeeded else None,
        oldest_first=args.oldest_first,
        limit=args.limit,
    )


def _row(event: Mapping[str, Any]) -> dict[str, str]:
    """A table row: who is the RAM user, else the identity's type and principal."""
    who = event.get("userIdentity") or {}
    keys = (event.get("referencedResources") or {}).get(KEY_RESOURCE) or []
    key = ",".join(keys) or (event.get("requestParameters") or {}).get("KeyId", "")
    return {
        "time": event.get("eventTime", ""),
        "action": event.get("eventName", ""),
        "who": who.get("userName") or f"{who.get('type', '')}:{who.get('principalId', '')}".strip(":"),
        "accessKey": who.get("accessKeyId", ""),
        "sourceIp": event.get("sourceIpAddress", ""),
        "key": str(key),
        "result": event.get("errorCode") or "ok",
    }


def search_command(args: argparse.Namespace) -> int:
    if args.directory is not None and (args.data_dir is not None or args.config is not None):
        sys.stderr.write("openkms: give a trail directory or --data-dir/--config, not both\n")
        return 2
    if args.limit < 0:
        sys.stderr.write("openkms: --limit must be 0 (all) or more\n")
        return 2
    try:
        query = search_query(args, time.time())
    except ValueError as exc:
        sys.stderr.write(f"openkms: {exc}\n")
        return 2
    directory = args.directory or bootstrap.audit_config(admin.load_settings(args)).directory
    reader = TrailReader(directory)
    rows: list[dict[str, str]] = []
    left = args.limit or None
    while True:
        batch = _BATCH if left is None else min(left, _BATCH)
        try:
            page = reader.search(replace(query, limit=batch))
        except errors.KmsError as exc:
            return output.fail(exc)
        for event in page.events:
            if args.json:
                sys.stdout.write(json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n")
            else:
                rows.append(_row(event))
        left = None if left is None else left - len(page.events)
        if not page.cursor or left == 0:
            break
        query = replace(query, cursor=page.cursor)
    if not args.json:
        output.table(SEARCH_COLUMNS, rows)
    return 0
