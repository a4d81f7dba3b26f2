"""Local administration commands: they open the data directory directly (no server needed)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from openkms import bootstrap
from openkms.cli.output import fail, iso, show, usage, write_json
from openkms.domain import errors
from openkms.domain.identity import AccessKey, Caller
from openkms.service.container import Services
from openkms.service.identity import IssuedKey
from openkms.settings import Settings


def data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="data directory (default ./openkms-data, or OPENKMS_DATA_DIR)")
    parser.add_argument("--config", type=Path, help="TOML configuration file (or OPENKMS_CONFIG)")


def load_settings(args: argparse.Namespace) -> Settings:
    settings = Settings.load(config_file=getattr(args, "config", None), data_dir=getattr(args, "data_dir", None))
    return replace(settings, rsa_pool_size=0)  # a command creates no keys: pre-generated pairs would be wasted


@contextmanager
def services(args: argparse.Namespace) -> Iterator[Services]:
    settings = load_settings(args)
    bootstrap.prepare(settings)
    runtime = bootstrap.build(settings)
    try:
        yield runtime.services
    finally:
        runtime.close()


def root_caller(s: Services, account_uid: str | None) -> Caller:
    """The account's own (root) caller, which RAM lets do everything in its account: the operator
    acts as the account (by default the administrator's). Raises for an account that does not exist."""
    return Caller(s.identity.account(account_uid), s.regions.default, "")


def create_access_key(args: argparse.Namespace) -> int:
    if args.user is not None and args.new_account:
        return usage("argument --user: not allowed with argument --new-account (a new account has no users)")
    with services(args) as s:
        try:
            issued = _issue(s, args)
        except errors.KmsError as exc:
            return fail(exc)
    record = {
        "AccessKeyId": issued.access_key.id,
        "AccessKeySecret": issued.secret,
        "AccountId": issued.access_key.account_uid,
    }
    if issued.access_key.user_name:
        record["UserName"] = issued.access_key.user_name
    write_json(record)
    return 0


def _issue(s: Services, args: argparse.Namespace) -> IssuedKey:
    if args.user is None:
        return s.identity.create_access_key(args.account, args.new_account, args.description)
    return s.ram_users.create_access_key(root_caller(s, args.account), args.user, args.description)


ACCESS_KEY_COLUMNS = ("AccessKeyId", "AccountId", "Status", "UserName", "Description")


def _access_key(ak: AccessKey) -> dict[str, Any]:
    return {
        "AccessKeyId": ak.id,
        "AccountId": ak.account_uid,
        "UserName": ak.user_name,  # empty: the account's own pair
        "Status": ak.status.value,
        "Description": ak.description,
        "CreateDate": iso(ak.created_at),
    }


def list_access_keys(args: argparse.Namespace) -> int:
    with services(args) as s:
        keys = s.identity.list_access_keys()
    show([_access_key(ak) for ak in keys], ACCESS_KEY_COLUMNS, args.json)
    return 0


def _set(args: argparse.Namespace, enabled: bool) -> int:
    with services(args) as s:
        try:
            s.identity.set_enabled(args.access_key_id, enabled)
        except errors.KmsError as exc:
            return fail(exc, args.access_key_id)
    sys.stdout.write(f"{args.access_key_id}: {'Enabled' if enabled else 'Disabled'}\n")
    return 0


def disable_access_key(args: argparse.Namespace) -> int:
    return _set(args, False)


def enable_access_key(args: argparse.Namespace) -> int:
    return _set(args, True)


def delete_access_key(args: argparse.Namespace) -> int:
    with services(args) as s:
        try:
            s.identity.delete_access_key(args.access_key_id)
        except errors.KmsError as exc:
            return fail(exc, args.access_key_id)
    sys.stdout.write(f"{args.access_key_id}: deleted\n")
    return 0
