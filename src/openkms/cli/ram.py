"""``openkms ram``: an account's RAM users and policies, from the operator's side.

Like ``openkms accesskey``, these commands open the data directory directly, so they run while the
server does and a change applies to its next request. They act as the account itself (its root,
which RAM lets do everything in the account): the administrator's account unless ``--account``
names another. A refusal is RAM's own: its code and message on one line, status 1.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from openkms.cli import admin
from openkms.cli.output import fail, iso, show, show_one, usage, write_json
from openkms.domain import errors
from openkms.domain.identity import Caller
from openkms.domain.ram.identities import ManagedPolicy, PolicyType, User
from openkms.domain.ram.system_policies import SYSTEM_POLICIES
from openkms.service.container import Services
from openkms.service.ram_policies import PolicyView
from openkms.service.ram_users import Page, UserFields

T = TypeVar("T")
Command = Callable[[argparse.Namespace], int]
PAGE = 1000

USER_COLUMNS = ("UserName", "UserId", "DisplayName", "CreateDate", "Comments")
POLICY_COLUMNS = ("PolicyName", "PolicyType", "DefaultVersion", "AttachmentCount", "Description")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p_ram = sub.add_parser("ram", help="an account's RAM users and policies (acting as the account)")
    ram_sub = p_ram.add_subparsers(dest="ram_command", required=True)
    _user_commands(ram_sub.add_parser("user", help="RAM users").add_subparsers(dest="user_command", required=True))
    policy = ram_sub.add_parser("policy", help="RAM policies and their attachments to users")
    _policy_commands(policy.add_subparsers(dest="policy_command", required=True))


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str, func: Command
) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=text)
    admin.data_args(p)
    p.add_argument("--account", metavar="UID", help="account uid (default: the administrator's account)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")
    p.set_defaults(func=func)
    return p


def _user_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _command(sub, "create", "create a RAM user", user_create)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--display-name")
    p.add_argument("--comments")
    _command(sub, "list", "list the account's RAM users", user_list)
    p = _command(sub, "delete", "delete a RAM user (refused while it has AccessKeys or policies)", user_delete)
    p.add_argument("name", metavar="NAME")


def _policy_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def typed(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("name", metavar="NAME")
        p.add_argument(
            "--type",
            choices=[t.value for t in PolicyType],
            help="default: System for a system policy's name, else Custom",
        )
        return p

    p = _command(sub, "create", "create a custom policy from a JSON policy document", policy_create)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--document", required=True, metavar="FILE", help="the policy document; - reads standard input")
    p.add_argument("--description", default="")
    p = _command(sub, "list", "list system and custom policies", policy_list)
    p.add_argument("--type", choices=[t.value for t in PolicyType], help="only policies of this type")
    p.add_argument("--user", metavar="USER", help="only the policies attached to this user")
    typed(_command(sub, "show", "print the policy's default version's document", policy_show))
    typed(_command(sub, "attach", "attach a policy to a user", policy_attach)).add_argument(
        "--user", required=True, metavar="USER"
    )
    typed(_command(sub, "detach", "detach a policy from a user", policy_detach)).add_argument(
        "--user", required=True, metavar="USER"
    )
    _command(sub, "delete", "delete a custom policy (refused while it is attached)", policy_delete).add_argument(
        "name", metavar="NAME"
    )


def refusals(func: Command) -> Command:
    """A refused operation (a RAM error, or an account that does not exist) is one line, status 1."""

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except errors.KmsError as exc:
            return fail(exc)

    return run


def as_root(args: argparse.Namespace, act: Callable[[Services, Caller], T]) -> T:
    """Runs ``act`` with the services and the root caller of ``--account`` (or the administrator's)."""
    with admin.services(args) as s:
        return act(s, admin.root_caller(s, args.account))


def every(fetch: Callable[[Page], tuple[list[T], str | None]]) -> list[T]:
    """All the pages of a listing."""
    items, marker = fetch(Page(max_items=PAGE))
    while marker is not None:
        more, marker = fetch(Page(marker, PAGE))
        items += more
    return items


def done(args: argparse.Namespace, text: str, **record: str) -> int:
    """The answer of a change that returns nothing: a line for people, or what was done as JSON."""
    if args.json:
        write_json(record)
    else:
        sys.stdout.write(text + "\n")
    return 0


# --- users ----------------------------------------------------------------------------------------


# A user's record: RAM's field names for its attributes (as GetUser answers), then its dates.
_USER_FIELDS = {
    "UserName": "name", "UserId": "user_id", "DisplayName": "display_name",
    "Email": "email", "MobilePhone": "mobile_phone", "Comments": "comments",
}  # fmt: skip


def _user(user: User) -> dict[str, Any]:
    fields = {field: getattr(user, attribute) for field, attribute in _USER_FIELDS.items()}
    return {**fields, "CreateDate": iso(user.created_at), "UpdateDate": iso(user.updated_at)}


@refusals
def user_create(args: argparse.Namespace) -> int:
    fields = UserFields(display_name=args.display_name, comments=args.comments)
    user = as_root(args, lambda s, caller: s.ram_users.create_user(caller, args.name, fields))
    show_one(_user(user), USER_COLUMNS, args.json)
    return 0


@refusals
def user_list(args: argparse.Namespace) -> int:
    users = as_root(args, lambda s, caller: every(functools.partial(s.ram_users.list_users, caller)))
    show([_user(u) for u in users], USER_COLUMNS, args.json)
    return 0


@refusals
def user_delete(args: argparse.Namespace) -> int:
    as_root(args, lambda s, caller: s.ram_users.delete_user(caller, args.name))
    return done(args, f"{args.name}: deleted", UserName=args.name, Status="Deleted")


# --- policies -------------------------------------------------------------------------------------


def _policy(policy: ManagedPolicy, attachments: int = 0) -> dict[str, Any]:
    return {
        "PolicyName": policy.name,
        "PolicyType": policy.type.value,
        "DefaultVersion": policy.default_version,
        "AttachmentCount": attachments,
        "Description": policy.description,
        "CreateDate": iso(policy.created_at),
        "UpdateDate": iso(policy.updated_at),
    }


def _policy_type(args: argparse.Namespace) -> PolicyType:
    """As given, else System for a system policy's name (no custom policy may take one), else Custom."""
    if args.type is not None:
        return PolicyType(args.type)
    return PolicyType.SYSTEM if args.name in SYSTEM_POLICIES else PolicyType.CUSTOM


def _read_document(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    return Path(source).read_text(encoding="utf-8")


@refusals
def policy_create(args: argparse.Namespace) -> int:
    try:
        document = _read_document(args.document)
    except (OSError, UnicodeDecodeError) as exc:
        return usage(f"cannot read the policy document {args.document}: {getattr(exc, 'strerror', None) or exc}")
    policy = as_root(
        args, lambda s, caller: s.ram_policies.create_policy(caller, args.name, document, args.description)
    )
    show_one(_policy(policy), POLICY_COLUMNS, args.json)
    return 0


def _policies(s: Services, caller: Caller, args: argparse.Namespace) -> list[PolicyView]:
    policy_type = None if args.type is None else PolicyType(args.type)
    views = every(functools.partial(s.ram_policies.list_policies, caller, policy_type))
    if args.user is None:
        return views
    attached = {(a.policy_type, a.policy_name) for a, _ in s.ram_policies.policies_for_user(caller, args.user)}
    return [v for v in views if (v.policy.type, v.policy.name) in attached]


@refusals
def policy_list(args: argparse.Namespace) -> int:
    views = as_root(args, lambda s, caller: _policies(s, caller, args))
    show([_policy(v.policy, v.attachments) for v in views], POLICY_COLUMNS, args.json)
    return 0


@refusals
def policy_show(args: argparse.Namespace) -> int:
    view = as_root(args, lambda s, caller: s.ram_policies.get_policy(caller, args.name, _policy_type(args)))
    document = view.default.document
    if args.json:
        write_json({**_policy(view.policy, view.attachments), "PolicyDocument": document})
    else:
        sys.stdout.write(document if document.endswith("\n") else document + "\n")
    return 0


def _attachment(args: argparse.Namespace, attach: bool) -> int:
    policy_type = _policy_type(args)
    verb = "attached to" if attach else "detached from"

    def act(s: Services, caller: Caller) -> None:
        change = s.ram_policies.attach if attach else s.ram_policies.detach
        change(caller, policy_type, args.name, args.user)

    as_root(args, act)
    return done(
        args,
        f"{args.name} ({policy_type.value}): {verb} {args.user}",
        PolicyName=args.name,
        PolicyType=policy_type.value,
        UserName=args.user,
        Status="Attached" if attach else "Detached",
    )


@refusals
def policy_attach(args: argparse.Namespace) -> int:
    return _attachment(args, attach=True)


@refusals
def policy_detach(args: argparse.Namespace) -> int:
    return _attachment(args, attach=False)


@refusals
def policy_delete(args: argparse.Namespace) -> int:
    as_root(args, lambda s, caller: s.ram_policies.delete_policy(caller, args.name))
    return done(args, f"{args.name}: deleted", PolicyName=args.name, Status="Deleted")
