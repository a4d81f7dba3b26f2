"""What an authorizer is asked: who (the caller), may do what (an action), to which resource.

Resources are named as RAM names them: ``acs:kms:<region>:<account>:key/<key-id>``,
``...:alias/<name>``, and ``...:key`` for actions on the account's keys as a whole (CreateKey,
ListKeys). The decision itself is the authorizer's (a port): the service layer asks it through
the key resolver for every action, and the composition root chooses the implementation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from openkms.domain.actions import Action
from openkms.domain.identity import Caller
from openkms.domain.keys import Key


@dataclass(frozen=True, slots=True)
class Resource:
    region: str
    account_uid: str
    path: str  # "key/<id>", "alias/<name>", or "key" for the account's keys as a whole
    key: Key | None = None  # the key itself, when the resource is one (its tags are conditions)
    service: str = "kms"
    # A resource's own policy other than a key's (a secret's: SetSecretPolicy), combined with the
    # caller's RAM policies as a key's policy is.
    policy: str | None = None

    @property
    def arn(self) -> str:
        return f"acs:{self.service}:{self.region}:{self.account_uid}:{self.path}"


def key_resource(key: Key) -> Resource:
    return Resource(key.region, key.account_uid, f"key/{key.id}", key)


def alias_resource(caller: Caller, name: str) -> Resource:
    return Resource(caller.region, caller.account_uid, name)  # alias names start with "alias/"


def secret_resource(account_uid: str, region: str, name: str, policy: str | None = None) -> Resource:
    """``acs:kms:<region>:<account>:secret/<name>`` with the secret's policy, when it has one."""
    return Resource(region, account_uid, f"secret/{name}", policy=policy)


def secrets_of(caller: Caller) -> Resource:
    """The caller's secrets in its region as a whole: what CreateSecret and ListSecrets act on."""
    return Resource(caller.region, caller.account_uid, "secret")


SYSTEM_ACCOUNT = "system"
# AccessDeniedDetail's PolicyType values: which kind of policy left the request without an Allow.
IDENTITY_BASED = "AccountLevelIdentityBasedPolicy"
RESOURCE_BASED = "ResourceBasedPolicy"  # the account segment of a RAM system policy's ARN


def ram_resource(account_uid: str, path: str) -> Resource:
    """``acs:ram:*:<account>:user/<name>``, ``...:policy/<name>`` (RAM's resources name no region)."""
    return Resource("*", account_uid, path, service="ram")


def trail_of(caller: Caller) -> Resource:
    """``acs:actiontrail:<region>:<account>:*``: the caller's audit trail, what LookupEvents reads
    (ActionTrail grants it on all resources)."""
    return Resource(caller.region, caller.account_uid, "*", service="actiontrail")


def keys_of(caller: Caller) -> Resource:
    """The caller's keys in its region as a whole: what CreateKey and the listings act on."""
    return Resource(caller.region, caller.account_uid, "key")


class AllowAll:
    """Every caller may do everything to its own account's resources (the behaviour before
    access control; scoping by account is the resolver's, not the authorizer's)."""

    def authorize(
        self, caller: Caller, action: Action, resource: Resource, conditions: Mapping[str, str] | None = None
    ) -> None:
        return None
