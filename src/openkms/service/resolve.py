"""The one door to a key: what a caller names (key id, ``alias/...``, key ARN or alias ARN) turned
into a live key, after asking the authorizer whether the caller may perform the action on it and
checking that the key's state allows the action.

Every service reaches keys through a ``KeyResolver``, and asks it about actions that name no key
(``authorize``), so a rule added here (access control, later audit) reaches every action.
"""

from __future__ import annotations

from openkms.domain import errors
from openkms.domain.actions import Action
from openkms.domain.aliases import is_alias
from openkms.domain.authorization import Resource, key_resource, keys_of
from openkms.domain.identity import Caller
from openkms.domain.keys import Key, effective
from openkms.domain.ports import Authorizer, UnitOfWork
from openkms.domain.states import require
from openkms.service.backends import Backends
from openkms.service.discards import Discards
from openkms.service.material import forget_material

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


def _stored(uow: UnitOfWork, caller: Caller, ref: str, now: int) -> Key:
    """The key as its row stands (callers see ``effective`` of it)."""
    key = uow.keys.get(caller.account_uid, caller.region, key_id_of(uow, caller, ref))
    if key is None or key.is_gone(now):
        # An alias of a key past its deletion window is gone with it, purged or not yet.
        raise errors.AliasNotFound() if is_alias(ref.strip().rsplit(":", 1)[-1]) else errors.KeyNotFound()
    return key


class KeyResolver:
    def __init__(self, authorizer: Authorizer) -> None:
        self._authorizer = authorizer

    def authorize(self, caller: Caller, action: Action, resource: Resource | None = None) -> None:
        """An action on something other than one key: by default the caller's keys as a whole."""
        self._authorizer.authorize(caller, action, resource or keys_of(caller))

    def key(self, uow: UnitOfWork, caller: Caller, ref: str, action: Action, now: int) -> Key:
        """The key ``ref`` names as callers see it, if the caller may perform ``action`` on it and
        its state allows the action."""
        return self._checked(caller, effective(_stored(uow, caller, ref, now), now), action)

    def for_update(
        self, uow: UnitOfWork, caller: Caller, ref: str, action: Action, now: int, backends: Backends,
        discards: Discards,
    ) -> Key:  # fmt: skip
        """``key`` inside a write transaction that may save the key.

        A key whose material expired is seen as PendingImport with no expiry; once saved so,
        nothing records that its material must go, and a later ScheduleKeyDeletion +
        CancelKeyDeletion would find the material and enable the key again. So the material is
        deleted in the same transaction, as the background job would have done.
        """
        stored = _stored(uow, caller, ref, now)
        key = self._checked(caller, effective(stored, now), action)
        if key is not stored:
            forget_material(uow, backends, key, discards)
        return key

    def _checked(self, caller: Caller, key: Key, action: Action) -> Key:
        # Authorization before the state: a caller who may not use a key learns nothing of it.
        self._authorizer.authorize(caller, action, key_resource(key))
        if action.op is not None:
            require(key.state, action.op)
        return key
