"""``openkms dev``: the test control API from the command line (for tests in any language).

    openkms dev clock advance 31d
    openkms dev fault add --action Encrypt --preset throttle --count 2
    openkms dev reset

Against ``--endpoint`` (127.0.0.1:8080), signed with ``--access-key-id``/``OPENKMS_ACCESS_KEY_ID``
and ``OPENKMS_ACCESS_KEY_SECRET`` (or ``--credentials FILE``), else dev mode's well-known pair.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from openkms.cli.remote import ControlClient, RemoteError, client_from
from openkms.domain.faults import PRESETS
from openkms.settings import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_PART = re.compile(r"(-?[0-9]+(?:\.[0-9]+)?)([smhdw])")


def duration(text: str) -> float:
    """``31d``, ``1d12h``, ``90s``, ``-2h``: seconds."""
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 31d, 1d12h, 90s")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p_dev = sub.add_parser("dev", help="the test control API of a dev server: clock, faults, reset, requests")
    connection_options(p_dev)
    dsub = p_dev.add_subparsers(dest="dev_command", required=True)

    p_clock = dsub.add_parser("clock", help="show, advance or set the server's clock")
    csub = p_clock.add_subparsers(dest="clock_command")
    p_advance = csub.add_parser("advance", help="move the clock on (runs rotation, deletion and expiry at once)")
    p_advance.add_argument("by", type=duration, help="31d, 1d12h, 90s ...")
    p_set = csub.add_parser("set", help="set the clock to a time")
    p_set.add_argument("time", help="ISO 8601 (2031-01-01T00:00:00Z) or epoch seconds")
    p_clock.set_defaults(func=clock)

    p_fault = dsub.add_parser("fault", help="add, list or clear fault rules")
    fsub = p_fault.add_subparsers(dest="fault_command", required=True)
    p_add = fsub.add_parser("add", help="make requests fail (or wait)")
    p_add.add_argument("--action", default="*", help="the action (default: every one)")
    p_add.add_argument("--account", default="*", help="the account uid (default: every one)")
    p_add.add_argument("--preset", choices=sorted(PRESETS))
    p_add.add_argument("--code", help="an error code of your own (with --status)")
    p_add.add_argument("--status", type=int, help="its HTTP status")
    p_add.add_argument("--message")
    p_add.add_argument("--count", type=int, help="fire this many times (default: every time)")
    p_add.add_argument("--probability", type=float, default=1.0)
    p_add.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering")
    fsub.add_parser("list", help="the rules, with the counts left")
    fsub.add_parser("clear", help="remove every rule")
    p_fault.set_defaults(func=fault)

    p_reset = dsub.add_parser(
        "reset", help="back to the seed, or empty (the administrator pair stays); real time, no faults"
    )
    p_reset.add_argument("--to", choices=("seed", "empty"), help="default: the seed if the server has one")
    p_reset.set_defaults(func=reset)
    p_requests = dsub.add_parser("requests", help="the last requests (parameters without secrets)")
    p_requests.add_argument("--limit", type=int, default=20)
    p_requests.set_defaults(func=requests)


def connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", default="127.0.0.1:8080", help="server host:port or URL")
    parser.add_argument("--access-key-id", help="or OPENKMS_ACCESS_KEY_ID (default: dev mode's pair)")
    parser.add_argument("--credentials", type=Path, help="JSON file with AccessKeyId and AccessKeySecret")


def control_client(args: argparse.Namespace) -> ControlClient:
    try:
        found = client_from(args.endpoint, args.access_key_id, None, args.credentials, None)
        return ControlClient(args.endpoint, found.access_key_id, found.secret)
    except RemoteError:  # no credentials given: dev mode's, which are public
        return ControlClient(args.endpoint, DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET)


def _run(args: argparse.Namespace, method: str, path: str, body: dict[str, Any] | None = None, **query: str) -> int:
    try:
        answer = control_client(args).call(method, path, body, **query)
    except RemoteError as exc:
        sys.stderr.write(f"openkms dev: {exc}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"openkms dev: cannot reach {args.endpoint}: {exc}\n")
        return 1
    sys.stdout.write(json.dumps(answer, indent=2) + "\n")
    return 0


def clock(args: argparse.Namespace) -> int:
    if args.clock_command == "advance":
        return _run(args, "POST", "/clock/advance", {"Seconds": args.by})
    if args.clock_command == "set":
        when: Any = float(args.time) if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", args.time) else args.time
        return _run(args, "POST", "/clock/set", {"Time": when})
    return _run(args, "GET", "/clock")


def fault(args: argparse.Namespace) -> int:
    if args.fault_command == "list":
        return _run(args, "GET", "/faults")
    if args.fault_command == "clear":
        return _run(args, "DELETE", "/faults")
    rule: dict[str, Any] = {
        "Action": args.action,
        "Account": args.account,
        "Probability": args.probability,
        "Delay": args.delay,
    }
    if args.count is not None:
        rule["Count"] = args.count
    if args.preset:
        rule["Preset"] = args.preset
    if args.code or args.status:
        rule["Error"] = {
            "Code": args.code,
            "HttpStatus": args.status,
            **({"Message": args.message} if args.message else {}),
        }
    return _run(args, "POST", "/faults", rule)


def reset(args: argparse.Namespace) -> int:
    return _run(args, "POST", "/reset", {"To": args.to} if args.to else None)


def requests(args: argparse.Namespace) -> int:
    return _run(args, "GET", "/requests", Limit=str(args.limit))
