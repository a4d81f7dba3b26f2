"""The local CA's certificates on a clock the test moves: issued once, kept while valid, issued again
when due, when the names change or when the server file is damaged; the CA itself never changes
and its key is a sealed node value. A configured certificate that cannot be loaded is refused
once at start and ignored (the old one kept) on reload."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from openkms import bootstrap
from openkms.cli import tls
from openkms.crypto import certificates
from openkms.settings import Settings, SettingsError
from openkms.system import ManualClock

DAY = 86_400


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings.load(env={}, data_dir=tmp_path / "data", auto_softhsm=False)
    bootstrap.prepare(s)
    return s


def test_names_are_the_loopback_ones_the_host_name_and_a_particular_listen_address() -> None:
    wildcard = tls.server_names("0.0.0.0")
    assert wildcard[:3] == ("localhost", "127.0.0.1", "::1")
    assert tls.server_names("10.1.2.3") == (*wildcard, "10.1.2.3")
    assert tls.server_names("127.0.0.1") == wildcard


def test_issued_once_kept_while_valid_and_issued_again_when_due(settings: Settings) -> None:
    clock = ManualClock()
    ca = tls.LocalCa(settings, clock)
    ca.ensure()
    first = ca.current()
    assert first is not None
    ca_pem = ca.ca_file.read_bytes()
    ca.ensure()
    assert ca.current() == first
    clock.advance(tls.SERVER_DAYS * DAY - tls.RENEW_BEFORE_SECONDS - 60)
    ca.ensure()
    assert ca.current() == first
    clock.advance(120)
    ca.ensure()
    renewed = ca.current()
    assert renewed is not None
    assert renewed.serial != first.serial
    assert renewed.not_after == pytest.approx(clock.now() + tls.SERVER_DAYS * DAY, abs=2)
    assert ca.ca_file.read_bytes() == ca_pem
    assert renewed.issuer_key_id == certificates.key_id(ca_pem)


def test_new_names_or_a_damaged_file_get_a_new_certificate(settings: Settings) -> None:
    clock = ManualClock()
    tls.LocalCa(settings, clock).ensure()
    moved = tls.LocalCa(Settings.load(env={}, data_dir=settings.data_dir, host="10.9.8.7"), clock)
    moved.ensure()
    info = moved.current()
    assert info is not None
    assert "10.9.8.7" in info.names
    (moved.dir / tls.SERVER_FILE).write_bytes(b"damaged")
    moved.ensure()
    assert moved.current() is not None
    assert moved.load().info == moved.current()


def test_the_ca_key_is_a_sealed_node_value_shared_through_the_store(settings: Settings) -> None:
    tls.LocalCa(settings, ManualClock()).ensure()
    store = bootstrap.open_database(settings)
    try:
        sealed = store.node_value(tls.CA_VALUE)
    finally:
        store.close()
    assert sealed is not None
    assert b"BEGIN CERTIFICATE" not in sealed  # the whole value is sealed, the certificate too
    # Another node's directory on the same database gets the same CA.
    other = tls.LocalCa(Settings.load(env={}, data_dir=settings.data_dir), ManualClock())
    (other.dir / tls.CA_FILE).unlink()
    (other.dir / tls.SERVER_FILE).unlink()
    other.ensure()
    assert other.ca_file.read_bytes() == tls.LocalCa(settings, ManualClock()).ca_file.read_bytes()


def test_contexts_refuse_tls_1_1_and_non_aead_suites() -> None:
    ctx = tls.hardened_context()
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    names = {c["name"] for c in ctx.get_ciphers()}
    assert names
    assert all("GCM" in n or "CHACHA20" in n for n in names)
    assert all(n.startswith(("ECDHE-", "TLS_")) for n in names)


def test_a_configured_certificate_that_breaks_is_refused_at_start_and_kept_on_reload(tmp_path: Path) -> None:
    now = ManualClock().now()
    issued = certificates.new_server_certificate(certificates.new_ca("t", now, 10), ["localhost"], now, 5)
    cert_file, key_file = tmp_path / "c.pem", tmp_path / "k.pem"
    cert_file.write_bytes(issued.certificate)
    key_file.write_bytes(issued.certificate)  # no key in it
    s = Settings.load(env={}, data_dir=tmp_path / "data", tls_cert_file=cert_file, tls_key_file=key_file)
    with pytest.raises(SettingsError, match=r"^\[tls\] cert_file .* and key_file "):
        tls.configured(s)
    key = serialization.load_der_private_key(issued.key, password=None)
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    served = tls.ServerTls(s, ManualClock())
    serial = served.loaded.info.serial
    key_file.write_text("gone")
    assert not served.reload()
    assert served.loaded.info.serial == serial
    assert not served.refresh()  # a configured certificate is reloaded on SIGHUP only
