"""The root key in the HSM: a Sealer whose AES-256-GCM key is a non-extractable token object.

Software-protected key material and secrets are then sealed and unsealed inside the token; a
stolen database and data directory reveal nothing without it. The sealed layout and associated
data are those of ``crypto/sealing.py`` (``0x01 || nonce(12) || ciphertext || tag(16)``, the row
identity bound as associated data), so a root key imported into a token unseals what the
software sealer sealed under the same key.
"""

from __future__ import annotations

import os
from typing import Any

from openkms.crypto.pkcs11_session import PooledSession, TokenConfig, open_token, release
from openkms.crypto.sealing import _DOMAIN, _FORMAT, _NONCE
from openkms.domain import errors

DEFAULT_ROOT_KEY_LABEL = "openkms:root-key"
_TAG = 16


def _p11() -> Any:
    import pkcs11

    return pkcs11


class Pkcs11Sealer:
    """Implements ``Sealer`` with a token's AES-256 key. Thread-safe.

    ``create_if_missing`` generates the root key on first use. Do that from one process (the
    one that initialises the data directory): two processes creating it at once would make two
    keys with the same label, which this class then refuses to choose between.
    """

    def __init__(
        self, config: TokenConfig, key_label: str = DEFAULT_ROOT_KEY_LABEL, create_if_missing: bool = False
    ) -> None:
        self._tokens = open_token(config)
        self._id = key_label.encode()
        self._closed = False
        try:
            self._tokens.call("find the root key", lambda s: self._ensure_key(s, key_label, create_if_missing))
        except BaseException:
            self.close()
            raise

    def _ensure_key(self, s: PooledSession, label: str, create: bool) -> None:
        p = _p11()
        a = p.Attribute
        found = list(s.session.get_objects({a.ID: self._id, a.CLASS: p.ObjectClass.SECRET_KEY}))
        if len(found) > 1:
            raise errors.BackendUnavailable(f"The PKCS#11 token holds more than one root key labelled {label!r}.")
        if found:
            return
        if not create:
            raise errors.BackendUnavailable(f"The PKCS#11 token holds no root key labelled {label!r}.")
        s.session.generate_key(
            p.KeyType.AES,
            256,
            capabilities=p.MechanismFlag(0),
            store=True,
            template={
                a.TOKEN: True,
                a.PRIVATE: True,
                a.SENSITIVE: True,
                a.EXTRACTABLE: False,
                a.ID: self._id,
                a.LABEL: label,
                a.ENCRYPT: True,
                a.DECRYPT: True,
                a.WRAP: False,
                a.UNWRAP: False,
                a.SIGN: False,
                a.DERIVE: False,
            },
        )

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        p = _p11()
        nonce = os.urandom(_NONCE)

        def run(s: PooledSession) -> bytes:
            key = s.find(self._id, p.ObjectClass.SECRET_KEY)
            sealed: bytes = key.encrypt(
                plaintext, mechanism=p.Mechanism.AES_GCM, mechanism_param=p.GCMParams(nonce, _DOMAIN + aad)
            )
            return sealed

        return bytes([_FORMAT]) + nonce + self._tokens.call("seal", run)

    def unseal(self, sealed: bytes, aad: bytes) -> bytes:
        if len(sealed) < 1 + _NONCE + _TAG or sealed[0] != _FORMAT:
            raise errors.IntegrityError("data")
        p = _p11()
        nonce, body = sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :]

        def run(s: PooledSession) -> bytes:
            key = s.find(self._id, p.ObjectClass.SECRET_KEY)
            try:
                plaintext: bytes = key.decrypt(
                    body, mechanism=p.Mechanism.AES_GCM, mechanism_param=p.GCMParams(nonce, _DOMAIN + aad)
                )
                return plaintext
            except (p.GeneralError, p.EncryptedDataInvalid, p.EncryptedDataLenRange):
                raise errors.IntegrityError("data") from None

        return self._tokens.call("unseal", run)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            release(self._tokens)
