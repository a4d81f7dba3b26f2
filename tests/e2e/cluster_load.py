"""Signed load spread over the nodes of a cluster, and the ledger of what the nodes acknowledged.

Every request is a V1-signed body (tests/e2e/raw.py) sent on a fresh connection to one of the nodes
that are up at that moment, chosen in turn. A request counts as acknowledged only when a node
answered it with HTTP 200: one that met a node being killed (refused, reset, no answer) is not
counted either way, since the cluster may or may not have done it. The bodies of acknowledged
requests are kept, so that each can be sent again as a replay.
"""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.e2e import raw

VERSIONS_PER_KEY = 40  # under Alibaba's 50 versions per key: then a fresh asymmetric key
THROTTLED = (429, "Rejected.Throttling", "QPS Limit Exceeded")
PENDING_DAYS = "30"  # longer than the server clock is moved, so no acknowledged deletion is purged


class Unanswered(Exception):
    """The node went away (or was never reached) before it answered."""


@dataclass
class Nodes:
    """The ports of the nodes that are up; the clients take them in turn."""

    ports: dict[str, int] = field(default_factory=dict)
    _turn: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def up(self, name: str, port: int) -> None:
        with self._lock:
            self.ports[name] = port

    def down(self, name: str) -> None:
        with self._lock:
            self.ports.pop(name, None)

    def next_port(self) -> int:
        with self._lock:
            ports = sorted(self.ports.values())
            return ports[next(self._turn) % len(ports)]

    def all_ports(self) -> list[int]:
        with self._lock:
            return sorted(self.ports.values())


def send(port: int, body: bytes) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        return raw.post(conn, body)
    except (OSError, http.client.HTTPException, json.JSONDecodeError) as exc:
        raise Unanswered(str(exc)) from exc
    finally:
        conn.close()


@dataclass
class Ledger:
    """What the cluster acknowledged, with the signed bodies it accepted."""

    keys: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # alias name -> key id
    ciphertexts: list[tuple[str, str]] = field(default_factory=list)  # (blob, plaintext base64)
    versions: list[tuple[str, str]] = field(default_factory=list)  # (key id, version id)
    deletions: list[str] = field(default_factory=list)
    accepted: dict[str, list[bytes]] = field(default_factory=dict)  # action -> acknowledged bodies
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (action, 200 | code | unanswered)
    wrong_plaintexts: int = 0
    crashed: list[str] = field(default_factory=list)  # a client thread's own failure: fails the test
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, action: str, outcome: str, body: bytes | None = None) -> None:
        with self.lock:
            self.outcomes[action, outcome] += 1
            if body is not None:
                self.accepted.setdefault(action, []).append(body)


@dataclass
class Client:
    """One client thread's account and its own run of actions on the cluster."""

    nodes: Nodes
    ledger: Ledger
    access_key_id: str
    secret: str
    name: str

    def call(self, action: str, **params: str) -> dict[str, Any] | None:
        """The answer of an acknowledged request; None when it was refused or not answered."""
        body = raw.signed_body(self.access_key_id, self.secret, action, **params)
        try:
            status, answer = send(self.nodes.next_port(), body)
        except Unanswered:
            self.ledger.note(action, "unanswered")
            return None
        if status != 200:
            self.ledger.note(action, str(answer.get("Code", status)))
            return None
        self.ledger.note(action, "200", body)
        return answer

    def run(self, stop: threading.Event) -> None:
        asymmetric: tuple[str, int] | None = None  # (key id, versions made)
        previous: tuple[str, str] | None = None
        for n in itertools.count():
            if stop.is_set():
                return
            asymmetric = self._new_version(asymmetric)
            created = self.call("CreateKey", Description=f"{self.name} {n}")
            if created is None:
                continue
            key_id = created["KeyMetadata"]["KeyId"]
            with self.ledger.lock:
                self.ledger.keys.append(key_id)
            if n % 3 == 2:  # every third key is scheduled for deletion instead of used
                if self.call("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=PENDING_DAYS) is not None:
                    with self.ledger.lock:
                        self.ledger.deletions.append(key_id)
                continue
            alias = f"alias/{self.name}-{n}"
            if self.call("CreateAlias", AliasName=alias, KeyId=key_id) is not None:
                with self.ledger.lock:
                    self.ledger.aliases[alias] = key_id
            previous = self._encrypt_and_decrypt(key_id, n, previous)

    def _encrypt_and_decrypt(self, key_id: str, n: int, previous: tuple[str, str] | None) -> tuple[str, str] | None:
        """Encrypts under ``key_id``; decrypts the last acknowledged ciphertext (on another node)."""
        plaintext = base64.b64encode(f"{self.name} secret {n}".encode()).decode()
        encrypted = self.call("Encrypt", KeyId=key_id, Plaintext=plaintext)
        if previous is not None:
            decrypted = self.call("Decrypt", CiphertextBlob=previous[0])
            if decrypted is not None and decrypted["Plaintext"] != previous[1]:
                with self.ledger.lock:
                    self.ledger.wrong_plaintexts += 1
        if encrypted is None:
            return previous
        blob = encrypted["CiphertextBlob"]
        with self.ledger.lock:
            self.ledger.ciphertexts.append((blob, plaintext))
        return blob, plaintext

    def _new_version(self, asymmetric: tuple[str, int] | None) -> tuple[str, int] | None:
        """A new version of this client's asymmetric key (a fresh key once it has many)."""
        if asymmetric is None or asymmetric[1] >= VERSIONS_PER_KEY:
            created = self.call("CreateKey", KeySpec="EC_P256", KeyUsage="SIGN/VERIFY")
            if created is None:
                return asymmetric
            key_id = created["KeyMetadata"]["KeyId"]
            with self.ledger.lock:
                self.ledger.keys.append(key_id)
            asymmetric = (key_id, 1)
        answer = self.call("CreateKeyVersion", KeyId=asymmetric[0])
        if answer is None:
            return asymmetric
        with self.ledger.lock:
            self.ledger.versions.append((asymmetric[0], answer["KeyVersion"]["KeyVersionId"]))
        return asymmetric[0], asymmetric[1] + 1


def guarded(ledger: Ledger, target: Callable[..., None], *args: Any) -> Callable[[], None]:
    """``target(*args)`` for a thread, its exception recorded in the ledger instead of lost."""

    def run() -> None:
        try:
            target(*args)
        except Exception as exc:  # reported by the test's assertion, not lost with the thread
            with ledger.lock:
                ledger.crashed.append(repr(exc))

    return run


@dataclass
class QuotaCounts:
    accepted: int = 0
    throttled: int = 0
    other: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def throttled_client(client: Client, key_id: str, counts: QuotaCounts, stop: threading.Event) -> None:
    """Encrypt as fast as one thread can, counting what the quota let through."""
    plaintext = base64.b64encode(b"quota").decode()
    while not stop.is_set():
        body = raw.signed_body(client.access_key_id, client.secret, "Encrypt", KeyId=key_id, Plaintext=plaintext)
        try:
            status, answer = send(client.nodes.next_port(), body)
        except Unanswered:
            continue
        with counts.lock:
            if status == 200:
                counts.accepted += 1
            elif (status, answer.get("Code"), answer.get("Message")) == THROTTLED:
                counts.throttled += 1
            else:
                counts.other[f"{status} {answer.get('Code')}"] += 1
        if status == 200:
            client.ledger.note("QuotaEncrypt", "200", body)
