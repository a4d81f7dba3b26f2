"""A secret version's value, encrypted under a CMK with a data key (the envelope), and the
service-managed key that secrets without an EncryptionKeyId are encrypted under.

Each version gets its own random data key; the data key is sealed by the CMK's backend as a
ciphertext blob (the same layout Encrypt answers), bound to the secret's account, region, name and
version id, and the value is sealed under the data key with the same binding. Neither the value
nor the data key is ever stored in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from openkms.domain import ciphertext, context, errors, keys
from openkms.domain.actions import action
from openkms.domain.identity import Caller
from openkms.domain.keys import Key, KeyVersion, effective
from openkms.domain.ports import Clock, DataCipher, IdGenerator, Store, UnitOfWork
from openkms.domain.secrets import SERVICE_KEY_CREATOR, SERVICE_KEY_DESCRIPTION
from openkms.domain.specs import DEFAULT_SPEC, KeyUsage, Origin, ProtectionLevel, spec_info
from openkms.domain.states import KeyState, Op, require
from openkms.service.audit import note_key
from openkms.service.backends import Backends
from openkms.service.discards import Provisional
from openkms.service.resolve import KeyResolver

_DATA_KEY_BYTES = 32
_GENERATE, _DECRYPT = action("GenerateDataKey"), action("Decrypt")
_SYMMETRIC = {"kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}


@dataclass(frozen=True, slots=True)
class Sealed:
    data_key: bytes  # the data key's blob under the CMK
    value: bytes


def _binding(account_uid: str, region: str, name: str, version_id: str) -> dict[str, str]:
    """What both layers are bound to: a value cannot be moved to another secret or version."""
    return {"acs:secret": f"{account_uid}:{region}:{name}", "acs:secret-version": version_id}


@lru_cache(maxsize=4096)
def _bound(account_uid: str, region: str, name: str, version_id: str) -> bytes:
    """The binding in its canonical form, kept per version: its JSON with sorted keys was a
    visible share of a GetSecretValue's CPU (benchmarks/secret_reads.py). Names only, nothing
    secret, and the cache is bounded."""
    return context.canonical(_binding(account_uid, region, name, version_id))


class SecretValues:
    def __init__(
        self, store: Store, resolver: KeyResolver, backends: Backends, cipher: DataCipher, clock: Clock,
        ids: IdGenerator,
    ) -> None:  # fmt: skip
        self._store = store
        self._resolver = resolver
        self._backends = backends
        self._cipher = cipher
        self._clock = clock
        self._ids = ids

    # --- which key ----------------------------------------------------------------------------

    def for_writing(self, caller: Caller, key_ref: str | None) -> tuple[Key, KeyVersion]:
        """The key a new version is encrypted under: the caller's (which it must be allowed to
        GenerateDataKey with) or the account's service-managed key, made on first use."""
        with self._store.read() as uow:
            if key_ref is not None:
                key = self._resolver.key(uow, caller, key_ref, _GENERATE, int(self._clock.now()), _SYMMETRIC)
                _require_symmetric(key)
            else:
                key = _service_key(uow, caller.account_uid, caller.region) or self._make_service_key(caller)
                note_key(key)
                require(effective(key, int(self._clock.now())).state, Op.USE)
            return key, _primary(uow, key)

    def for_reading(self, uow: UnitOfWork, caller: Caller, key_id: str, service_key: bool) -> Key:
        """The secret's key, if the caller may Decrypt with it (a key of its own choosing) and its
        state allows use: a disabled key makes the secret unreadable until it is enabled again."""
        now = int(self._clock.now())
        if not service_key:
            key = self._resolver.key(uow, caller, key_id, _DECRYPT, now, _SYMMETRIC)
            _require_symmetric(key)
            return key
        stored = uow.keys.get(caller.account_uid, caller.region, key_id)
        if stored is None or stored.is_gone(now):
            raise errors.KeyNotFound()
        note_key(stored)
        key = effective(stored, now)
        require(key.state, Op.USE)
        return key

    def _make_service_key(self, caller: Caller) -> Key:
        """Outside any transaction (material generation must not hold the scope lock); a caller
        that loses the race to another uses the winner's key, and its material is discarded."""
        now = int(self._clock.now())
        spec = spec_info(DEFAULT_SPEC)
        store_id, backend = self._backends.place(ProtectionLevel.SOFTWARE, "", spec.name)
        with Provisional() as made:
            version_id = self._ids.new_id()
            material = made.add(backend, backend.create_symmetric(spec, version_id))
            key = Key(
                self._ids.new_id(), caller.account_uid, caller.region, spec.name, KeyUsage.ENCRYPT_DECRYPT,
                Origin.ALIYUN_KMS, ProtectionLevel.SOFTWARE, KeyState.ENABLED, now, SERVICE_KEY_CREATOR,
                SERVICE_KEY_DESCRIPTION, key_store_id=store_id,
            )  # fmt: skip
            key = keys.rotate(key, version_id, now)
            with self._store.write() as uow:
                uow.keys.count(caller.account_uid, caller.region)  # takes the scope lock before looking
                winner = _service_key(uow, caller.account_uid, caller.region)
                if winner is not None:
                    return winner
                uow.keys.add(key)
                uow.versions.add(KeyVersion(version_id, key.id, now, material))
            made.keep()
        return key

    # --- the envelope -------------------------------------------------------------------------

    def seal(self, key: Key, version: KeyVersion, where: tuple[str, str, str, str], value: bytes) -> Sealed:
        """``where``: (account, region, secret name, version id)."""
        backend = self._backends.for_key(key)
        data_key = backend.random_bytes(_DATA_KEY_BYTES)
        bound = _bound(*where)
        aad = ciphertext.associated_data(version.id, bound)
        blob = ciphertext.pack_message(version.id, backend.encrypt(key.spec_info, version, aad, data_key))
        return Sealed(blob, self._cipher.seal(data_key, value, bound))

    def open(self, uow: UnitOfWork, key: Key, where: tuple[str, str, str, str], sealed: Sealed) -> bytes:
        env = ciphertext.unpack(sealed.data_key)
        version = uow.versions.get(env.version_id)
        if version is None or version.key_id != key.id:
            raise errors.KeyVersionNotFound()
        bound = _bound(*where)
        aad = ciphertext.associated_data(version.id, bound)
        data_key = self._backends.for_key(key).decrypt(key.spec_info, version, aad, *env.message)
        return self._cipher.open(data_key, sealed.value, bound)


def _service_key(uow: UnitOfWork, account_uid: str, region: str) -> Key | None:
    for key in uow.keys.list_in_region(account_uid, region):
        if key.creator == SERVICE_KEY_CREATOR and key.description == SERVICE_KEY_DESCRIPTION:
            return key
    return None


def _primary(uow: UnitOfWork, key: Key) -> KeyVersion:
    version = uow.versions.get(key.primary_version_id or "")
    if version is None:
        raise errors.KeyVersionNotFound()
    return version


def _require_symmetric(key: Key) -> None:
    if not key.spec_info.symmetric or key.usage is not KeyUsage.ENCRYPT_DECRYPT:
        raise errors.InvalidParameter(
            "EncryptionKeyId", f"A secret needs a symmetric ENCRYPT/DECRYPT key; {key.id} is not."
        )
