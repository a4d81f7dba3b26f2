"""The trail's two keys: an Ed25519 key that signs checkpoints, and an HMAC-SHA256 key for the
values the redaction hashes.

Both are made at random on first use and kept as node values of the store (``audit-signing-key``,
``audit-hash-key``), sealed under the root key with the value's name as associated data, exactly
like the console's session key: every worker and every node on the same database signs with the
same key and hashes a ciphertext to the same text, so one public key verifies all chains and one
search finds a blob in all of them. Whoever holds the root key and the database can read them;
nobody else can sign a checkpoint or compute a hash.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from openkms.domain.ports import Sealer, Store

SIGNING_KEY = "audit-signing-key"
HASH_KEY = "audit-hash-key"
HASH_PREFIX = "hmac-sha256:"


def _sealed_value(store: Store, sealer: Sealer, name: str, make: bytes) -> bytes:
    aad = b"node-meta:" + name.encode()
    sealed = store.node_value(name)
    if sealed is None:
        sealed = store.put_node_value_if_absent(name, sealer.seal(make, aad))
    return sealer.unseal(sealed, aad)


class PublicKey:
    """A checkpoint verifier: the Ed25519 public key, from its PEM."""

    def __init__(self, pem: bytes) -> None:
        key = serialization.load_pem_public_key(pem)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the audit public key must be an Ed25519 key")
        self._key = key
        self.pem = pem
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.fingerprint = "sha256:" + hashlib.sha256(raw).hexdigest()

    def verifies(self, signature: bytes, message: bytes) -> bool:
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class AuditKeys:
    signing: Ed25519PrivateKey = field(repr=False)
    hash_key: bytes = field(repr=False)
    # The HMAC state after the key: each value's hash starts from a copy of it, not from the key
    # (half the work of hmac.new for a short value, and every request hashes one or more).
    _keyed: hmac.HMAC = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_keyed", hmac.new(self.hash_key, digestmod=hashlib.sha256))

    @property
    def public(self) -> PublicKey:
        pem = self.signing.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return PublicKey(pem)

    def sign(self, message: bytes) -> bytes:
        return self.signing.sign(message)

    def keyed_hash(self, value: bytes) -> str:
        """``hmac-sha256:<hex>``: what the redaction writes for a hashed value."""
        mac = self._keyed.copy()
        mac.update(value)
        return HASH_PREFIX + mac.hexdigest()


def load_keys(store: Store, sealer: Sealer) -> AuditKeys:
    """The trail's keys from the store, made on first use (the first writer of all nodes wins)."""
    raw = _sealed_value(
        store,
        sealer,
        SIGNING_KEY,
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        ),
    )
    return AuditKeys(Ed25519PrivateKey.from_private_bytes(raw), _sealed_value(store, sealer, HASH_KEY, os.urandom(32)))
