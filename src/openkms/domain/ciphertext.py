"""The symmetric ciphertext blob: a frozen, versioned layout. Decryption needs only the blob.

Layout of format 1 (all lengths in bytes)::

    offset  length  field
    0       36      key version id, ASCII (a lower-case UUID): names the material to use
    36      1       format, 0x01
    37      16      salt: the per-message key is HKDF(version material, salt)
    53      12      AEAD nonce
    65      n       AEAD ciphertext (n = plaintext length)
    65+n    16      AEAD tag

The version id comes first because that is the layout Alibaba KMS blobs show (their base64
starts with the version id) and what Alibaba's own migration tooling parses. The format byte
follows it so the rest can change without ambiguity.

Associated data = bytes 0..36 (version id and format) followed by the blob's binding, so a blob
cannot be moved to another version or context:

* format 1 (0x01): the canonical EncryptionContext (sorted JSON; ``{}`` without one);
* format 2 (0x02, the same layout otherwise): the context as Alibaba's TransferClient turns it into
  the instance gateway's ``Aad`` (the lower-case hex SHA-256 of ``k1=v1&k2=v2``, keys sorted;
  nothing without a context), or the gateway's ``Aad`` bytes as sent. So a blob made by either
  protocol opens through the other with the same context (``domain/context.binding``).

Every blob made since format 2 exists is format 2 (except the secrets' envelopes, which keep
format 1); format 1 blobs keep opening, bound as they were made.

Per-message keys: each blob is encrypted under its own key derived from the version material
and a random 128-bit salt (as AWS KMS does), so the 2^32-messages limit of random 96-bit GCM
nonces under one key (NIST SP 800-38D) does not apply to a hot key; salts collide only after
about 2^64 messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from openkms.domain import errors

VERSION_ID_LEN = 36
FORMAT_V1 = 0x01
FORMAT_V2 = 0x02
FORMATS = (FORMAT_V1, FORMAT_V2)
SALT_LEN = 16
NONCE_LEN = 12
TAG_LEN = 16
HEADER_LEN = VERSION_ID_LEN + 1
MIN_LEN = HEADER_LEN + SALT_LEN + NONCE_LEN + TAG_LEN


class SealedMessage(NamedTuple):
    """What a backend's encrypt returns and its decrypt takes: the blob after its header. The layout
    is ``pack``'s business, never the backend's."""

    salt: bytes
    nonce: bytes
    sealed: bytes  # ciphertext followed by the tag


@dataclass(frozen=True, slots=True)
class Envelope:
    version_id: str
    salt: bytes
    nonce: bytes
    sealed: bytes  # ciphertext followed by the tag
    format: int = FORMAT_V1

    def header(self) -> bytes:
        return header(self.version_id, self.format)

    @property
    def message(self) -> SealedMessage:
        return SealedMessage(self.salt, self.nonce, self.sealed)


def header(version_id: str, fmt: int = FORMAT_V1) -> bytes:
    raw = version_id.encode("ascii")
    if len(raw) != VERSION_ID_LEN:
        raise ValueError("a key version id is 36 ASCII characters")
    return raw + bytes([fmt])


def associated_data(version_id: str, binding: bytes, fmt: int = FORMAT_V1) -> bytes:
    return header(version_id, fmt) + binding


def pack(env: Envelope) -> bytes:
    if len(env.salt) != SALT_LEN or len(env.nonce) != NONCE_LEN or len(env.sealed) < TAG_LEN:
        raise ValueError("envelope fields have the wrong length")
    return env.header() + env.salt + env.nonce + env.sealed


def pack_message(version_id: str, message: SealedMessage, fmt: int = FORMAT_V1) -> bytes:
    """The blob of a message a backend sealed under the version."""
    return pack(Envelope(version_id, *message, format=fmt))


def unpack(blob: bytes) -> Envelope:
    if len(blob) < MIN_LEN or blob[VERSION_ID_LEN] not in FORMATS:
        raise errors.InvalidCiphertext()
    try:
        version_id = blob[:VERSION_ID_LEN].decode("ascii")
    except UnicodeDecodeError:
        raise errors.InvalidCiphertext() from None
    salt_end = HEADER_LEN + SALT_LEN
    nonce_end = salt_end + NONCE_LEN
    return Envelope(
        version_id, blob[HEADER_LEN:salt_end], blob[salt_end:nonce_end], blob[nonce_end:], blob[VERSION_ID_LEN]
    )
