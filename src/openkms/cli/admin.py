"""Local administration commands: they open the data directory directly (no server needed)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from openkms import bootstrap
from openkms.domain import errors
from openkms.service.container import Services
from openkms.settings import Settings


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


def _fail(exc: errors.KmsError, subject: str = "") -> int:
    sys.stderr.write(f"openkms: {subject + ': ' if subject else ''}{exc.message}\n")
    return 1


def create_access_key(args: argparse.Namespace) -> int:
    with services(args) as s:
        try:
            issued = s.identity.create_access_key(args.account, args.new_account, args.description)
        except errors.KmsError as exc:
            return _fail(exc)
    json.dump(
        {
            "AccessKeyId": issued.access_key.id,
            "AccessKeySecret": issued.secret,
            "AccountId": issued.access_key.account_uid,
        },
        sys.stdout,
        indent=2,
    )
    sys.stdout.write("\n")
    return 0


def list_access_keys(args: argparse.Namespace) -> int:
    with services(args) as s:
        keys = s.identity.list_access_keys()
    sys.stdout.write(f"{'AccessKeyId':<26} {'AccountId':<18} {'Status':<9} Description\n")
    for ak in keys:
        sys.stdout.write(f"{ak.id:<26} {ak.account_uid:<18} {ak.status.value:<9} {ak.description}\n")
    return 0


def _set(args: argparse.Namespace, enabled: bool) -> int:
    with services(args) as s:
        try:
            s.identity.set_enabled(args.access_key_id, enabled)
        except errors.KmsError as exc:
            return _fail(exc, args.access_key_id)
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
            return _fail(exc, args.access_key_id)
    sys.stdout.write(f"{args.access_key_id}: deleted\n")
    return 0
