"""The ``openkms`` command: serve, and local administration of the data directory.

The commands' modules (and through them the whole server) are imported by ``parse``; for
``openkms serve`` with the cyclic collector off, and what they made frozen after
(``cli/collector.py``): the collections importing set off, and every later full one walking it
all again, were a tenth of a dev server's start.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from openkms import __version__
from openkms.cli import collector

# The commands, as the whole parser lists them in its usage line (test_main_parser holds them equal).
COMMANDS = ("serve", "accesskey", "ram", "import", "secret", "clientkey", "hsm", "audit", "dev", "seed")


def build_parser(serve_only: bool = False) -> argparse.ArgumentParser:
    """The command line. ``serve_only``: a parser of ``openkms serve`` alone, which parses its
    arguments as the whole one does: a server's start neither builds the other commands' fifty
    parsers nor imports their modules (about 60 ms of CPU; issue 16, ready in under a second)."""
    parser = argparse.ArgumentParser(prog="openkms", description="A self-hostable Alibaba Cloud KMS-compatible server.")
    parser.add_argument("--version", action="version", version=f"openkms {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    from openkms.cli import admin

    common = admin.data_args
    _serve_parser(sub)
    if serve_only:
        sub.metavar = "{" + ",".join(COMMANDS) + "}"  # a mistake's usage line names them all still
        return parser
    from openkms.cli import audit, clientkey, dev_control, hsm, importing, ram, secret, seed

    p_ak = sub.add_parser("accesskey", help="manage AccessKey pairs")
    ak_sub = p_ak.add_subparsers(dest="ak_command", required=True)
    p_create = ak_sub.add_parser("create", help="issue a new pair and print it once")
    common(p_create)
    group = p_create.add_mutually_exclusive_group()
    group.add_argument("--account", help="account uid (default: the administrator's account)")
    group.add_argument("--new-account", action="store_true", help="create a new account for the pair")
    p_create.add_argument("--user", metavar="NAME", help="issue the pair to this RAM user of the account")
    p_create.add_argument("--description", default="")
    p_create.set_defaults(func=admin.create_access_key)
    p_list = ak_sub.add_parser("list", help="list pairs and whose they are (never their secrets)")
    common(p_list)
    p_list.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")
    p_list.set_defaults(func=admin.list_access_keys)
    for name, func, text in (
        ("disable", admin.disable_access_key, "disable a pair: its requests get Forbidden.AccessKey"),
        ("enable", admin.enable_access_key, "enable a disabled pair"),
        ("delete", admin.delete_access_key, "delete a pair"),
    ):
        p = ak_sub.add_parser(name, help=text)
        common(p)
        p.add_argument("access_key_id")
        p.set_defaults(func=func)
    ram.add_commands(sub)
    importing.add_commands(sub)
    secret.add_commands(sub)
    clientkey.add_commands(sub)
    hsm.add_commands(sub)
    audit.add_commands(sub)
    dev_control.add_commands(sub)
    seed.add_commands(sub)
    return parser


def _serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from openkms.cli import admin, serve

    p_serve = sub.add_parser("serve", help="start the server")
    admin.data_args(p_serve)
    p_serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p_serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    p_serve.add_argument("--workers", type=int, help="worker processes (default 1)")
    p_serve.add_argument("--tls-port", type=int, help="HTTPS port (default 8443)")
    p_serve.add_argument("--no-http", action="store_true", help="no plain-HTTP listener: HTTPS only")
    p_serve.add_argument("--no-tls", action="store_true", help="no HTTPS listener: plain HTTP only")
    p_serve.add_argument(
        "--dev",
        action="store_true",
        help="dev mode: a throw-away data directory unless --data-dir, the well-known administrator pair, "
        "no quotas, the control API (refused with [server] production = true)",
    )
    p_serve.add_argument(
        "--seed",
        type=Path,
        metavar="FILE",
        help="dev mode: load this seed file (docs/SEED.md) at start; reset goes back to it",
    )
    p_serve.add_argument(
        "--deterministic",
        metavar="SEED",
        help="dev mode: KeyIds, version ids and symmetric material made from SEED, alike every run (IVs random)",
    )
    p_serve.set_defaults(func=serve.run)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    given = sys.argv[1:] if argv is None else argv
    if given[:1] != ["serve"]:
        return build_parser().parse_args(given)
    with collector.frozen_after():  # the server's modules: imported by a process that has done nothing else
        return build_parser(serve_only=True).parse_args(given)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from openkms.settings import SettingsError

    try:
        code: int = args.func(args)
    except SettingsError as exc:
        sys.stderr.write(f"openkms: configuration error: {exc}\n")
        return 2
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
