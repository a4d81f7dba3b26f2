"""The composition root: settings -> root key, store, crypto backends, clock -> services.

This is the one module that builds concrete adapters. ``prepare`` does first-start work once
per node (directories, root key, migrations, administrator credentials); ``build`` assembles a
runtime in each worker process.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from openkms import keystores, seedfile
from openkms.audit.keys import AuditKeys, load_keys
from openkms.audit.reader import TrailReader
from openkms.audit.trail import BEST_EFFORT, FAIL_CLOSED, OFF, AuditConfig, AuditTrail, NoTrail, open_trail
from openkms.crypto import pkcs11, softhsm
from openkms.crypto.client_keys import RsaClientKeys
from openkms.crypto.lazy import LazyBackend
from openkms.crypto.pkcs11_sealer import Pkcs11Sealer
from openkms.crypto.public import SoftwarePublicKeyCrypto
from openkms.crypto.sealing import AesGcmSealer, decode_root_key, encode_root_key, new_root_key
from openkms.crypto.software import SoftwareBackend
from openkms.crypto.symmetric import AesGcmDataCipher
from openkms.domain import errors
from openkms.domain.identity import NONCE_MEMORY_SECONDS
from openkms.domain.node_ports import Leadership
from openkms.domain.ports import (
    AuditSink,
    Authorizer,
    Clock,
    IdGenerator,
    NonceCache,
    Sealer,
    Store,
)
from openkms.domain.ram.identities import RamLimits
from openkms.domain.secret_rotation import Rotator
from openkms.domain.secrets import SecretType
from openkms.domain.seed import Seed, SeedProblem
from openkms.domain.specs import ProtectionLevel
from openkms.service.access import AccessService
from openkms.service.account import AccountService
from openkms.service.aliases import AliasService
from openkms.service.app_access import AppAccessService
from openkms.service.asymmetric import AsymmetricService
from openkms.service.audit import AuditRecorder
from openkms.service.audit_search import AuditSearchService
from openkms.service.authorizer import PolicyAuthorizer
from openkms.service.backends import DEFAULT_STORE, Backends, KeyStore
from openkms.service.console_sessions import ConsoleSessionService
from openkms.service.container import Services
from openkms.service.crypto import CryptoService
from openkms.service.gateway import GatewayAuthenticator
from openkms.service.identity import IdentityService, IssuedKey
from openkms.service.importing import ImportService
from openkms.service.instances import InstanceService
from openkms.service.keys import KeyService, Limits
from openkms.service.quotas import QuotaService
from openkms.service.ram_policies import RamPolicyService
from openkms.service.ram_rotator import RamCredentialsRotator
from openkms.service.ram_users import RamUserService
from openkms.service.reconcile import Reconciler, log_report
from openkms.service.resolve import KeyResolver
from openkms.service.scheduler import Scheduler
from openkms.service.secret_rotation import SecretRotation
from openkms.service.secret_values import SecretValues
from openkms.service.secrets import SecretService
from openkms.service.seeding import SeedService
from openkms.service.tags import TagService
from openkms.service.testing import DevControl
from openkms.service.versions import VersionService
from openkms.settings import KeyStoreSettings, Settings, SettingsError
from openkms.storage.factory import InvalidDatabaseUrl, StoreOpenError, is_postgres, open_store
from openkms.storage.leases import SqlLeases, node_id
from openkms.storage.nonces import ProcessNonceCache, SqliteNonceCache
from openkms.storage.pg_nonces import PostgresNonceCache
from openkms.storage.postgres import PostgresStore
from openkms.storage.sql import SqlStore
from openkms.system import (
    CLOCK_OFFSET,
    FAULT_RULES,
    DeterministicIds,
    OffsetClock,
    SharedOffsetClock,
    SharedValue,
    SystemClock,
    UuidGenerator,
)

log = logging.getLogger("openkms")

ROOT_KEY_FILE = "root.key"
ADMIN_CREDENTIALS_FILE = "admin-credentials.json"
HSM_DISABLED = (
    "openkms's own SoftHSM2 token is switched off ([hsm] auto_softhsm = false): configure a PKCS#11 key "
    "store ([[keystores]]) to use ProtectionLevel HSM."
)


class InsecureRootKeyWarning(UserWarning):
    """The root key is held in a plain file next to the data it protects."""


class RootKeyMismatch(SettingsError):
    """The root key does not open the data: it is not the key the data was sealed under."""


def _write_private(path: Path, data: bytes) -> bool:
    """Create ``path`` with mode 0600; False if it already exists (another process won the race)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return True


def load_root_key(settings: Settings) -> tuple[bytes, bool]:
    """Returns (root key, held in a file). A malformed key is a configuration error, never echoed."""
    if settings.root_key:
        try:
            return decode_root_key(settings.root_key), False
        except ValueError as exc:
            raise SettingsError(f"OPENKMS_ROOT_KEY: {exc}") from None
    path = settings.data_dir / ROOT_KEY_FILE
    if not path.exists():
        _write_private(path, encode_root_key(new_root_key()).encode())
    try:
        return decode_root_key(path.read_text()), True
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{path}: {exc}") from None


ROOT_KEY_CHECK = "root-key-check"
_CHECK_AAD = b"node-meta:" + ROOT_KEY_CHECK.encode()
_CHECK_PLAINTEXT = b"openkms root key check v1"


def check_root_key(store: Store, sealer: Sealer, settings: Settings, in_file: bool) -> None:
    """Refuse to start under a root key other than the one that sealed the data.

    A known value is sealed under the root key at the first start. With any other key every
    secret and every key version would fail to unseal request by request; checking once here
    turns that into one clear message at start-up.
    """
    sealed = store.node_value(ROOT_KEY_CHECK)
    if sealed is None:
        sealed = store.put_node_value_if_absent(ROOT_KEY_CHECK, sealer.seal(_CHECK_PLAINTEXT, _CHECK_AAD))
    try:
        if sealer.unseal(sealed, _CHECK_AAD) == _CHECK_PLAINTEXT:
            return
    except errors.IntegrityError:
        pass
    source = settings.data_dir / ROOT_KEY_FILE if in_file else "OPENKMS_ROOT_KEY"
    where = "the configured database" if settings.database_url else settings.sqlite_path
    raise RootKeyMismatch(
        f"the root key from {source} is not the key the data in {where} was sealed under; "
        "start openkms with the original root key"
    )


@dataclass
class Runtime:
    settings: Settings
    services: Services
    store: Store
    nonces: NonceCache
    auth_clock: Clock
    offload: bool
    greenlet: bool  # handlers run in a greenlet on the event loop, not a thread (openkms/offload.py)
    leases: SqlLeases  # the scheduler's lease and this node's heartbeat; live_nodes() for quotas
    root_key_in_file: bool
    audit: AuditSink  # the trail the services record into (Services.audit); closed last-but-one
    # Signs the web console's session cookies; derived from the root key so every worker agrees.
    console_key: bytes = field(repr=False)
    closers: list[Callable[[], None]] = field(default_factory=list)
    control: DevControl | None = None  # the test control API's, when it is on
    backends: Backends | None = None  # the key stores, for readiness and metrics

    @property
    def leadership(self) -> Leadership:
        """Whether this node runs the cluster's scheduled jobs now (the scheduler's lease)."""
        return self.leases

    def close(self) -> None:
        self.audit.close()  # seals what it recorded
        for close in self.closers:
            close()
        self.leases.release()
        self.store.close()


def make_data_dir(settings: Settings) -> None:
    try:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"cannot create the data directory {settings.data_dir}: {exc.strerror}") from None


def open_database(settings: Settings) -> SqlStore:
    """The store, or one line saying why the configured database cannot be used."""
    try:
        return open_store(settings.database_url, settings.sqlite_path)
    except InvalidDatabaseUrl as exc:
        raise SettingsError(
            f"the database URL (OPENKMS_DATABASE_URL or [storage] database_url) is not valid: {exc}"
        ) from None
    except StoreOpenError as exc:
        raise SettingsError(str(exc)) from None


def prepare(settings: Settings) -> IssuedKey | None:
    """First-start work, idempotent: returns the administrator pair if it was just created at random."""
    make_data_dir(settings)
    runtime = build(replace(settings, rsa_pool_size=0), first_start=True)  # no key-pair pool for a moment's work
    try:
        issued = runtime.services.identity.bootstrap_admin(
            settings.admin_access_key_id, settings.admin_access_key_secret
        )
        if runtime.control is not None and runtime.control.seed is not None:
            load_seed(runtime.control.seeding, runtime.control.seed, settings)
    finally:
        runtime.close()
    if issued is None or settings.admin_access_key_id:
        return None
    record = {
        "AccessKeyId": issued.access_key.id,
        "AccessKeySecret": issued.secret,
        "AccountId": issued.access_key.account_uid,
    }
    _write_private(settings.data_dir / ADMIN_CREDENTIALS_FILE, json.dumps(record, indent=2).encode())
    return issued


def load_seed(seeding: SeedService | None, seed: Seed, settings: Settings) -> None:
    """The seed's data in place of any, at start: what the server cannot hold is told at the
    entry's line of the file, and nothing is loaded then."""
    assert seeding is not None
    assert settings.seed_file is not None
    try:
        seeding.load(seed)
    except SeedProblem as problem:
        raise seedfile.error_at(settings.seed_file, seed, problem) from None


def _keystore(settings: Settings, store_id: str) -> KeyStoreSettings:
    return next(k for k in settings.keystores if k.id == store_id)


def open_root(settings: Settings, create: bool) -> tuple[Sealer, bool, list[Callable[[], None]]]:
    """The root of trust: (sealer, held in a plain file, closers). In a key store when configured."""
    if settings.root_key_keystore:
        ks = _keystore(settings, settings.root_key_keystore)
        try:
            hsm_sealer = Pkcs11Sealer(keystores.token_config(ks), create_if_missing=create)
        except errors.KmsError as exc:
            raise SettingsError(f"the root key in key store {ks.id}: {exc.message}") from None
        return hsm_sealer, False, [hsm_sealer.close]
    root_key, in_file = load_root_key(settings)
    return AesGcmSealer(root_key), in_file, []


def key_stores(settings: Settings, sealer: Sealer, software: SoftwareBackend, clock: Clock) -> list[KeyStore]:
    """The default store (software keys; HSM keys in openkms's own SoftHSM2 token when SoftHSM2 is
    installed) and every configured key store, of its kind (``keystores.py``). Tokens are opened on
    first use, and a store that fails to open is tried again with a growing pause on ``clock``."""
    retry, retry_max = settings.hsm_retry_seconds, settings.hsm_retry_max_seconds
    stores = [KeyStore(DEFAULT_STORE, ProtectionLevel.SOFTWARE, software)]
    installed, found = softhsm.available()
    if not settings.auto_softhsm:
        stores.append(KeyStore(DEFAULT_STORE, ProtectionLevel.HSM, None, unavailable=HSM_DISABLED))
    elif not installed:
        stores.append(KeyStore(DEFAULT_STORE, ProtectionLevel.HSM, None, unavailable=found))
    else:
        own = LazyBackend(
            "default",
            lambda: pkcs11.Pkcs11Backend(softhsm.ensure_token(settings.data_dir, sealer)),
            clock,
            retry,
            retry_max,
            present=lambda: softhsm.token_created(settings.data_dir),  # reconciling creates no token
            capabilities=pkcs11.CAPABILITIES,
        )
        description = "openkms's own SoftHSM2 token"
        stores.append(KeyStore(DEFAULT_STORE, ProtectionLevel.HSM, own, description, inventory=own))
    stores.extend(keystores.key_store(ks, clock, retry, retry_max) for ks in settings.keystores)
    return stores


CONSOLE_KEY = "console-session-key"


def console_key(store: Store, sealer: Sealer) -> bytes:
    """The console's session-cookie key: random, made once, sealed with the data (all workers and nodes agree)."""
    aad = b"node-meta:" + CONSOLE_KEY.encode()
    sealed = store.node_value(CONSOLE_KEY)
    if sealed is None:
        sealed = store.put_node_value_if_absent(CONSOLE_KEY, sealer.seal(os.urandom(32), aad))
    return sealer.unseal(sealed, aad)


AUDIT_DIR = "audit"


def audit_mode(settings: Settings) -> str:
    """The trail's mode: as set, else fail-closed for a production server and best-effort otherwise."""
    if settings.audit_mode:
        return settings.audit_mode.lower()
    return FAIL_CLOSED if settings.production else BEST_EFFORT


def audit_config(settings: Settings) -> AuditConfig:
    return AuditConfig(
        directory=settings.audit_directory or settings.data_dir / AUDIT_DIR,
        mode=audit_mode(settings),
        checkpoint_events=settings.audit_checkpoint_events,
        checkpoint_seconds=settings.audit_checkpoint_seconds,
        segment_bytes=settings.audit_segment_bytes,
        segment_seconds=settings.audit_segment_seconds,
        retention_days=settings.audit_retention_days,
    )


def audit_trail(settings: Settings, store: Store, sealer: Sealer, clock: Clock) -> AuditTrail | NoTrail:
    """This process's audit trail: its chain is taken, and sealed on a timer, from the first event."""
    if audit_mode(settings) == OFF:
        return NoTrail()
    return open_trail(audit_config(settings), load_keys(store, sealer), clock)


def audit_keys(settings: Settings) -> AuditKeys:
    """The trail's keys, for ``openkms audit`` (made here if no server has made them yet)."""
    make_data_dir(settings)
    sealer, _, closers, store, _ = _open_sealed_data(settings, first_start=False)
    try:
        return load_keys(store, sealer)
    finally:
        store.close()
        for close in closers:
            close()


def _open_sealed_data(
    settings: Settings, first_start: bool
) -> tuple[Sealer, bool, list[Callable[[], None]], SqlStore, bytes]:
    """(sealer, root key held in a file, closers, store, console key): the root of trust and the
    data it sealed, checked against each other; nothing is left open when either fails."""
    make_data_dir(settings)
    sealer, in_file, closers = open_root(settings, create=first_start)
    store: SqlStore | None = None
    try:
        store = open_database(settings)
        check_root_key(store, sealer, settings, in_file)
        return sealer, in_file, closers, store, console_key(store, sealer)
    except BaseException:
        if store is not None:
            store.close()
        for close in closers:
            close()
        raise


def build(
    settings: Settings,
    clock: Clock | None = None,
    auth_clock: Clock | None = None,
    ids: IdGenerator | None = None,
    first_start: bool = False,
    authorizer: Authorizer | None = None,
) -> Runtime:
    sealer, in_file, closers, store, session_key = _open_sealed_data(settings, first_start)
    movable = _movable_clock(settings, clock, store)
    deterministic = DeterministicIds(settings.deterministic) if settings.deterministic and ids is None else None
    clock, ids = movable or clock or SystemClock(), ids or deterministic or UuidGenerator()
    regions = settings.catalogue()
    software = _software(settings, sealer)
    backends = Backends(key_stores(settings, sealer, software, clock), default_hsm=settings.default_hsm_keystore)
    resolver = KeyResolver(authorizer or PolicyAuthorizer(store, clock))
    identity = IdentityService(store, sealer, clock)
    versions = VersionService(store, resolver, backends, clock, ids, int(settings.version_spacing_days * 86_400))
    asym = AsymmetricService(store, resolver, backends, public := SoftwarePublicKeyCrypto(), clock)
    importing = ImportService(store, resolver, backends, sealer, clock, ids, regions)
    audit_clock, trail, recorder = _recorder(settings, store, sealer, clock, movable, deterministic, ids)
    secrets, rotation = _secrets(settings, store, resolver, backends, identity, clock, ids)
    services = Services(
        keys=KeyService(store, resolver, backends, clock, ids, regions, _key_limits(settings)),
        crypto=CryptoService(store, resolver, backends, public, asym, clock),
        asymmetric=asym,
        versions=versions,
        aliases=AliasService(store, resolver, clock, settings.aliases_per_region),
        tags=TagService(store, resolver, clock),
        identity=identity,
        importing=importing,
        account=AccountService(regions, resolver),
        secrets=secrets,
        scheduler=Scheduler(store, clock, versions, importing, backends, recorder, rotation),
        reconcile=Reconciler(store, backends, clock),
        audit_search=_audit_search(settings, resolver, audit_clock, trail),
        quotas=QuotaService(settings.quota_plan(), clock, leases := _leases(settings, store), settings.workers),
        **_access_services(settings, store, resolver, identity, backends, clock),
        audit=recorder,
        regions=regions,
        clock=clock,
    )
    return Runtime(
        settings=settings,
        services=services,
        store=store,
        nonces=_nonces(settings, closers, store),
        auth_clock=auth_clock or SystemClock(),
        offload=not store.calls_are_brief,
        greenlet=isinstance(store, PostgresStore),
        leases=leases,
        root_key_in_file=in_file,
        audit=trail,
        console_key=session_key,
        closers=[backends.close, *closers],
        backends=backends,
        control=_control(settings, store, movable, services, recorder, (software, backends, resolver), deterministic),
    )


def _access_services(
    settings: Settings,
    store: Store,
    resolver: KeyResolver,
    identity: IdentityService,
    backends: Backends,
    clock: Clock,
) -> dict[str, Any]:
    """Who may do what (RAM users and policies, the console's view of it, applications and their
    client keys) and what instances serve."""
    client_keys = RsaClientKeys()  # one cache of parsed public keys for issuing and checking
    return {
        "ram_users": RamUserService(store, resolver, identity, clock, _ram_limits(settings)),
        "ram_policies": RamPolicyService(store, resolver, clock, _ram_limits(settings)),
        "access": AccessService(store, resolver, clock),
        "console_sessions": ConsoleSessionService(store),
        "instances": (instances := InstanceService(store, resolver, backends, settings.keys_per_region)),
        "app_access": (app_access := AppAccessService(store, resolver, clock, client_keys, instances)),
        "gateway": GatewayAuthenticator(app_access, client_keys, instances),
    }  # fmt: skip


def _recorder(
    settings: Settings, store: Store, sealer: Sealer, clock: Clock, movable: OffsetClock | None,
    deterministic: DeterministicIds | None, ids: IdGenerator,
) -> tuple[Clock, AuditSink, AuditRecorder]:  # fmt: skip
    """The trail on real time when the services' clock is a test's (``movable``): a test clock
    moves back, and a chain's times must not; its event ids random even in deterministic mode, so
    that requests do not use up the ids the calls of a test are to get."""
    audit_clock = clock if movable is None else SystemClock()
    trail = audit_trail(settings, store, sealer, audit_clock)
    return audit_clock, trail, AuditRecorder(trail, audit_clock, UuidGenerator() if deterministic else ids)


def _software(settings: Settings, sealer: Sealer) -> SoftwareBackend:
    """The software backend; in deterministic mode its symmetric material comes from the seed."""
    material_seed = settings.deterministic.encode() if settings.deterministic else None
    return SoftwareBackend(sealer, pool_size=settings.rsa_pool_size, material_seed=material_seed)


def _secrets(
    settings: Settings, store: Store, resolver: KeyResolver, backends: Backends, identity: IdentityService,
    clock: Clock, ids: IdGenerator,
) -> tuple[SecretService, SecretRotation]:  # fmt: skip
    values = SecretValues(store, resolver, backends, AesGcmDataCipher(), clock, ids)
    rotation = SecretRotation(store, resolver, values, clock, ids, _rotators(settings, store, identity, clock))
    return SecretService(store, resolver, values, clock, rotation), rotation


def _rotators(settings: Settings, store: Store, identity: IdentityService, clock: Clock) -> dict[SecretType, Rotator]:
    """RAMCredentials always (openkms's own AccessKeys); PostgreSQL accounts once servers are listed."""
    grace = int(settings.secret_ram_grace_hours * 3_600)
    rotators: dict[SecretType, Rotator] = {
        SecretType.RAM_CREDENTIALS: RamCredentialsRotator(store, identity, clock, grace)
    }
    hosts = [h for h in settings.secret_rotation_hosts.split(",") if h.strip()]
    if hosts:
        try:
            from openkms.rotators.postgres import PostgresRotator  # psycopg is the [postgres] extra's
        except ImportError:
            raise SettingsError("[secrets] rotation_hosts needs psycopg: pip install 'openkms[postgres]'") from None
        rotators[SecretType.RDS] = rotators[SecretType.POLARDB] = PostgresRotator(hosts)
    return rotators


def _control(
    settings: Settings, store: Store, clock: OffsetClock | None, services: Services, recorder: AuditRecorder,
    crypto: tuple[SoftwareBackend, Backends, KeyResolver], ids: DeterministicIds | None,
) -> DevControl | None:  # fmt: skip
    """The control API's state; its fault rules shared by the workers as the clock's offset is,
    unless a test runs the server on a clock of its own (one process); the seed it resets to. None
    when the control API is off (no movable clock)."""
    if clock is None:
        return None
    shared = SharedValue(store, FAULT_RULES, settings.data_dir) if isinstance(clock, SharedOffsetClock) else None
    software, backends, resolver = crypto
    values = SecretValues(store, resolver, backends, AesGcmDataCipher(), clock, UuidGenerator())
    seeding = SeedService(store, services.identity, backends, software, values, services.regions, clock)
    seed = seedfile.load(settings.seed_file) if settings.seed_file else None
    restart = ids.restart if ids is not None else None
    return DevControl(store, clock, services, recorder.keyed_hash, shared, seeding, seed, settings.dev, restart)


def _movable_clock(settings: Settings, given: Clock | None, store: Store) -> OffsetClock | None:
    """The clock the control API moves, when it is on: a test's own ``OffsetClock``, else one
    whose offset is kept in the store for every worker."""
    if not settings.control_api_on:
        return None
    if isinstance(given, OffsetClock):
        return given
    return SharedOffsetClock(SharedValue(store, CLOCK_OFFSET, settings.data_dir)) if given is None else None


def _key_limits(settings: Settings) -> Limits:
    return Limits(settings.keys_per_region, settings.aliases_per_region)


def _nonces(settings: Settings, closers: list[Callable[[], None]], store: SqlStore) -> NonceCache:
    nonces = nonce_cache(settings)
    if isinstance(nonces, ProcessNonceCache | PostgresNonceCache):
        closers.append(nonces.close)
    if isinstance(nonces, PostgresNonceCache) and isinstance(store, PostgresStore):
        nonces.on_changes = store.observed  # each claim checks the request's remembered rows
    return nonces


def _audit_search(settings: Settings, resolver: KeyResolver, clock: Clock, trail: AuditSink) -> AuditSearchService:
    """Searching reads every chain's files; a pasted ciphertext is hashed with the trail's own key."""
    return AuditSearchService(TrailReader(audit_config(settings).directory), resolver, clock, trail.keyed_hash)


def _ram_limits(settings: Settings) -> RamLimits:
    return RamLimits(
        settings.ram_users_per_account,
        settings.ram_custom_policies_per_account,
        settings.ram_system_policies_per_user,
        settings.ram_custom_policies_per_user,
    )


RECONCILE_HINT = " (`openkms hsm reconcile` lists them; `--destroy` removes them)"


def report_orphans(settings: Settings) -> None:
    """At start, once per node: one log line per HSM key store on the token objects that no
    database row references. Never stops the start: an unreachable store is reported as such."""
    runtime = build(replace(settings, rsa_pool_size=0))
    try:
        log_report(runtime.services.reconcile.look(), RECONCILE_HINT)
    except errors.KmsError as exc:  # the database, say: the workers will report it themselves
        log.warning("could not compare the key stores' tokens with the database: %s", exc.message)
    finally:
        runtime.close()


def _leases(settings: Settings, store: SqlStore) -> SqlLeases:
    """The scheduler's lease and this node's heartbeat; the quotas' and the metrics' view of the cluster."""
    return SqlLeases(store.engine, node_id(settings.data_dir), settings.scheduler_lease_seconds)


def nonce_cache(settings: Settings) -> NonceCache:
    """On PostgreSQL every node claims in the database's table. Otherwise, several workers must
    claim in the node's shared file; a single one can write its claims behind."""
    if settings.database_url and is_postgres(settings.database_url):
        return PostgresNonceCache.from_url(settings.database_url, window=NONCE_MEMORY_SECONDS)
    path = settings.data_dir / "nonces.sqlite3"
    if settings.workers == 1:
        return ProcessNonceCache(path, window=NONCE_MEMORY_SECONDS)
    return SqliteNonceCache(path, window=NONCE_MEMORY_SECONDS)


def announce(runtime: Runtime) -> None:
    if runtime.root_key_in_file:
        log.warning(
            "InsecureRootKeyWarning: the root key is kept in %s next to the data it protects; "
            "this is for development. Set OPENKMS_ROOT_KEY (or use an HSM-held root key) in production.",
            runtime.settings.data_dir / ROOT_KEY_FILE,
        )


def print_new_admin(issued: IssuedKey, data_dir: Path) -> None:
    """Shown once, at the first start, so the operator can configure a client."""
    sys.stdout.write(
        "openkms: created the administrator AccessKey (also saved, mode 0600, in "
        f"{data_dir / ADMIN_CREDENTIALS_FILE}):\n"
        f"  AccessKeyId:     {issued.access_key.id}\n"
        f"  AccessKeySecret: {issued.secret}\n"
        f"  AccountId:       {issued.access_key.account_uid}\n"
    )
    sys.stdout.flush()
