"""Deciding a request against policies: an explicit Deny wins over any Allow, an Allow over the
implicit deny (RAM's "How RAM evaluates policies"); a key's policy combines with the caller's RAM
policies as Alibaba documents for KMS."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from openkms.domain.ram.conditions import Context
from openkms.domain.ram.document import Effect, Policy, Statement


class Decision(StrEnum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True, slots=True)
class Request:
    action: str  # kms:Encrypt
    resource: str  # acs:kms:cn-hangzhou:1234:key/<id>
    principal: str = ""  # acs:ram::1234:user/alice, or acs:ram::1234:root: for resource policies
    context: Context = field(default_factory=dict)


def _applies(st: Statement, request: Request) -> bool:
    if not st.actions.matches(request.action) or not st.resources.matches(request.resource):
        return False
    if st.principals is not None and not st.principals.matches(request.principal):
        return False
    return all(c.holds(request.context) for c in st.conditions)


def evaluate(policies: Iterable[Policy], request: Request) -> Decision:
    allowed = False
    for policy in policies:
        for st in policy.statements:
            if _applies(st, request):
                if st.effect is Effect.DENY:
                    return Decision.EXPLICIT_DENY
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def combine(identity: Decision, resource: Decision, same_account: bool) -> Decision:
    """A caller's RAM policies (``identity``) with the key's or secret's policy (``resource``).

    Same account: either may allow, unless either denies. Another account: both must allow
    (Alibaba's key policy overview); an explicit deny in either is reported as such.
    """
    if Decision.EXPLICIT_DENY in (identity, resource):
        return Decision.EXPLICIT_DENY
    if same_account:
        return Decision.ALLOW if Decision.ALLOW in (identity, resource) else Decision.IMPLICIT_DENY
    return Decision.ALLOW if identity is resource is Decision.ALLOW else Decision.IMPLICIT_DENY
