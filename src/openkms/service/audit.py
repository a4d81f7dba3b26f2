"""Audit events from what the entry points and the service layer know of each change.

Entry points (the RPC protocol, the console) describe a request as ``RequestFacts`` and hand it
to ``AuditRecorder.request`` once the answer is known; background jobs call ``background``.
Which keys a request acted on is noted by ``KeyResolver`` as it finds them (``note_key``, into
the ``noting`` scope the entry point opens): every action reaches its keys through the resolver,
so no handler has to remember to say it, and the key a ciphertext named is noted like one named
by id. The first key's owner is the event's ``recipientAccountId`` (another account's key used
through its key policy is the owner's event).

Fail-closed trails are asked first (``admit``): a request the trail cannot promise to record is
refused before it does anything.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from openkms.domain import audit
from openkms.domain.actions import Action, action
from openkms.domain.audit import AuditEvent, EventRW, EventType, UserIdentity, event_time, redact
from openkms.domain.identity import Caller
from openkms.domain.keys import Key
from openkms.domain.ports import AuditSink, Clock, IdGenerator
from openkms.domain.secrets import Secret

# "openkms": the test control API (/_openkms/), which no cloud service has.
SOURCES = {
    "kms": audit.KMS_SOURCE,
    "ram": audit.RAM_SOURCE,
    "actiontrail": "actiontrail.aliyuncs.com",
    "openkms": "openkms.control",
}
SERVICE_NAMES = {"kms": "Kms", "ram": "Ram", "actiontrail": "Actiontrail", "openkms": "OpenKmsControl"}
API_VERSIONS = {"kms": "2016-01-20", "ram": "2015-05-01", "actiontrail": "2020-07-06"}
SYSTEM = UserIdentity("system", user_name="kms.aliyuncs.com")  # ActionTrail's identity for a service's own act


@dataclass
class Noted:
    """What one request did, as the resolver saw it: the keys it acted on, as ``(owner account,
    key id)``, and the actions it performed (asked of the authorizer), each in the order found."""

    keys: list[tuple[str, str]] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # secret names (always the caller's account)

    def main_action(self) -> Action | None:
        """What a console request is named after: the first change it made, else the first read."""
        return next((a for a in self.actions if a.writes), self.actions[0] if self.actions else None)


_noted: contextvars.ContextVar[Noted | None] = contextvars.ContextVar("openkms_audit_noted", default=None)


class _Noting:
    """``noting()``'s scope, a class rather than a generator: it is entered on every request, and
    ``contextlib.contextmanager``'s machinery costs several times the work it wraps."""

    __slots__ = ("_token",)

    def __enter__(self) -> Noted:
        noted = Noted()
        self._token = _noted.set(noted)
        return noted

    def __exit__(self, *exc: object) -> None:
        _noted.reset(self._token)


def noting() -> AbstractContextManager[Noted]:
    """Collect the keys the code run inside acts on (one request)."""
    return _Noting()


def note_key(key: Key) -> None:
    noted = _noted.get()
    if noted is not None and (key.account_uid, key.id) not in noted.keys:
        noted.keys.append((key.account_uid, key.id))


def note_secret(name: str) -> None:
    noted = _noted.get()
    if noted is not None and name not in noted.secrets:
        noted.secrets.append(name)


def note_action(action: Action) -> None:
    noted = _noted.get()
    if noted is not None and action not in noted.actions:
        noted.actions.append(action)


@dataclass
class RequestFacts:
    """What an entry point knows of one request, filled in as the request goes on.

    ``access_key_id`` is the one the request claimed, known before its signature is checked (a
    refused signature is an event too); ``caller`` is set once it is."""

    event_type: EventType
    request_id: str
    source_ip: str = ""
    user_agent: str = ""
    event_name: str = ""
    service: str = "kms"
    api_version: str = ""
    region: str = ""
    access_key_id: str = ""
    caller: Caller | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    response: Mapping[str, Any] = field(default_factory=dict)
    error_code: str = ""
    error_message: str = ""
    noted: Noted = field(default_factory=Noted)
    # Whose trail holds an event with no caller and no key: a refused log-on with an account's
    # real AccessKey id is that account's to see.
    recipient_account_id: str = ""

    def named_after_actions(self, fallback: str, read: str = "") -> None:
        """A console request: named after the API action it performed (what the same change
        made through the API would be called); one that changed nothing after ``read`` if given
        (``kms:ListKeys``: a page may read several things); ``fallback`` when it performed none."""
        main = self.noted.main_action()
        if read and (main is None or not main.writes):
            service, _, name = read.partition(":")
            main = action(name, service)
        if main is None:
            self.event_name = fallback
            return
        self.event_name, self.service, self.api_version = main.name, main.service, API_VERSIONS[main.service]


def _identity(facts: RequestFacts) -> UserIdentity:
    caller = facts.caller
    if caller is None:  # the signature was not (or could not be) checked: only the claim is known
        return UserIdentity("unknown", access_key_id=facts.access_key_id[:128])
    if caller.is_root:
        return UserIdentity("root-account", caller.account_uid, caller.account_uid, caller.access_key_id)
    # principalId: the RAM user's name; openkms's caller carries the name, not the user's id.
    return UserIdentity("ram-user", caller.user_name, caller.account_uid, caller.access_key_id, caller.user_name)


def _created(facts: RequestFacts) -> list[tuple[str, str]]:
    """The key a request made (CreateKey): no resolver found it, its answer names it."""
    metadata = facts.response.get("KeyMetadata")
    if facts.caller is not None and isinstance(metadata, Mapping) and isinstance(metadata.get("KeyId"), str):
        return [(facts.caller.account_uid, metadata["KeyId"])]
    return []


def _writes(name: str, service: str) -> bool:
    try:
        return action(name, service).writes
    except KeyError:  # no such action: the request did nothing
        return False


def _referenced(keys: list[tuple[str, str]], secrets: list[str]) -> dict[str, tuple[str, ...]]:
    """ActionTrail's referencedResources: the keys and the secrets a request acted on."""
    out: dict[str, tuple[str, ...]] = {}
    if keys:
        out[audit.KEY_RESOURCE] = tuple(k for _, k in keys)
    if secrets:
        out[audit.SECRET_RESOURCE] = tuple(secrets)
    return out


class AuditRecorder:
    def __init__(self, sink: AuditSink, clock: Clock, ids: IdGenerator) -> None:
        self._sink = sink
        self._clock = clock
        self._ids = ids

    def admit(self) -> None:
        """Before a request or a background change does anything (fail-closed: may refuse)."""
        self._sink.admit()

    def keyed_hash(self, value: bytes) -> str:
        return self._sink.keyed_hash(value)

    def request(self, facts: RequestFacts) -> None:
        """Record one request's event (fail-closed: raises ``AuditUnavailable`` if it cannot)."""
        caller = facts.caller
        keys = facts.noted.keys or _created(facts)
        recipient = keys[0][0] if keys else (caller.account_uid if caller else facts.recipient_account_id)
        hashed = self._sink.keyed_hash
        self._sink.record(
            AuditEvent(
                event_id=self._ids.new_id(),
                event_name=facts.event_name,
                event_source=SOURCES.get(facts.service, audit.KMS_SOURCE),
                event_type=facts.event_type,
                event_rw=EventRW.WRITE if _writes(facts.event_name, facts.service) else EventRW.READ,
                event_time=event_time(self._clock.now()),
                acs_region=facts.region,
                request_id=facts.request_id,
                api_version=facts.api_version,
                user_identity=_identity(facts),
                source_ip_address=facts.source_ip,
                user_agent=facts.user_agent[:512],
                error_code=facts.error_code,
                error_message=facts.error_message,
                request_parameters=redact(facts.parameters, hashed),
                response_elements=redact(facts.response, hashed),
                recipient_account_id=recipient,
                service_name=SERVICE_NAMES.get(facts.service, ""),
                referenced_resources=_referenced(keys, facts.noted.secrets),
            )
        )

    def background(self, name: str, key: Key, parameters: Mapping[str, Any]) -> None:
        """Record a change openkms made by itself to ``key`` (rotation, purge, material expiry)."""
        self._service_event(name, key.region, key.account_uid, {"KeyId": key.id, **parameters},
                            {audit.KEY_RESOURCE: (key.id,)})  # fmt: skip

    def background_secret(self, name: str, secret: Secret, parameters: Mapping[str, str] | None = None) -> None:
        """Record a change openkms made by itself to a secret (its purge after the recovery window,
        a scheduled rotation)."""
        self._service_event(name, secret.region, secret.account_uid, {"SecretName": secret.name, **(parameters or {})},
                            {audit.SECRET_RESOURCE: (secret.name,)})  # fmt: skip

    def _service_event(
        self, name: str, region: str, account_uid: str, parameters: Mapping[str, Any],
        resources: Mapping[str, tuple[str, ...]],
    ) -> None:  # fmt: skip
        self._sink.record(
            AuditEvent(
                event_id=self._ids.new_id(),
                event_name=name,
                event_source=audit.KMS_SOURCE,
                event_type=EventType.SERVICE_EVENT,
                event_rw=EventRW.WRITE,
                event_time=event_time(self._clock.now()),
                acs_region=region,
                request_id=self._ids.new_id().upper(),
                api_version="2016-01-20",
                user_identity=SYSTEM,
                request_parameters=redact(parameters, self._sink.keyed_hash),
                recipient_account_id=account_uid,
                service_name="Kms",
                referenced_resources=resources,
            )
        )
