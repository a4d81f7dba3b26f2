"""RAM policies, their versions and their attachments to users (RAM API 2015-05-01;
docs/reference/ram-2015-05-01.md sections 3.10 to 3.22).

Custom policies belong to an account; system policies are built in (domain/ram/system_policies.py)
and answer as RAM's do. A document is compiled when it is stored, so a malformed one is refused
with the line of its problem, never stored and later ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from openkms.domain import errors
from openkms.domain.actions import action
from openkms.domain.authorization import SYSTEM_ACCOUNT, Resource, ram_resource
from openkms.domain.identity import Caller
from openkms.domain.ports import Clock, Store, UnitOfWork
from openkms.domain.ram.document import MAX_IDENTITY_POLICY_BYTES, MalformedPolicy, compile_policy
from openkms.domain.ram.identities import (
    MAX_DESCRIPTION,
    VERSIONS_PER_POLICY,
    Attachment,
    ManagedPolicy,
    PolicyType,
    PolicyVersion,
    RamLimits,
    RotateStrategy,
    User,
    check_length,
    check_policy_name,
    check_user_name,
    version_number,
)
from openkms.domain.ram.system_policies import SYSTEM_POLICIES
from openkms.service.ram_users import Page, page_of
from openkms.service.resolve import KeyResolver


@dataclass(frozen=True, slots=True)
class PolicyView:
    """A policy as GetPolicy and ListPolicies show it."""

    policy: ManagedPolicy
    default: PolicyVersion
    attachments: int


def policy_resource(caller: Caller, name: str, policy_type: PolicyType = PolicyType.CUSTOM) -> Resource:
    owner = SYSTEM_ACCOUNT if policy_type is PolicyType.SYSTEM else caller.account_uid
    return ram_resource(owner, f"policy/{name}")


def _system(name: str) -> tuple[ManagedPolicy, PolicyVersion] | None:
    builtin = SYSTEM_POLICIES.get(name)
    if builtin is None:
        return None
    policy = ManagedPolicy(
        SYSTEM_ACCOUNT, name, PolicyType.SYSTEM, builtin.default_version, builtin.created_at, builtin.updated_at,
        builtin.description, version_number(builtin.default_version),
    )  # fmt: skip
    return policy, PolicyVersion(SYSTEM_ACCOUNT, name, builtin.default_version, builtin.document, builtin.updated_at)


def check_document(document: str) -> str:
    if len(document) > MAX_IDENTITY_POLICY_BYTES:
        raise errors.RamInvalidParameter("PolicyDocument", "Length")
    try:
        compile_policy(document)
    except MalformedPolicy as exc:
        raise errors.MalformedPolicyDocument(exc.reason, exc.line) from None
    return document


class RamPolicyService:
    def __init__(self, store: Store, resolver: KeyResolver, clock: Clock, limits: RamLimits) -> None:
        self._store = store
        self._resolver = resolver
        self._clock = clock
        self._limits = limits

    def _now(self) -> int:
        return int(self._clock.now())

    def _authorize(self, caller: Caller, name: str, *resources: Resource) -> None:
        for resource in resources:  # several resources: each must be allowed
            self._resolver.authorize(caller, action(name, "ram"), resource)

    # --- policies -----------------------------------------------------------------------------

    def create_policy(self, caller: Caller, name: str, document: str, description: str = "") -> ManagedPolicy:
        check_policy_name(name)
        check_length("Description", description, MAX_DESCRIPTION)
        check_document(document)
        self._authorize(caller, "CreatePolicy", policy_resource(caller, name))
        now = self._now()
        policy = ManagedPolicy(caller.account_uid, name, PolicyType.CUSTOM, "v1", now, now, description, 1)
        with self._store.write() as uow:
            if name in SYSTEM_POLICIES or uow.policies.get(caller.account_uid, name) is not None:
                raise errors.EntityAlreadyExists("Policy")
            if uow.policies.count(caller.account_uid) >= self._limits.custom_policies_per_account:
                raise errors.RamLimitExceeded("Policy")
            uow.policies.add(policy)
            uow.policies.add_version(PolicyVersion(caller.account_uid, name, "v1", document, now))
            uow.attachments.bump(caller.account_uid)
        return policy

    def get_policy(self, caller: Caller, name: str, policy_type: PolicyType) -> PolicyView:
        check_policy_name(name)
        self._authorize(caller, "GetPolicy", policy_resource(caller, name, policy_type))
        with self._store.read() as uow:
            policy, versions = _policy(uow, caller, name, policy_type)
            count = len(uow.attachments.for_policy(caller.account_uid, policy_type, name))
        return PolicyView(policy, _default(policy, versions), count)

    def list_policies(
        self, caller: Caller, policy_type: PolicyType | None, page: Page
    ) -> tuple[list[PolicyView], str | None]:
        self._authorize(caller, "ListPolicies", ram_resource(caller.account_uid, "policy/*"))
        views: list[PolicyView] = []
        with self._store.read() as uow:
            if policy_type in (None, PolicyType.SYSTEM):
                for name in SYSTEM_POLICIES:
                    policy, version = _system(name) or _impossible()
                    count = len(uow.attachments.for_policy(caller.account_uid, PolicyType.SYSTEM, name))
                    views.append(PolicyView(policy, version, count))
            if policy_type in (None, PolicyType.CUSTOM):
                for policy in uow.policies.list_all(caller.account_uid):
                    versions = uow.policies.versions(caller.account_uid, policy.name)
                    count = len(uow.attachments.for_policy(caller.account_uid, PolicyType.CUSTOM, policy.name))
                    views.append(PolicyView(policy, _default(policy, versions), count))
        start, end, marker = page_of([f"{v.policy.type}:{v.policy.name}" for v in views], page)
        return views[start:end], marker

    def delete_policy(self, caller: Caller, name: str, cascading: bool = False) -> None:
        check_policy_name(name)
        self._authorize(caller, "DeletePolicy", policy_resource(caller, name))
        with self._store.write() as uow:
            policy, versions = _policy(uow, caller, name, PolicyType.CUSTOM)
            if uow.attachments.for_policy(caller.account_uid, PolicyType.CUSTOM, name):
                raise errors.DeleteConflict("Policy.User")
            if len(versions) > 1 and not cascading:
                raise errors.DeleteConflict("Policy.Version")
            uow.policies.delete(caller.account_uid, policy.name)
            uow.attachments.bump(caller.account_uid)

    # --- versions -----------------------------------------------------------------------------

    def create_version(
        self, caller: Caller, name: str, document: str, set_as_default: bool, rotate: RotateStrategy
    ) -> PolicyVersion:
        check_policy_name(name)
        check_document(document)
        self._authorize(caller, "CreatePolicyVersion", policy_resource(caller, name))
        now = self._now()
        with self._store.write() as uow:
            policy, versions = _policy(uow, caller, name, PolicyType.CUSTOM)
            if len(versions) >= VERSIONS_PER_POLICY:
                if rotate is RotateStrategy.NONE:
                    raise errors.RamLimitExceeded("Policy.Version")
                oldest = next(v for v in versions if v.version_id != policy.default_version)
                uow.policies.delete_version(caller.account_uid, name, oldest.version_id)
            number = policy.last_version + 1  # ids are never reused
            version = PolicyVersion(caller.account_uid, name, f"v{number}", document, now)
            uow.policies.add_version(version)
            default = version.version_id if set_as_default else policy.default_version
            uow.policies.save(replace(policy, last_version=number, default_version=default, updated_at=now))
            uow.attachments.bump(caller.account_uid)
        return version

    def get_version(self, caller: Caller, name: str, policy_type: PolicyType, version_id: str) -> PolicyVersion:
        check_policy_name(name)
        version_number(version_id)
        self._authorize(caller, "GetPolicyVersion", policy_resource(caller, name, policy_type))
        with self._store.read() as uow:
            _, versions = _policy(uow, caller, name, policy_type)
        return _version(versions, version_id)

    def list_versions(
        self, caller: Caller, name: str, policy_type: PolicyType
    ) -> tuple[ManagedPolicy, list[PolicyVersion]]:
        check_policy_name(name)
        self._authorize(caller, "ListPolicyVersions", policy_resource(caller, name, policy_type))
        with self._store.read() as uow:
            return _policy(uow, caller, name, policy_type)

    def delete_version(self, caller: Caller, name: str, version_id: str) -> None:
        check_policy_name(name)
        version_number(version_id)
        self._authorize(caller, "DeletePolicyVersion", policy_resource(caller, name))
        with self._store.write() as uow:
            policy, versions = _policy(uow, caller, name, PolicyType.CUSTOM)
            _version(versions, version_id)
            if version_id == policy.default_version:
                raise errors.DeleteConflict("Policy.Version.Default")
            uow.policies.delete_version(caller.account_uid, name, version_id)
            uow.attachments.bump(caller.account_uid)

    def set_default_version(self, caller: Caller, name: str, version_id: str) -> None:
        check_policy_name(name)
        version_number(version_id)
        self._authorize(caller, "SetDefaultPolicyVersion", policy_resource(caller, name))
        with self._store.write() as uow:
            policy, versions = _policy(uow, caller, name, PolicyType.CUSTOM)
            _version(versions, version_id)
            if version_id != policy.default_version:
                uow.policies.save(replace(policy, default_version=version_id, updated_at=self._now()))
                uow.attachments.bump(caller.account_uid)

    # --- attachments --------------------------------------------------------------------------

    def attach(self, caller: Caller, policy_type: PolicyType, name: str, user_name: str) -> None:
        self._check_attachment(caller, "AttachPolicyToUser", policy_type, name, user_name)
        with self._store.write() as uow:
            _user(uow, caller, user_name)
            _policy(uow, caller, name, policy_type)
            attached = uow.attachments.for_user(caller.account_uid, user_name)
            if any((a.policy_type, a.policy_name) == (policy_type, name) for a in attached):
                raise errors.EntityAlreadyExists("User.Policy")
            limit = (
                self._limits.system_policies_per_user
                if policy_type is PolicyType.SYSTEM
                else self._limits.custom_policies_per_user
            )
            if sum(1 for a in attached if a.policy_type is policy_type) >= limit:
                raise errors.RamLimitExceeded("User.Policy")
            uow.attachments.add(Attachment(caller.account_uid, user_name, policy_type, name, self._now()))
            uow.attachments.bump(caller.account_uid)

    def detach(self, caller: Caller, policy_type: PolicyType, name: str, user_name: str) -> None:
        self._check_attachment(caller, "DetachPolicyFromUser", policy_type, name, user_name)
        with self._store.write() as uow:
            _user(uow, caller, user_name)
            _policy(uow, caller, name, policy_type)
            attached = uow.attachments.for_user(caller.account_uid, user_name)
            if not any((a.policy_type, a.policy_name) == (policy_type, name) for a in attached):
                raise errors.EntityNotExist("User.Policy")
            uow.attachments.delete(caller.account_uid, user_name, policy_type, name)
            uow.attachments.bump(caller.account_uid)

    def _check_attachment(self, caller: Caller, act: str, policy_type: PolicyType, name: str, user_name: str) -> None:
        check_user_name(user_name)
        check_policy_name(name)
        user = ram_resource(caller.account_uid, f"user/{user_name}")
        self._authorize(caller, act, user, policy_resource(caller, name, policy_type))

    def policies_for_user(self, caller: Caller, user_name: str) -> list[tuple[Attachment, PolicyView]]:
        check_user_name(user_name)
        self._authorize(caller, "ListPoliciesForUser", ram_resource(caller.account_uid, f"user/{user_name}"))
        out = []
        with self._store.read() as uow:
            _user(uow, caller, user_name)
            for attachment in uow.attachments.for_user(caller.account_uid, user_name):
                policy, versions = _policy(uow, caller, attachment.policy_name, attachment.policy_type)
                out.append((attachment, PolicyView(policy, _default(policy, versions), 0)))
        return out

    def entities_for_policy(self, caller: Caller, name: str, policy_type: PolicyType) -> list[tuple[Attachment, User]]:
        check_policy_name(name)
        self._authorize(caller, "ListEntitiesForPolicy", policy_resource(caller, name, policy_type))
        with self._store.read() as uow:
            _policy(uow, caller, name, policy_type)
            found = []
            for attachment in uow.attachments.for_policy(caller.account_uid, policy_type, name):
                user = uow.users.get(caller.account_uid, attachment.user_name)
                if user is not None:
                    found.append((attachment, user))
        return found


def _user(uow: UnitOfWork, caller: Caller, name: str) -> User:
    user = uow.users.get(caller.account_uid, name)
    if user is None:
        raise errors.EntityNotExist("User")
    return user


def _policy(
    uow: UnitOfWork, caller: Caller, name: str, policy_type: PolicyType
) -> tuple[ManagedPolicy, list[PolicyVersion]]:
    if policy_type is PolicyType.SYSTEM:
        found = _system(name)
        if found is None:
            raise errors.EntityNotExist("Policy")
        return found[0], [found[1]]
    policy = uow.policies.get(caller.account_uid, name)
    if policy is None:
        raise errors.EntityNotExist("Policy")
    return policy, uow.policies.versions(caller.account_uid, name)


def _version(versions: list[PolicyVersion], version_id: str) -> PolicyVersion:
    found = next((v for v in versions if v.version_id == version_id), None)
    if found is None:
        raise errors.EntityNotExist("Policy.Version")
    return found


def _default(policy: ManagedPolicy, versions: list[PolicyVersion]) -> PolicyVersion:
    return _version(versions, policy.default_version)


def _impossible() -> tuple[ManagedPolicy, PolicyVersion]:
    raise AssertionError("a built-in policy without its document")
