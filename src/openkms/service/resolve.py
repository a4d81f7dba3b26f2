"""Turns what a caller names (key id, ``alias/...``, key ARN or alias ARN) into a live key."""

from __future__ import annotations

from openkms.domain import errors
from openkms.domain.aliases import is_alias
from openkms.domain.identity import Caller
from openkms.domain.keys import Key, effective
from openkms.domain.ports import UnitOfWork

_ARN_PREFIX = "acs:kms:"


def _from_arn(ref: str, caller: Caller) -> str:
    """``acs:kms:<region>:<uid>:key/<id>`` or ``...:alias/<name>``; foreign ARNs are not found."""
    parts = ref.split(":", 4)
    if len(parts) != 5 or not parts[4]:
        raise errors.InvalidParameter("KeyId", "An ARN looks like acs:kms:<region>:<uid>:key/<key-id>.")
    region, uid, resource = parts[2], parts[3], parts[4]
    if region != caller.region or uid != caller.account_uid:
        raise errors.KeyNotFound()
    if resource.startswith("key/"):
        return resource[len("key/") :]
    if is_alias(resource):
        return resource
    raise errors.InvalidParameter("KeyId", "An ARN looks like acs:kms:<region>:<uid>:key/<key-id>.")


def key_id_of(uow: UnitOfWork, caller: Caller, ref: str) -> str:
    """The key id ``ref`` names, following an alias; raises the Alibaba not-found errors."""
    ref = ref.strip()
    if not ref:
        raise errors.MissingParameter("KeyId")
    if ref.startswith(_ARN_PREFIX):
        ref = _from_arn(ref, caller)
    if is_alias(ref):
        alias = uow.aliases.get(caller.account_uid, caller.region, ref)
        if alias is None:
            raise errors.AliasNotFound()
        return alias.key_id
    return ref


def resolve_stored(uow: UnitOfWork, caller: Caller, ref: str, now: int) -> Key:
    """The key as its row stands (see ``resolve_key`` for the key as callers see it)."""
    key = uow.keys.get(caller.account_uid, caller.region, key_id_of(uow, caller, ref))
    if key is None or key.is_gone(now):
        # An alias of a key past its deletion window is gone with it, purged or not yet.
        raise errors.AliasNotFound() if is_alias(ref.strip().rsplit(":", 1)[-1]) else errors.KeyNotFound()
    return key


def resolve_key(uow: UnitOfWork, caller: Caller, ref: str, now: int) -> Key:
    return effective(resolve_stored(uow, caller, ref, now), now)
