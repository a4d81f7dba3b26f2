"""``openkms clientkey create``: a client key for an application access point, written as the
console writes it (``clientKey_<id>.json``: KeyId and the base64 PKCS#12) with its password in a
file beside it, for operators without an SDK at hand. Both files are readable by their owner only."""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from openkms.cli.admin import data_args, root_caller, services
from openkms.cli.output import fail, usage
from openkms.domain import app_access, errors, passwords


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p_ck = sub.add_parser("clientkey", help="client keys of application access points (the instance gateway)")
    ck_sub = p_ck.add_subparsers(dest="ck_command", required=True)
    p_create = ck_sub.add_parser("create", help="issue a client key: clientKey_<id>.json and its password file")
    data_args(p_create)
    p_create.add_argument("--aap", required=True, metavar="NAME", help="the application access point")
    p_create.add_argument("--out", required=True, type=Path, metavar="DIR", help="where to write the two files")
    p_create.add_argument("--account", help="account uid (default: the administrator's account)")
    p_create.add_argument("--region", help="the access point's region (default: the default region)")
    p_create.add_argument("--not-after", metavar="TIME", help="yyyy-MM-ddTHH:mm:ssZ (default: a year from now)")
    p_create.set_defaults(func=create)


def _write(path: Path, text: str) -> None:
    """Created for its owner only, never over an existing file (a key is not replaced by mistake)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def create(args: argparse.Namespace) -> int:
    if not args.out.is_dir():
        return usage(f"--out {args.out}: not a directory")
    password = passwords.generate(passwords.PasswordRules(length=32, exclude_punctuation=True))
    with services(args) as s:
        try:
            not_after = None if args.not_after is None else app_access.parse_time(args.not_after, "--not-after")
            caller = root_caller(s, args.account)
            if args.region:
                caller = replace(caller, region=s.regions.get(args.region).id)
            issued = s.app_access.create_client_key(caller, args.aap, password, None, not_after)
        except errors.KmsError as exc:
            return fail(exc, args.aap)
    key_file = args.out / f"clientKey_{issued.key.id}.json"
    password_file = args.out / f"clientKey_{issued.key.id}_Password.txt"
    document = {"KeyId": issued.key.id, "PrivateKeyData": base64.b64encode(issued.private_key_data).decode()}
    _write(key_file, json.dumps(document))
    _write(password_file, password)
    sys.stdout.write(f"{issued.key.id}\n{key_file}\n{password_file}\n")
    return 0
