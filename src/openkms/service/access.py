"""What a caller may do, asked without doing it, and who may use a key.

An entry point that offers actions (the console's buttons and forms) asks here which of them the
caller may take: every answer comes from the same authorizer, through the key resolver, that the
action itself would ask. Nothing here decides a permission of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from openkms.domain.actions import Target, action
from openkms.domain.aliases import is_alias
from openkms.domain.authorization import (
    alias_resource,
    key_resource,
    keys_of,
    ram_resource,
    secret_resource,
    secrets_of,
    trail_of,
)
from openkms.domain.identity import Caller
from openkms.domain.keys import Key
from openkms.domain.policy import default_policy
from openkms.domain.ports import Clock, Store
from openkms.domain.ram.document import Effect, Kind, MalformedPolicy, compile_policy
from openkms.domain.ram.identities import PolicyType
from openkms.domain.secrets import Secret
from openkms.service.ram_policies import policy_resource
from openkms.service.resolve import KeyResolver

# What "using" a key means on its page: the two actions of symmetric use.
USE_ACTIONS = ("Encrypt", "Decrypt")


@dataclass(frozen=True, slots=True)
class KeyUser:
    """A RAM user of the key's account whose policies (with the key's) allow it to use the key."""

    name: str
    actions: tuple[str, ...]  # which of USE_ACTIONS


@dataclass(frozen=True, slots=True)
class KeyUsers:
    """Who may use a key: the principals its key policy names in an Allow of Encrypt or Decrypt,
    and the account's RAM users the authorizer would let encrypt or decrypt with it."""

    principals: tuple[str, ...]
    users: tuple[KeyUser, ...]


class AccessService:
    def __init__(self, store: Store, resolver: KeyResolver, clock: Clock) -> None:
        self._store = store
        self._resolver = resolver
        self._clock = clock

    # --- may I --------------------------------------------------------------------------------

    def on_key(self, caller: Caller, key: Key, names: Iterable[str]) -> frozenset[str]:
        """Which of the KMS actions ``names`` the caller may perform on ``key`` (actions on the
        caller's keys as a whole, CreateKey say, are asked of those)."""
        allowed = set()
        for name in names:
            act = action(name)
            resource = key_resource(key) if act.target is Target.KEY else keys_of(caller)
            if self._resolver.allowed(caller, act, resource):
                allowed.add(name)
        return frozenset(allowed)

    def on_keys(self, caller: Caller, names: Iterable[str]) -> frozenset[str]:
        """Which of the KMS actions ``names`` the caller may perform on its keys as a whole."""
        return frozenset(n for n in names if self._resolver.allowed(caller, action(n), keys_of(caller)))

    def deletable_aliases(self, caller: Caller, names: Iterable[str]) -> frozenset[str]:
        """Which of the aliases ``names`` the caller may delete."""
        delete = action("DeleteAlias")
        return frozenset(
            n for n in names if is_alias(n) and self._resolver.allowed(caller, delete, alias_resource(caller, n))
        )

    def on_secrets(self, caller: Caller, names: Iterable[str]) -> frozenset[str]:
        """Which of the Secrets Manager actions ``names`` the caller may perform on its secrets as a
        whole (CreateSecret, ListSecrets)."""
        return frozenset(n for n in names if self._resolver.allowed(caller, action(n), secrets_of(caller)))

    def on_secret(self, caller: Caller, secret: Secret, names: Iterable[str]) -> frozenset[str]:
        """Which of the Secrets Manager actions ``names`` the caller may perform on ``secret`` (its
        own policy counts, as it does for the action). Reading a value also needs Decrypt with the
        secret's key, which the read itself asks."""
        resource = secret_resource(secret.account_uid, secret.region, secret.name, secret.policy)
        return frozenset(n for n in names if self._resolver.allowed(caller, action(n), resource))

    def on_user(self, caller: Caller, names: Iterable[str], user_name: str = "*") -> frozenset[str]:
        """Which of the RAM actions ``names`` the caller may perform on a user (``*``: on users)."""
        resource = ram_resource(caller.account_uid, f"user/{user_name}")
        return frozenset(n for n in names if self._resolver.allowed(caller, action(n, "ram"), resource))

    def on_policy(
        self, caller: Caller, names: Iterable[str], name: str = "*", policy_type: PolicyType = PolicyType.CUSTOM
    ) -> frozenset[str]:
        """Which of the RAM actions ``names`` the caller may perform on a policy (``*``: on policies)."""
        resource = policy_resource(caller, name, policy_type)
        return frozenset(n for n in names if self._resolver.allowed(caller, action(n, "ram"), resource))

    def on_trail(self, caller: Caller, names: Iterable[str]) -> frozenset[str]:
        """Which of the ActionTrail actions ``names`` the caller may perform on its audit trail."""
        return frozenset(n for n in names if self._resolver.allowed(caller, action(n, "actiontrail"), trail_of(caller)))

    # --- who may use a key --------------------------------------------------------------------

    def key_users(self, caller: Caller, ref: str) -> KeyUsers:
        """Who may use the key ``ref``: needs GetKeyPolicy on it and ram:ListUsers.

        Each user is asked of the authorizer as a request of its own would be, over a secure
        transport from no particular address: a policy that holds only from some addresses or
        at some times does not count.
        """
        with self._store.read() as uow:
            key = self._resolver.key(uow, caller, ref, action("GetKeyPolicy"), int(self._clock.now()))
        self._resolver.authorize(caller, action("ListUsers", "ram"), ram_resource(caller.account_uid, "user/*"))
        with self._store.read() as uow:
            users = uow.users.list_all(key.account_uid)
        found = []
        for user in users:
            as_user = Caller(key.account_uid, key.region, user_name=user.name, secure_transport=True)
            allowed = tuple(n for n in USE_ACTIONS if self._resolver.allowed(as_user, action(n), key_resource(key)))
            if allowed:
                found.append(KeyUser(user.name, allowed))
        return KeyUsers(named_principals(key), tuple(found))


def named_principals(key: Key) -> tuple[str, ...]:
    """The principals the key's policy allows to encrypt or decrypt with it, as written."""
    try:
        policy = compile_policy(key.policy or default_policy(key.account_uid), Kind.RESOURCE)
    except MalformedPolicy:
        return ()  # such a policy grants nothing (service/authorizer.py)
    arn = key.arn()
    named: list[str] = []
    for st in policy.statements:
        uses = any(st.actions.matches(f"kms:{n}") for n in USE_ACTIONS)
        if st.effect is Effect.ALLOW and uses and st.resources.matches(arn) and st.principals is not None:
            named.extend(p for p in st.principals.patterns if p not in named)
    return tuple(named)
