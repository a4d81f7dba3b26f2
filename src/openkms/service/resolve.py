"""The one door to a key: what a caller names (key id, ``alias/...``, key ARN or alias ARN) turned
into a live key, after asking the authorizer whether the caller may perform the action on it and
checking that the key's state allows the action.

Every service reaches keys through a ``KeyResolver``, and asks it about actions that name no key
(``authorize``), so a rule added here (access control, later audit) reaches every action.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from openkms.domain import errors
from openkms.domain.actions import Action
from openkms.domain.aliases import is_alias
from openkms.domain.authorization import RESOURCE_BASED, Resource, key_resource, keys_of
from openkms.domain.identity import Caller
from openkms.domain.keys import Key, effective
from openkms.domain.ports import Authorizer, UnitOfWork
from openkms.domain.states import require
from openkms.service.audit import note_action, note_key
from openkms.service.backends import Backends
from openkms.service.discards import Discards
from openkms.service.material import forget_material

_ARN_PREFIX = "acs:kms:"
T = TypeVar("T")


def _owner_and_name(ref: str, caller: Caller) -> tuple[str, str]:
    """(the account that owns what ``ref`` names, the key id or ``alias/...`` within it).

    ``acs:kms:<region>:<uid>:key/<id>`` or ``...:alias/<name>`` may name another account's key:
    that is how keys are shared (the authorizer decides). Another region's ARN is not found here.
    """
    ref = ref.strip()
    if not ref:
        raise errors.MissingParameter("KeyId")
    if not ref.startswith(_ARN_PREFIX):
        return caller.account_uid, ref
    parts = ref.split(":", 4)
    if len(parts) != 5 or not parts[4]:
        raise errors.InvalidParameter("KeyId", "An ARN looks like acs:kms:<region>:<uid>:key/<key-id>.")
    region, uid, resource = parts[2], parts[3], parts[4]
    if region != caller.region:
        raise errors.KeyNotFound()
    if resource.startswith("key/"):
        return uid, resource[len("key/") :]
    if is_alias(resource):
        return uid, resource
    raise errors.InvalidParameter("KeyId", "An ARN looks like acs:kms:<region>:<uid>:key/<key-id>.")


def _stored(uow: UnitOfWork, caller: Caller, ref: str, now: int) -> Key:
    """The key as its row stands (callers see ``effective`` of it)."""
    owner, name = _owner_and_name(ref, caller)
    key_id = name
    if is_alias(name):
        alias = uow.aliases.get(owner, caller.region, name)
        if alias is None:
            raise errors.AliasNotFound()
        key_id = alias.key_id
    key = uow.keys.get(owner, caller.region, key_id)
    if key is None or key.is_gone(now):
        # An alias of a key past its deletion window is gone with it, purged or not yet.
        raise errors.AliasNotFound() if is_alias(name) else errors.KeyNotFound()
    return key


class KeyResolver:
    def __init__(self, authorizer: Authorizer) -> None:
        self._authorizer = authorizer

    def authorize(self, caller: Caller, action: Action, resource: Resource | None = None) -> None:
        """An action on something other than one key: by default the caller's keys as a whole."""
        note_action(action)
        self._authorizer.authorize(caller, action, resource or keys_of(caller))

    def allowed(self, caller: Caller, action: Action, resource: Resource | None = None) -> bool:
        """Whether ``authorize`` would let the caller perform ``action``, without performing it:
        what an entry point asks to offer only the actions a caller may take."""
        try:  # the authorizer itself: asking is not performing, and is not noted for the audit event
            self._authorizer.authorize(caller, action, resource or keys_of(caller))
        except errors.AccessDenied:
            return False
        return True

    def visible(self, caller: Caller, action: Action, container: Resource, items: Sequence[T],
                resource_of: Callable[[T], Resource]) -> list[T]:  # fmt: skip
        """What a listing shows the caller: everything when the action is allowed on the container
        (RAM's rule for ListKeys and ListAliases), otherwise the items it is allowed on one by
        one; none of either is a denial of the container."""
        note_action(action)
        if self.allowed(caller, action, container):
            return list(items)
        shown = [item for item in items if self.allowed(caller, action, resource_of(item))]
        if not shown:
            self.authorize(caller, action, container)  # raises the container's denial
        return shown

    def key(
        self,
        uow: UnitOfWork,
        caller: Caller,
        ref: str,
        action: Action,
        now: int,
        conditions: Mapping[str, str] | None = None,
    ) -> Key:
        """The key ``ref`` names as callers see it, if the caller may perform ``action`` on it and
        its state allows the action. ``conditions``: the request's own condition keys
        (kms:EncryptionAlgorithm) for the policies to test."""
        return self._checked(caller, effective(_stored(uow, caller, ref, now), now), action, conditions)

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

    def _checked(self, caller: Caller, key: Key, action: Action, conditions: Mapping[str, str] | None = None) -> Key:
        note_key(key)  # the audit event names the key, whether the action is allowed or not
        note_action(action)
        # Authorization before the state: a caller who may not use a key learns nothing of it.
        try:
            self._authorizer.authorize(caller, action, key_resource(key), conditions)
        except errors.AccessDenied as denied:
            if key.account_uid != caller.account_uid and denied.policy_type == RESOURCE_BASED:
                # Another account's key not shared with the caller: as if it did not exist.
                raise errors.KeyNotFound() from None
            raise
        if action.op is not None:
            require(key.state, action.op)
        return key
