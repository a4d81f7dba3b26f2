"""The authorizer: RAM policies attached to the caller, and the key's policy, decided as Alibaba
documents (domain/ram/evaluate.py), for every action that reaches the key resolver.

* The account's own (root) AccessKeys have full access to the account's resources.
* A RAM user is allowed what its attached policies allow (explicit Deny wins) — or, on a key of
  its own account, what the key's policy allows it by name ("any Allow is sufficient").
* A key policy statement whose principal is a whole account (``acs:ram::<uid>:*``, the default
  policy's "Enable RAM User Permissions") grants that account and leaves its RAM users to their
  RAM policies: in the owner's account it grants the root, in another account it is the key
  policy's half of the cross-account AND. A Deny statement applies to everyone it names.
* Another account's caller needs both halves, and only for actions a key user may perform.

Compiled policies are cached per (account, user) and dropped when the account's RAM generation
moves, which every change of a user, policy or attachment does on any worker or node.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

from openkms.domain import errors
from openkms.domain.actions import Action
from openkms.domain.app_access import permission_for
from openkms.domain.authorization import IDENTITY_BASED, RESOURCE_BASED, SYSTEM_ACCOUNT, Resource
from openkms.domain.identity import Caller
from openkms.domain.keys import Key
from openkms.domain.policy import default_policy
from openkms.domain.ports import Clock, Store, UnitOfWork
from openkms.domain.ram.document import Effect, Kind, MalformedPolicy, Patterns, Policy, compile_policy
from openkms.domain.ram.evaluate import Decision, Request, combine, evaluate
from openkms.domain.ram.identities import PolicyType
from openkms.domain.ram.system_policies import SYSTEM_POLICIES

_CACHE_LIMIT = 4096
_DECISIONS_LIMIT = 65536
log = logging.getLogger("openkms.service")


@dataclass(frozen=True, slots=True)
class _KeyPolicy:
    full: Policy  # for principals of other accounts, and the owner's root
    own_users: Policy  # for the owner's RAM users: whole-account Allow statements delegate

    @property
    def condition_keys(self) -> frozenset[str]:
        return self.full.condition_keys  # own_users tests a subset of these


_NOTHING = Policy(())


@lru_cache(maxsize=1024)
def _key_policy(text: str, owner: str) -> _KeyPolicy:
    try:
        full = compile_policy(text, Kind.RESOURCE)
    except MalformedPolicy as exc:
        # Stored before policies were checked against RAM's grammar: it grants nothing (the
        # account itself keeps full access), and the operator hears of it once.
        log.warning("a key policy of account %s does not compile (%s): it grants nothing", owner, exc)
        return _KeyPolicy(_NOTHING, _NOTHING)
    whole_account = {f"acs:ram::{owner}:*", "*"}
    statements = []
    for statement in full.statements:
        kept = statement
        if statement.effect is Effect.ALLOW and statement.principals is not None:
            named = tuple(p for p in statement.principals.patterns if p not in whole_account)
            if not named:
                continue
            kept = replace(statement, principals=Patterns(named))
        statements.append(kept)
    return _KeyPolicy(full, Policy(tuple(statements)))


@lru_cache(maxsize=1024)
def _identity_policy(text: str) -> Policy:
    return compile_policy(text, Kind.IDENTITY)


@dataclass(frozen=True, slots=True)
class _UserPolicies:
    generation: int
    policies: tuple[Policy, ...]
    condition_keys: frozenset[str]


_ROOT = _UserPolicies(-1, (), frozenset())
Outcome = tuple[Decision, str]  # the decision, and the kind of policy that refused it


class PolicyAuthorizer:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._users: dict[tuple[str, str], _UserPolicies] = {}
        # Decisions by everything they depend on (the caller's policy generation, the key's policy
        # text, the values of the condition keys the policies test): a caller repeating a request
        # is decided by one look-up, however many statements its policies hold.
        self._decisions: dict[tuple[object, ...], Outcome] = {}

    def authorize(
        self, caller: Caller, action: Action, resource: Resource, conditions: Mapping[str, str] | None = None
    ) -> None:
        if caller.application is not None:
            self._application(caller, action, resource)
            return
        # System policies (account "system") are everyone's to read and attach.
        same_account = resource.account_uid in (caller.account_uid, SYSTEM_ACCOUNT)
        if caller.is_root and same_account:
            return  # an account has full access to its own resources
        key = resource.key
        if not same_account and (key is None or not action.cross_account):
            raise self._denied(caller, action, resource, Decision.IMPLICIT_DENY, RESOURCE_BASED)
        user = _ROOT if caller.is_root else self._policies(caller)
        policy_text = resource.policy if key is None else key.policy or default_policy(key.account_uid)
        key_policy = None if policy_text is None else _key_policy(policy_text, resource.account_uid)
        tested = user.condition_keys | (key_policy.condition_keys if key_policy is not None else frozenset())
        context = self._context(caller, key, conditions, tested)
        memo = (
            caller.account_uid, caller.user_name, user.generation, action.ram_name, resource.arn,
            policy_text, tuple(sorted(context.items())),
        )  # fmt: skip
        outcome = self._decisions.get(memo)
        if outcome is None:
            request = Request(action.ram_name, resource.arn, caller.principal_arn, context)
            outcome = _decide(caller, user, key_policy, same_account, request)
            with self._lock:
                if len(self._decisions) >= _DECISIONS_LIMIT:
                    self._decisions.clear()
                self._decisions[memo] = outcome
        if outcome[0] is not Decision.ALLOW:
            raise self._denied(caller, action, resource, *outcome)

    def _application(self, caller: Caller, action: Action, resource: Resource) -> None:
        """An application (a client key's caller) may do what its access point's policies grant:
        the template's actions on the resources they name, in their instance, from their
        networks; never anything in another account."""
        assert caller.application is not None
        permission = permission_for(action)
        store_id = resource.key.key_store_id if resource.key is not None else None
        allowed = (
            permission is not None
            and resource.account_uid == caller.account_uid
            and caller.application.allows(permission, resource.path, store_id, caller.source_ip)
        )
        if not allowed:
            raise self._denied(caller, action, resource, Decision.IMPLICIT_DENY, IDENTITY_BASED)

    @staticmethod
    def _denied(
        caller: Caller, action: Action, resource: Resource, decision: Decision, policy_type: str
    ) -> errors.AccessDenied:
        return errors.AccessDenied(
            action.ram_name,
            resource.arn,
            explicit=decision is Decision.EXPLICIT_DENY,
            principal_type="Account" if caller.is_root else "SubUser",
            policy_type=policy_type,
            principal_owner=caller.account_uid,
        )

    def _context(
        self, caller: Caller, key: Key | None, conditions: Mapping[str, str] | None, tested: frozenset[str]
    ) -> dict[str, tuple[str, ...]]:
        """The values of the condition keys the policies test (and only those: a decision is
        remembered by them)."""
        if not tested:
            return {}
        known: dict[str, tuple[str, ...]] = {}
        if "acs:currenttime" in tested:
            known["acs:currenttime"] = (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock.now())),)
        if "acs:accessid" in tested:
            known["acs:accessid"] = (caller.access_key_id,)
        if "acs:securetransport" in tested:
            known["acs:securetransport"] = ("true" if caller.secure_transport else "false",)
        if "acs:sourceip" in tested and caller.source_ip:
            known["acs:sourceip"] = (caller.source_ip,)
        for name, value in (conditions or {}).items():
            if name.lower() in tested:
                known[name.lower()] = (value,)
        if key is not None and any(name.startswith("kms:tag/") for name in tested):
            with self._store.read() as uow:
                for tag in uow.tags.for_key(key.id):
                    name = f"kms:tag/{tag.key}".lower()
                    if name in tested:
                        known[name] = (tag.value,)
        return known

    def _policies(self, caller: Caller) -> _UserPolicies:
        with self._store.read() as uow:
            generation = uow.attachments.generation(caller.account_uid)
            cache_key = (caller.account_uid, caller.user_name)
            found = self._users.get(cache_key)
            if found is not None and found.generation == generation:
                return found
            policies = tuple(_identity_policy(text) for text in _attached_documents(uow, caller))
        made = _UserPolicies(generation, policies, frozenset().union(*(p.condition_keys for p in policies)))
        with self._lock:
            if len(self._users) >= _CACHE_LIMIT:
                self._users.clear()
            self._users[cache_key] = made
        return made


def _decide(
    caller: Caller, user: _UserPolicies, key_policy: _KeyPolicy | None, same_account: bool, request: Request
) -> Outcome:
    identity = Decision.ALLOW if caller.is_root else evaluate(user.policies, request)
    if key_policy is None:
        return identity, IDENTITY_BASED
    own_user = same_account and not caller.is_root
    on_key = evaluate([key_policy.own_users if own_user else key_policy.full], request)
    # Which half left it without an Allow (another account's caller needs the key's).
    key_refused = on_key is Decision.EXPLICIT_DENY or (not same_account and on_key is not Decision.ALLOW)
    return combine(identity, on_key, same_account), RESOURCE_BASED if key_refused else IDENTITY_BASED


def _attached_documents(uow: UnitOfWork, caller: Caller) -> list[str]:
    """The default version of every policy attached to the caller's user."""
    documents = []
    for attachment in uow.attachments.for_user(caller.account_uid, caller.user_name):
        if attachment.policy_type is PolicyType.SYSTEM:
            builtin = SYSTEM_POLICIES.get(attachment.policy_name)
            if builtin is not None:
                documents.append(builtin.document)
            continue
        policy = uow.policies.get(caller.account_uid, attachment.policy_name)
        if policy is None:
            continue
        for version in uow.policies.versions(caller.account_uid, policy.name):
            if version.version_id == policy.default_version:
                documents.append(version.document)
    return documents
