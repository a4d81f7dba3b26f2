"""Bring your own key: import parameters, importing material, deleting it, and its expiry.

The ImportToken handed to the caller is the token's id, key id and expiry sealed under the root
key (AEAD): opaque, and any change to it, or a token of another key, is refused. The wrapping
private key stays in the store, sealed, and is destroyed when the token expires.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
from dataclasses import dataclass

from openkms.domain import errors, importing, keys
from openkms.domain.actions import action
from openkms.domain.identity import Caller
from openkms.domain.importing import ImportToken
from openkms.domain.keys import Key, KeyVersion
from openkms.domain.ports import Clock, IdGenerator, Sealer, Store, UnitOfWork
from openkms.domain.regions import RegionCatalogue
from openkms.domain.specs import Origin
from openkms.domain.states import KeyState, Op, require
from openkms.service.backends import Backends
from openkms.service.discards import Discards, Provisional
from openkms.service.material import forget_material
from openkms.service.resolve import KeyResolver

_TOKEN_AAD = b"openkms-import-token-v1"
_PARAMETERS, _IMPORT = action("GetParametersForImport"), action("ImportKeyMaterial")
_DELETE = action("DeleteKeyMaterial")


@dataclass(frozen=True, slots=True)
class ImportParameters:
    key_id: str
    token: str
    public_key: bytes  # SPKI DER
    expires_at: int
    token_id: str = ""
    wrapping_spec: str = ""
    wrapping_algorithm: str = ""


def _require_external(key: Key) -> None:
    if key.origin is not Origin.EXTERNAL:
        raise errors.UnsupportedOrigin("Only keys created with Origin=EXTERNAL take imported material.")


class ImportService:
    def __init__(
        self,
        store: Store,
        resolver: KeyResolver,
        backends: Backends,
        sealer: Sealer,
        clock: Clock,
        ids: IdGenerator,
        regions: RegionCatalogue,
    ) -> None:
        self._store = store
        self._resolver = resolver
        self._backends = backends
        self._sealer = sealer
        self._clock = clock
        self._ids = ids
        self._regions = regions

    def _now(self) -> int:
        return int(self._clock.now())

    # --- tokens -------------------------------------------------------------------------------

    def _encode_token(self, token: ImportToken) -> str:
        claims = json.dumps({"t": token.id, "k": token.key_id, "e": token.expires_at}, separators=(",", ":"))
        return base64.urlsafe_b64encode(self._sealer.seal(claims.encode(), _TOKEN_AAD)).decode().rstrip("=")

    def _decode_token(self, text: str) -> tuple[str, str, int]:
        try:
            sealed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            claims = json.loads(self._sealer.unseal(sealed, _TOKEN_AAD))
            return str(claims["t"]), str(claims["k"]), int(claims["e"])
        except (binascii.Error, ValueError, KeyError, TypeError, errors.IntegrityError):
            raise errors.InvalidImportToken() from None

    # --- use cases ----------------------------------------------------------------------------

    def get_parameters(self, caller: Caller, ref: str, wrapping_algorithm: str, wrapping_spec: str) -> ImportParameters:
        now = self._now()
        with self._store.read() as uow:
            key = self._resolver.key(uow, caller, ref, _PARAMETERS, now)
        _require_external(key)
        importing.check_wrapping(wrapping_spec, wrapping_algorithm, self._regions.get(caller.region).mainland_china)
        token_id = self._ids.new_id()
        backend = self._backends.for_key(key)
        with Provisional() as made:
            sealed_private, public_key = backend.create_wrapping_key(wrapping_spec, wrapping_algorithm, token_id)
            token = ImportToken(
                token_id, key.id, wrapping_spec, wrapping_algorithm, made.add(backend, sealed_private), public_key,
                now, now + importing.TOKEN_LIFETIME_SECONDS,
            )  # fmt: skip
            with self._store.write() as uow:
                self._resolver.key(uow, caller, key.id, _PARAMETERS, now)  # still, under the lock
                uow.import_tokens.add(token)
            made.keep()
        return self._parameters(token)

    def _parameters(self, token: ImportToken) -> ImportParameters:
        return ImportParameters(
            token.key_id,
            self._encode_token(token),
            token.public_key,
            token.expires_at,
            token.id,
            token.wrapping_spec,
            token.wrapping_algorithm,
        )

    def issued_parameters(self, caller: Caller, ref: str, token_id: str) -> ImportParameters:
        """The parameters GetParametersForImport issued for one of the caller's keys, again: the
        console hands out the public key and the token as separate downloads of one issue."""
        now = self._now()
        with self._store.read() as uow:
            key = self._resolver.key(uow, caller, ref, _PARAMETERS, now)
            _require_external(key)
            token = uow.import_tokens.get(token_id)
        if token is None or token.key_id != key.id:
            raise errors.InvalidImportToken()
        if token.expires_at <= now:
            raise errors.ExpiredImportToken()
        return self._parameters(token)

    def import_material(
        self, caller: Caller, ref: str, token_text: str, wrapped: bytes, expire_unix: int | None
    ) -> Key:
        now = self._now()
        with self._store.read() as uow:
            key = self._resolver.key(uow, caller, ref, _IMPORT, now)
            _require_external(key)
            require(key.state, Op.IMPORT_MATERIAL)
            token_id, token_key, expires_at = self._decode_token(token_text)
            if token_key != key.id:
                raise errors.InvalidImportToken()
            if expires_at <= now:
                raise errors.ExpiredImportToken()
            token = uow.import_tokens.get(token_id)
            if token is None:  # purged after its expiry
                raise errors.ExpiredImportToken()
        expire_at = importing.check_expiry(expire_unix, now)
        version_id = key.primary_version_id or self._ids.new_id()
        backend = self._backends.for_key(key)
        discards = Discards()
        with Provisional() as made:
            material_ref, fingerprint = backend.import_material(key.spec_info, version_id, token, wrapped)
            made.add(backend, material_ref)
            new = self._store_material(
                caller, key, token, wrapped, version_id, material_ref, fingerprint, expire_at, discards
            )
            made.keep()
        discards.run()
        return new

    def _store_material(
        self,
        caller: Caller,
        key: Key,
        token: ImportToken,
        wrapped: bytes,
        version_id: str,
        material_ref: bytes,
        fingerprint: bytes,
        expire_at: int | None,
        discards: Discards,
    ) -> Key:
        now = self._now()
        backend = self._backends.for_key(key)
        if key.material_fingerprint is not None and not hmac.compare_digest(key.material_fingerprint, fingerprint):
            raise errors.InvalidKeyMaterial("This key is bound to the material imported first.")
        with self._store.write() as uow:
            current = self._resolver.key(uow, caller, key.id, _IMPORT, now)
            require(current.state, Op.IMPORT_MATERIAL)
            if current.material_fingerprint is not None and not hmac.compare_digest(
                current.material_fingerprint, fingerprint
            ):
                raise errors.InvalidKeyMaterial("This key is bound to the material imported first.")
            if current.primary_version_id not in (None, version_id):
                # A concurrent first import gave the key its version meanwhile: the material goes
                # there (sealed for that version's id), never into a second, orphaned version.
                version_id = current.primary_version_id
                discards.add(backend, material_ref)
                material_ref, _ = backend.import_material(key.spec_info, version_id, token, wrapped)
            existing = uow.versions.get(version_id)
            if existing is None:
                uow.versions.add(KeyVersion(version_id, key.id, now, material_ref))
            else:
                if existing.material_ref != material_ref:
                    discards.add(backend, existing.material_ref)  # a re-import replaces the object
                uow.versions.set_material(version_id, material_ref)
            new = keys.after_material_imported(current, version_id, fingerprint, expire_at)
            uow.keys.save(new)
        return new

    def delete_material(self, caller: Caller, ref: str) -> Key:
        now = self._now()
        discards = Discards()
        with self._store.write() as uow:
            key = self._resolver.key(uow, caller, ref, _DELETE, now)
            _require_external(key)
            new = self._forget_material(uow, key, discards)
        discards.run()
        return new

    def _forget_material(self, uow: UnitOfWork, key: Key, discards: Discards) -> Key:
        forget_material(uow, self._backends, key, discards)
        new = keys.after_material_deleted(key)
        uow.keys.save(new)
        return new

    # --- background ---------------------------------------------------------------------------

    def expire(self) -> tuple[list[Key], list[tuple[Key, str]]]:
        """Delete expired (or orphaned) imported material and expired tokens' wrapping keys:
        (the keys whose material went, (key, token id) of each token purged)."""
        now = self._now()
        expired: list[Key] = []
        with self._store.read() as uow:
            candidates = uow.keys.with_stale_material(now)
        discards = Discards()
        for key in candidates:
            with self._store.write() as uow:
                current = uow.keys.get(key.account_uid, key.region, key.id)
                if current is None or current.primary_version_id is None:
                    continue
                version = uow.versions.get(current.primary_version_id)
                stale = keys.material_expired(current, now) or current.state is KeyState.PENDING_IMPORT
                if stale and version is not None and version.material_ref:
                    self._forget_material(uow, current, discards)
                    expired.append(current)
                elif keys.material_expired(current, now):
                    uow.keys.save(keys.after_material_deleted(current))
            discards.run()
        with self._store.read() as uow:
            stale_tokens = uow.import_tokens.expired(now)
        purged_tokens: list[tuple[Key, str]] = []
        for token in stale_tokens:
            # One transaction per token: each stays in its key's scope (see Store.write).
            with self._store.write() as uow:
                owner = uow.keys.get_by_id(token.key_id)  # locks the key's scope first
                if owner is None or uow.import_tokens.get(token.id) is None:
                    continue  # purged with its key, or by another node meanwhile
                # If the key's store is gone, nothing of it can be destroyed from here.
                with contextlib.suppress(errors.BackendUnavailable):
                    discards.add(self._backends.for_key(owner), token.sealed_private_key)
                uow.import_tokens.delete(token.id)
                purged_tokens.append((owner, token.id))
            discards.run()
        return expired, purged_tokens
