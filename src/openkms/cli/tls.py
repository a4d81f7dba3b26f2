"""HTTPS for ``openkms serve``: the certificate, where it comes from, and its reloading and renewal.

Either the operator configures one (``[tls] cert_file``, ``key_file``), reloaded on SIGHUP, or
openkms runs a local CA:

- The CA (ECDSA P-256, ten years) is one node value of the store, ``tls-ca``, sealed under the root
  key like the console's session key: every worker and every node on one database shares it, so
  clients trust one ``ca.pem``. Its certificate is written to ``DATA_DIR/tls/ca.pem`` at each start.
- The server certificate (90 days, for ``localhost``, ``127.0.0.1``, ``::1``, the host name and the
  configured host) is this node's: ``DATA_DIR/tls/server.pem`` holds the certificate and, in a
  block of its own, its private key sealed under the root key; one file, replaced by a rename, so
  that a reader never pairs a certificate with another's key. It is issued again when 30 days are
  left (checked at start, on SIGHUP and hourly, on the injected clock), when the names change or
  when the CA is not the one that signed it.

No private key is ever written in clear: ``ssl`` loads keys only from files, so the key goes to a
short-lived file encrypted under a random password that only this process holds.

A listener's context never changes: its handshake callback, which OpenSSL calls for every
ClientHello (with or without SNI), hands the connection the context loaded last. Loading a new
certificate therefore affects new handshakes only, and a connection already open keeps its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from openkms import bootstrap
from openkms.crypto import certificates, pem
from openkms.crypto.certificates import CertificateInfo, Issued
from openkms.domain import errors
from openkms.domain.ports import Clock, Sealer, Store
from openkms.settings import Settings, SettingsError

log = logging.getLogger("openkms.tls")

TLS_DIR = "tls"
CA_FILE = "ca.pem"
SERVER_FILE = "server.pem"
LOCK_FILE = "issue.lock"
CA_VALUE = "tls-ca"
SEALED_LABEL = "OPENKMS SEALED PRIVATE KEY"
CA_DAYS = 3650
SERVER_DAYS = 90
RENEW_BEFORE_SECONDS = 30 * 86_400
CHECK_SECONDS = 3600.0
# TLS 1.3's suites are all AEAD with forward secrecy; for 1.2, ECDHE with AES-GCM or ChaCha20 only.
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
_SERVER_KEY_AAD = b"tls-server-key"
_CA_AAD = b"node-meta:" + CA_VALUE.encode()
_WILDCARD_HOSTS = ("", "0.0.0.0", "::")  # noqa: S104 (names what is not one host)


def hardened_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    return ctx


def server_names(host: str) -> tuple[str, ...]:
    """What the generated certificate is for: the loopback names, this host's name, and the address
    openkms listens on when it is a particular one."""
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname()]
    if host not in _WILDCARD_HOSTS:
        names.append(host)
    return tuple(dict.fromkeys(n.lower() for n in names if n))


def tls_dir(settings: Settings) -> Path:
    return settings.data_dir / TLS_DIR


@dataclass(frozen=True)
class Loaded:
    """The certificate a listener serves, and the context that serves it."""

    context: ssl.SSLContext = field(repr=False)
    info: CertificateInfo
    source: str


def _context(certificate: bytes, key: bytes, directory: Path) -> ssl.SSLContext:
    """A context serving ``certificate`` with ``key`` (PKCS#8 DER), which reaches the disk only
    encrypted under a password that never leaves this process."""
    password = certificates.random_password()
    fd, name = tempfile.mkstemp(prefix=".load-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(certificate + certificates.encrypted_pem(key, password))
        ctx = hardened_context()
        ctx.load_cert_chain(name, password=password)
        return ctx
    finally:
        os.unlink(name)


def configured(settings: Settings) -> Loaded:
    """The operator's certificate and key; SettingsError with one line saying what is wrong."""
    cert_file, key_file = settings.tls_cert_file, settings.tls_key_file
    assert cert_file is not None
    assert key_file is not None
    ctx = hardened_context()
    try:
        ctx.load_cert_chain(cert_file, key_file)
        info = certificates.describe(cert_file.read_bytes())
    except OSError as exc:
        if isinstance(exc, ssl.SSLError):
            reason = exc.reason or str(exc)
            raise SettingsError(f"[tls] cert_file {cert_file} and key_file {key_file}: {reason}") from None
        raise SettingsError(f"[tls] cannot read {exc.filename or cert_file}: {exc.strerror}") from None
    except ValueError:
        raise SettingsError(f"[tls] cert_file {cert_file}: no PEM certificate") from None
    return Loaded(ctx, info, str(cert_file))


@contextlib.contextmanager
def _exclusive(directory: Path) -> Iterator[None]:
    """One issuer at a time on this node (workers check together when their timers fire)."""
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def _root(settings: Settings) -> Iterator[Sealer]:
    sealer, _, closers = bootstrap.open_root(settings, create=False)
    try:
        yield sealer
    finally:
        for close in closers:
            close()


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    fd, name = tempfile.mkstemp(prefix=".new-", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise


def _split_server_file(data: bytes) -> tuple[bytes, bytes]:
    """(certificate PEM, sealed key) from ``server.pem``; ValueError when it holds no such pair."""
    marker = f"-----BEGIN {SEALED_LABEL}-----".encode()
    at = data.find(marker)
    if at < 0:
        raise ValueError("no sealed key")
    return data[:at], pem.decode(data[at:])


def _load_ca(store: Store, sealer: Sealer, now: float) -> Issued:
    """The CA, made by the first node to need one (the store keeps the first writer's)."""
    sealed = store.node_value(CA_VALUE)
    if sealed is None:
        made = certificates.new_ca(f"openkms local CA ({socket.gethostname()})", now, CA_DAYS)
        fresh = sealer.seal(made.certificate + b"\0" + made.key, _CA_AAD)
        sealed = store.put_node_value_if_absent(CA_VALUE, fresh)
    certificate, _, key = sealer.unseal(sealed, _CA_AAD).partition(b"\0")
    return Issued(certificate, key)


class LocalCa:
    """The generated certificates of one node: ``DATA_DIR/tls/``."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.dir = tls_dir(settings)
        self.names = server_names(settings.host)

    @property
    def ca_file(self) -> Path:
        return self.dir / CA_FILE

    def current(self) -> CertificateInfo | None:
        try:
            certificate, _ = _split_server_file((self.dir / SERVER_FILE).read_bytes())
            return certificates.describe(certificate)
        except (OSError, ValueError):
            return None

    def due(self, info: CertificateInfo) -> bool:
        return info.not_after - self.clock.now() < RENEW_BEFORE_SECONDS

    def _stale(self, info: CertificateInfo | None, ca_certificate: bytes) -> bool:
        return (
            info is None
            or self.due(info)
            or info.names != frozenset(self.names)
            or info.issuer_key_id != certificates.key_id(ca_certificate)
        )

    def ensure(self) -> None:
        """The CA's ``ca.pem`` and a server certificate that is not due: issued when it is missing,
        due, for other names or from another CA. The store is opened only then."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _exclusive(self.dir):
            info = self.current()
            if info is not None and self.ca_file.exists() and not self._stale(info, self.ca_file.read_bytes()):
                return
            with _root(self.settings) as sealer:
                store = bootstrap.open_database(self.settings)
                try:
                    ca = _load_ca(store, sealer, self.clock.now())
                finally:
                    store.close()
                if not self.ca_file.exists() or self.ca_file.read_bytes() != ca.certificate:
                    _write_atomically(self.ca_file, ca.certificate, 0o644)
                if self._stale(info, ca.certificate):
                    self._issue(ca, sealer)

    def _issue(self, ca: Issued, sealer: Sealer) -> None:
        issued = certificates.new_server_certificate(ca, self.names, self.clock.now(), SERVER_DAYS)
        sealed = pem.encode(sealer.seal(issued.key, _SERVER_KEY_AAD), SEALED_LABEL).encode()
        _write_atomically(self.dir / SERVER_FILE, issued.certificate + sealed, 0o600)
        info = certificates.describe(issued.certificate)
        log.info(
            "issued a TLS certificate for %s (serial %x), valid until %s",
            ", ".join(self.names),
            info.serial,
            _day(info),
        )

    def load(self) -> Loaded:
        path = self.dir / SERVER_FILE
        try:
            certificate, sealed = _split_server_file(path.read_bytes())
            with _root(self.settings) as sealer:
                key = sealer.unseal(sealed, _SERVER_KEY_AAD)
            return Loaded(_context(certificate, key, self.dir), certificates.describe(certificate), str(path))
        except (OSError, ValueError, errors.IntegrityError) as exc:
            raise SettingsError(f"{path}: cannot load the generated certificate: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, errors.KmsError):
        return exc.message
    return getattr(exc, "strerror", None) or str(exc)


def _day(info: CertificateInfo) -> str:
    return datetime.fromtimestamp(info.not_after, UTC).strftime("%Y-%m-%d %H:%M UTC")


def prepare(settings: Settings, clock: Clock) -> Loaded:
    """At start, once per node: the certificate the listeners will serve, generated or checked.
    SettingsError (one line) when it cannot be had."""
    if settings.tls_cert_file is not None:
        return configured(settings)
    ca = LocalCa(settings, clock)
    ca.ensure()
    return ca.load()


class ServerTls:
    """What a worker's HTTPS listeners serve: ``context`` is given to the listeners once; the
    certificate behind it is replaced by ``reload`` (SIGHUP) and ``refresh`` (the hourly check)."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.local = None if settings.tls_cert_file is not None else LocalCa(settings, clock)
        self.context = hardened_context()
        self.context.sni_callback = self._select
        self.loaded = self._load()

    def _select(self, conn: ssl.SSLObject, _server_name: str | None, _ctx: ssl.SSLContext) -> None:
        conn.context = self.loaded.context

    def _load(self) -> Loaded:
        if self.local is None:
            return configured(self.settings)
        self.local.ensure()
        return self.local.load()

    def reload(self) -> bool:
        """Loads the certificate again (renewing a generated one that is due). A certificate that
        cannot be loaded is reported and the one in use kept: a typo must not take HTTPS down."""
        try:
            loaded = self._load()
        except (SettingsError, errors.KmsError, OSError) as exc:
            log.error(
                "TLS certificate not reloaded, still serving serial %x: %s", self.loaded.info.serial, _reason(exc)
            )
            return False
        if loaded.info.serial != self.loaded.info.serial:
            log.info(
                "TLS certificate reloaded from %s: serial %x, valid until %s",
                loaded.source,
                loaded.info.serial,
                _day(loaded.info),
            )
        self.loaded = loaded
        return True

    def refresh(self) -> bool:
        """The periodic check of a generated certificate: renewed when due, and picked up when
        another worker of the node has renewed it. True when a new one is served."""
        if self.local is None:
            return False
        on_disk = self.local.current()
        if on_disk is not None and on_disk.serial == self.loaded.info.serial and not self.local.due(on_disk):
            return False
        before = self.loaded.info.serial
        self.reload()
        return self.loaded.info.serial != before
