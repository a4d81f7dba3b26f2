"""The ports the service layer depends on. Adapters (crypto/, storage/) implement them.

Adapters translate their libraries' exceptions into ``openkms.domain.errors``; nothing foreign
crosses a port.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, TypeVar

from openkms.domain.actions import Action
from openkms.domain.algorithms import Capabilities, EncryptAlgorithm, SignAlgorithm
from openkms.domain.aliases import Alias
from openkms.domain.app_access import AccessPoint, AppPolicy, ClientKey, NetworkRule
from openkms.domain.audit import AuditEvent
from openkms.domain.audit_query import AuditPage, AuditQuery
from openkms.domain.authorization import Resource
from openkms.domain.ciphertext import SealedMessage
from openkms.domain.identity import AccessKey, Account, Caller
from openkms.domain.importing import ImportToken
from openkms.domain.keys import Key, KeyVersion
from openkms.domain.logon import ConsoleSession, LogOnFailures
from openkms.domain.ram.identities import Attachment, ManagedPolicy, PolicyType, PolicyVersion, User
from openkms.domain.secrets import Secret, SecretVersion
from openkms.domain.specs import SpecInfo
from openkms.domain.tags import Tag

Named = TypeVar("Named", AccessPoint, AppPolicy, NetworkRule)


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch, UTC."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> str:
        """A fresh lower-case UUID."""
        ...


class Authorizer(Protocol):
    """Decides whether a caller may perform an action on a resource."""

    def authorize(
        self, caller: Caller, action: Action, resource: Resource, conditions: Mapping[str, str] | None = None
    ) -> None:
        """Return if allowed; raise a domain error (access denied) if not. ``conditions`` are the
        request's own condition keys (kms:EncryptionAlgorithm, ...), beside the caller's."""
        ...


class Sealer(Protocol):
    """Seals data at rest under the root key. ``aad`` names the row the data belongs to."""

    def seal(self, plaintext: bytes, aad: bytes) -> bytes: ...

    def unseal(self, sealed: bytes, aad: bytes) -> bytes:
        """Raises ``IntegrityError`` when the data or its row identity was tampered with."""
        ...


class SymmetricCrypto(Protocol):
    """Symmetric keys (AES, SM4): each message under its own key (``domain/ciphertext.py``)."""

    def create_symmetric(self, spec: SpecInfo, version_id: str) -> bytes:
        """Generate material for a new version; returns the reference to store (never plain material)."""
        ...

    def encrypt(self, spec: SpecInfo, version: KeyVersion, aad: bytes, plaintext: bytes) -> SealedMessage: ...

    def decrypt(
        self, spec: SpecInfo, version: KeyVersion, aad: bytes, salt: bytes, nonce: bytes, sealed: bytes
    ) -> bytes:
        """Raises ``InvalidCiphertext`` when authentication fails."""
        ...

    def random_bytes(self, n: int) -> bytes: ...


class AsymmetricCrypto(Protocol):
    """Key pairs: the private half stays in the backend; public-key operations are ``PublicKeyCrypto``'s."""

    def create_asymmetric(self, spec: SpecInfo, version_id: str) -> tuple[bytes, bytes]:
        """Generate a key pair for a new version; returns (reference to store, public key SPKI DER)."""
        ...

    def sign(self, spec: SpecInfo, version: KeyVersion, algorithm: SignAlgorithm, digest: bytes) -> bytes:
        """Sign a precomputed digest (never hashed again)."""
        ...

    def decrypt_asymmetric(
        self, spec: SpecInfo, version: KeyVersion, algorithm: EncryptAlgorithm, ciphertext: bytes
    ) -> bytes:
        """Raises ``InvalidCiphertext`` when the ciphertext does not decrypt."""
        ...


class KeyWrapping(Protocol):
    """Bring your own key: wrapping key pairs, and material unwrapped with them."""

    def create_wrapping_key(self, wrapping_spec: str, wrapping_algorithm: str, token_id: str) -> tuple[bytes, bytes]:
        """A key pair to wrap imported material: (reference to the private key, public key SPKI DER).

        Refuses (UnsupportedKeySpec, UnsupportedOperation) what ``capabilities`` says it cannot
        unwrap with later.
        """
        ...

    def import_material(
        self, spec: SpecInfo, version_id: str, token: ImportToken, wrapped: bytes
    ) -> tuple[bytes, bytes]:
        """Unwrap ``wrapped`` with the token's private key and keep the material for ``version_id``.

        Returns (reference to store, fingerprint of the material). Raises ``InvalidKeyMaterial``
        for anything that does not unwrap to material of the spec's length.
        """
        ...


class BackendLifecycle(Protocol):
    def capabilities(self) -> Capabilities:
        """What it cannot do, and why (the key specs it cannot keep, …); never touches a token."""
        ...

    def discard(self, material_ref: bytes) -> None:
        """Destroy what a reference names (deleted or expired material, an expired wrapping key,
        a purged key's versions). Sealed software material needs nothing: its row goes."""
        ...

    def close(self) -> None:
        """Release what it holds (sessions, threads); the process is done with it."""
        ...


class MaterialTransfer(Protocol):
    """Material given by or written to a seed file (dev mode), for the software backend's keys."""

    def adopt(self, spec: SpecInfo, version_id: str, material: bytes | None) -> tuple[bytes, bytes | None]:
        """Keep ``material`` (raw symmetric bytes, or a PKCS#8 DER private key) for ``version_id``,
        or new material when None: (reference to store, public key SPKI DER or None). Raises
        ``InvalidKeyMaterial`` for material that is not of the spec."""
        ...

    def reveal(self, spec: SpecInfo, version: KeyVersion) -> bytes:
        """A version's material in clear: raw symmetric bytes, or a PKCS#8 DER private key."""
        ...


class CryptoBackend(SymmetricCrypto, AsymmetricCrypto, KeyWrapping, BackendLifecycle, Protocol):
    """Generates and uses key material. One instance per protection level / key store."""


@dataclass(frozen=True, slots=True)
class HeldObject:
    """What a key store holds for openkms outside the database (a token object, or a key pair's
    two halves, which share a name): the reference a row holds to it, and its label for reports."""

    ref: bytes
    label: str


class ObjectInventory(Protocol):
    """A key store whose key material lives outside the database (a PKCS#11 token), seen as a
    collection of objects: for reconciling the token with the references the database holds."""

    def list_objects(self) -> list[HeldObject]:
        """Every object named like one openkms creates (never anyone else's, never the root key),
        one entry per reference. Reads names only."""
        ...

    def discard(self, material_ref: bytes) -> None:
        """Destroy what the reference names (nothing if it is gone already)."""
        ...

    def probe(self) -> None:
        """One round trip to the store (for readiness and metrics): raises ``BackendUnavailable``
        unless it answers now. Creates nothing: a store not made yet has nothing to reach."""
        ...


class PublicKeyCrypto(Protocol):
    """Operations that need only a public key: the same for every backend, and for callers' keys."""

    def verify(
        self, spec_name: str, public_key: bytes, algorithm: SignAlgorithm, digest: bytes, signature: bytes
    ) -> bool:
        """False for any invalid or malformed signature."""
        ...

    def encrypt(self, spec_name: str, public_key: bytes, algorithm: EncryptAlgorithm, plaintext: bytes) -> bytes: ...

    def parse_public_key(self, spec_name: str, blob: bytes, parameter: str) -> bytes:
        """A caller's public key (DER SPKI, or PEM) of the given spec, as DER; InvalidParameter otherwise."""
        ...

    def to_pem(self, public_key: bytes) -> str: ...

    def generate_pair(self, spec_name: str, as_pem: bool) -> tuple[bytes, bytes]:
        """A data key pair handed to a caller: (PKCS#8 private key, SPKI public key), DER or PEM;
        InvalidParameter (KeyPairSpec) for a spec this machine cannot make."""
        ...


class KeyRepository(Protocol):
    def get(self, account_uid: str, region: str, key_id: str) -> Key | None: ...
    def get_by_id(self, key_id: str) -> Key | None:
        """Any account's and region's key: for background jobs only, never for a caller."""
        ...

    # In a write unit of work, the first call that names an account and region (get, add, count,
    # and every alias call) locks that scope until the transaction ends: every read after it sees
    # the last committed change of the scope. See storage/sql/scopes.py.

    def add(self, key: Key) -> None: ...
    def add_many(self, keys: Sequence[Key]) -> None:
        """Many new keys at once (a seed's): one statement."""
        ...

    def save(self, key: Key) -> None: ...
    def list_in_region(self, account_uid: str, region: str) -> list[Key]: ...
    def count(self, account_uid: str, region: str) -> int: ...
    def due_for_rotation(self, now: int) -> list[Key]: ...
    def past_deletion(self, now: int) -> list[Key]: ...
    def with_stale_material(self, now: int) -> list[Key]:
        """EXTERNAL keys whose material expired, or which are PendingImport with a version."""
        ...

    def purge(self, key_id: str) -> None:
        """Remove the key with its versions, aliases and tags."""
        ...

    def hsm_references(self) -> set[bytes]:
        """Every reference the rows of HSM keys hold to objects outside the database: their
        versions' material and their import tokens' wrapping keys (empty references left out)."""
        ...


class VersionRepository(Protocol):
    def add(self, version: KeyVersion) -> None: ...
    def add_many(self, versions: Sequence[KeyVersion]) -> None: ...
    def set_material(self, version_id: str, material_ref: bytes) -> None:
        """Replace a version's material reference (empty bytes: the material was deleted)."""
        ...

    def get(self, version_id: str) -> KeyVersion | None: ...
    def list_for_key(self, key_id: str) -> list[KeyVersion]:
        """Newest first."""
        ...


class AliasRepository(Protocol):
    def get(self, account_uid: str, region: str, name: str) -> Alias | None: ...
    def add(self, alias: Alias) -> None: ...
    def add_many(self, aliases: Sequence[Alias]) -> None: ...
    def retarget(self, alias: Alias, key_id: str) -> None: ...
    def delete(self, alias: Alias) -> None: ...
    def list_in_region(self, account_uid: str, region: str) -> list[Alias]: ...
    def list_for_key(self, key_id: str) -> list[Alias]: ...
    def count(self, account_uid: str, region: str) -> int: ...


class TagRepository(Protocol):
    def for_key(self, key_id: str) -> list[Tag]: ...
    def list_for_region(self, account_uid: str, region: str) -> dict[str, list[Tag]]: ...
    def replace(self, key_id: str, tags: list[Tag]) -> None: ...
    def add_many(self, tags: Mapping[str, Sequence[Tag]]) -> None:
        """The tags of keys that have none yet, by key id."""
        ...


class ImportTokenRepository(Protocol):
    def add(self, token: ImportToken) -> None: ...
    def get(self, token_id: str) -> ImportToken | None: ...
    def expired(self, now: int) -> list[ImportToken]: ...
    def for_key(self, key_id: str) -> list[ImportToken]: ...
    def delete(self, token_id: str) -> None: ...


class AccountRepository(Protocol):
    def get(self, uid: str) -> Account | None: ...
    def add(self, account: Account) -> None: ...
    def list_all(self) -> list[Account]: ...


class AccessKeyRepository(Protocol):
    def get(self, access_key_id: str) -> AccessKey | None: ...
    def add(self, access_key: AccessKey) -> None: ...
    def save(self, access_key: AccessKey) -> None: ...
    def delete(self, access_key_id: str) -> None: ...
    def list_all(self) -> list[AccessKey]: ...
    def list_for_user(self, account_uid: str, user_name: str) -> list[AccessKey]:
        """A RAM user's keys (``user_name`` empty: the account's own keys)."""
        ...


class UserRepository(Protocol):
    """RAM users of an account (names are unique per account)."""

    def get(self, account_uid: str, name: str) -> User | None: ...
    def add(self, user: User) -> None: ...
    def save(self, user: User, old_name: str) -> None:
        """Replace the user once named ``old_name`` (a rename keeps its id, keys and attachments)."""
        ...

    def delete(self, account_uid: str, name: str) -> None: ...
    def list_all(self, account_uid: str) -> list[User]:
        """In creation order."""
        ...

    def count(self, account_uid: str) -> int: ...


class PolicyRepository(Protocol):
    """An account's custom policies and their versions (system policies are built in)."""

    def get(self, account_uid: str, name: str) -> ManagedPolicy | None: ...
    def add(self, policy: ManagedPolicy) -> None: ...
    def save(self, policy: ManagedPolicy) -> None: ...
    def delete(self, account_uid: str, name: str) -> None:
        """The policy and every version of it."""
        ...

    def list_all(self, account_uid: str) -> list[ManagedPolicy]: ...
    def count(self, account_uid: str) -> int: ...
    def versions(self, account_uid: str, name: str) -> list[PolicyVersion]:
        """Oldest first."""
        ...

    def add_version(self, version: PolicyVersion) -> None: ...
    def delete_version(self, account_uid: str, name: str, version_id: str) -> None: ...


class AttachmentRepository(Protocol):
    """Which policies are attached to which users, and a generation number per account that moves
    with every change of the account's users, policies and attachments (caches of compiled
    policies compare it, on every worker and node)."""

    def for_user(self, account_uid: str, user_name: str) -> list[Attachment]: ...
    def for_policy(self, account_uid: str, policy_type: PolicyType, name: str) -> list[Attachment]: ...
    def add(self, attachment: Attachment) -> None: ...
    def delete(self, account_uid: str, user_name: str, policy_type: PolicyType, name: str) -> None: ...
    def rename_user(self, account_uid: str, old_name: str, new_name: str) -> None: ...
    def generation(self, account_uid: str) -> int: ...
    def bump(self, account_uid: str) -> None: ...


class ConsoleSessionRepository(Protocol):
    """Console sessions, found by the SHA-256 of their id (the id itself is never stored)."""

    def get(self, id_hash: str) -> ConsoleSession | None: ...
    def add(self, session: ConsoleSession) -> None: ...
    def revoke(self, id_hash: str) -> None: ...
    def delete(self, id_hash: str) -> None: ...
    def purge(self, now: int) -> None:
        """Forget sessions that have expired."""
        ...


class LogOnFailureRepository(Protocol):
    """Failed console log-ons per subject (source address, hashed AccessKey id)."""

    def get(self, subject: str) -> LogOnFailures | None: ...
    def put(self, state: LogOnFailures) -> None:
        """Insert or replace the subject's count (inside a write, after ``get`` of it)."""
        ...

    def clear(self, subject: str) -> None: ...
    def purge(self, before: int) -> None:
        """Forget counts whose last refusal and first failure both end before ``before``."""
        ...


class SecretRepository(Protocol):
    """Secrets and their versions. Every method that names a scope locks it in a write."""

    def get(self, account_uid: str, region: str, name: str) -> Secret | None: ...
    def add(self, secret: Secret) -> None: ...
    def save(self, secret: Secret) -> None: ...
    def list_in_region(self, account_uid: str, region: str) -> list[Secret]: ...
    def count(self, account_uid: str, region: str) -> int: ...
    def past_deletion(self, now: int) -> list[Secret]: ...
    def due_for_rotation(self, now: int) -> list[Secret]:
        """Secrets with automatic rotation whose NextRotationDate has passed."""
        ...

    def to_retire(self, now: int) -> list[Secret]:
        """Secrets whose previous credential is due to be retired after a rotation's grace."""
        ...

    def purge(self, secret: Secret) -> None:
        """The secret and every version of it."""
        ...

    def versions(self, secret: Secret) -> list[SecretVersion]:
        """In creation order."""
        ...

    def add_version(self, version: SecretVersion) -> None: ...
    def set_stages(self, secret: Secret, version_id: str, stages: tuple[str, ...]) -> None: ...
    def delete_version(self, secret: Secret, version_id: str) -> None: ...


class AppAccessRepository(Protocol):
    """Application access points, their policies and network rules (by kind and name in an
    account's region), and client keys (by id)."""

    def get(self, kind: type[Named], account_uid: str, region: str, name: str) -> Named | None: ...
    def list_all(self, kind: type[Named], account_uid: str, region: str) -> list[Named]: ...
    def add(self, item: AccessPoint | AppPolicy | NetworkRule) -> None: ...
    def save(self, item: AccessPoint | AppPolicy | NetworkRule) -> None: ...
    def delete(self, item: AccessPoint | AppPolicy | NetworkRule) -> None: ...
    def client_key(self, key_id: str) -> ClientKey | None: ...
    def client_keys(self, account_uid: str, region: str, aap_name: str) -> list[ClientKey]: ...
    def add_client_key(self, key: ClientKey) -> None: ...
    def delete_client_key(self, key: ClientKey) -> None: ...


class ClientKeyCrypto(Protocol):
    """Client keys' cryptography: making a pair, checking a request's signature."""

    def issue(self, password: str) -> tuple[bytes, bytes]:
        """(the public key to keep, SubjectPublicKeyInfo DER; the private key, handed out once as
        a PKCS#12 protected by ``password``)."""
        ...

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """RSASSA-PKCS1-v1_5 with SHA-256 by the DER public key (parsed keys are remembered)."""
        ...


class DataCipher(Protocol):
    """AEAD with a data key the caller holds (the secrets' envelope): the data key itself is
    encrypted under a CMK by a backend; this only uses it."""

    def seal(self, data_key: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """nonce || ciphertext || tag."""
        ...

    def open(self, data_key: bytes, sealed: bytes, aad: bytes) -> bytes:
        """Raises InvalidCiphertext on any mismatch."""
        ...


class UnitOfWork(Protocol):
    @property
    def keys(self) -> KeyRepository: ...
    @property
    def versions(self) -> VersionRepository: ...
    @property
    def aliases(self) -> AliasRepository: ...
    @property
    def tags(self) -> TagRepository: ...
    @property
    def accounts(self) -> AccountRepository: ...
    @property
    def access_keys(self) -> AccessKeyRepository: ...
    @property
    def import_tokens(self) -> ImportTokenRepository: ...
    @property
    def users(self) -> UserRepository: ...
    @property
    def policies(self) -> PolicyRepository: ...
    @property
    def attachments(self) -> AttachmentRepository: ...
    @property
    def console_sessions(self) -> ConsoleSessionRepository: ...
    @property
    def logon_failures(self) -> LogOnFailureRepository: ...
    @property
    def secrets(self) -> SecretRepository: ...
    @property
    def app_access(self) -> AppAccessRepository: ...


class Store(Protocol):
    """The database. Every method raises ``BackendUnavailable`` when the database fails."""

    def read(self) -> AbstractContextManager[UnitOfWork]:
        """A consistent snapshot for reading."""
        ...

    def request(self) -> AbstractContextManager[None]:
        """The reads of one request: whether the database changed is checked once, at the first
        of them, not at each (a write in it makes the next read check again)."""
        ...

    def deferred(self) -> AbstractContextManager[None]:
        """Reads in it may use remembered rows unchecked: the request's nonce claim checks them."""
        ...

    def stale(self) -> bool:
        """Whether the nonce claim's check found rows read in ``deferred`` changed."""
        ...

    def recheck(self) -> bool:
        """Check rows read unchecked in ``deferred`` now; whether they changed."""
        ...

    def write(self) -> AbstractContextManager[UnitOfWork]:
        """A transaction: committed when the block ends normally, rolled back on any exception.

        Serial: a rule checked inside it holds at commit, whatever other writers (threads,
        workers, nodes) do meanwhile. A check made in a read before it must be made again inside.
        """
        ...

    @property
    def calls_are_brief(self) -> bool:
        """True where a call takes microseconds (an embedded database): it may be made on the
        event loop. False where it waits on the network: make it from a worker thread."""
        ...

    def node_value(self, name: str) -> bytes | None:
        """A node-wide value stored with the data (read at start-up), None if none was stored."""
        ...

    def put_node_value_if_absent(self, name: str, value: bytes) -> bytes:
        """Store ``value`` unless a value is there already; returns the stored value: the first
        writer of all workers and nodes wins."""
        ...

    def set_node_value(self, name: str, value: bytes) -> None:
        """Store ``value`` in place of any: a node-wide value that changes (the test clock's offset)."""
        ...

    def erase(self, keep_account_uid: str, then: Callable[[UnitOfWork], None] | None = None) -> None:
        """The test control's reset: every row of the data gone but ``keep_account_uid``'s account
        and its own AccessKeys (not its RAM users'); node values stay. One transaction, in which
        ``then`` writes what the data starts from again (a seed's rows): all of it or none."""
        ...

    def ping(self) -> None:
        """Return if the database answers a query of its schema (the health check)."""
        ...

    def close(self) -> None:
        """Release the connections; the store is not used again."""
        ...

    def fenced(self, fence: Fence) -> AbstractContextManager[None]:
        """Every ``write`` begun in this context (this thread) first checks, in its own
        transaction, that ``fence`` still holds its lease, and raises ``LeaseLost`` (nothing
        written) if it does not: a holder paused past its lease cannot write after another took it."""
        ...


@dataclass(frozen=True, slots=True)
class Fence:
    """A lease held: its name, the holder and the epoch it was taken at (storage/leases.py)."""

    lease: str
    holder: str
    epoch: int


class NonceCache(Protocol):
    def claim(self, nonce: str, now: float, signed_at: float | None = None) -> bool:
        """Record ``nonce``; False if it was already seen within the replay window, or if it may
        have been and can no longer be told (``signed_at``, the request's own timestamp, before a
        floor the store keeps after losing claims)."""
        ...


class AuditSink(Protocol):
    """The audit trail: where every request, console action and background change is recorded."""

    def admit(self) -> None:
        """Before a request does anything. Fail-closed: raises ``AuditUnavailable`` unless the
        request's event is sure to be written. Best-effort: never raises."""
        ...

    def keyed_hash(self, value: bytes) -> str:
        """``hmac-sha256:<hex>`` of ``value`` under the trail's hash key: what redaction writes."""
        ...

    def record(self, event: AuditEvent) -> None:
        """Append ``event``. Fail-closed: returns once the event is durable, and raises
        ``AuditUnavailable`` when it cannot be written (the caller must not go on as if it were).
        Best-effort: never raises; a failure is logged and counted."""
        ...

    def close(self) -> None:
        """Seal what was recorded and release the trail; it is not used again."""
        ...


class AuditReader(Protocol):
    """The audit trail as it is read: every chain and segment of it, whatever process wrote it."""

    def search(self, query: AuditQuery) -> AuditPage:
        """The events ``query`` matches, one page of at most ``query.limit``, newest first unless
        ``query.oldest_first``; the page's cursor continues where it stops. Raises
        ``InvalidLookupParameter`` for a cursor it did not issue."""
        ...
