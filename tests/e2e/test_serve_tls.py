"""HTTPS on ``openkms serve``: both listeners, the local CA and the certificate it issues, the
official SDKs verifying against ``ca.pem``, TLS versions and ciphers, a configured certificate
reloaded on SIGHUP, renewal on the clock, ``--no-http``, ``acs:SecureTransport`` and the CA key
never in clear. Real processes (or openkms's own server in-process, on the test's clock) and real
handshakes."""

from __future__ import annotations

import http.client
import signal
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from openkms import bootstrap
from openkms.cli import tls
from openkms.crypto import certificates
from openkms.settings import Settings
from tests.e2e.clients import MODES, Kms
from tests.e2e.test_key_policies_and_conditions import account, allow, code_of, new_user, policy
from tests.e2e.test_no_secrets_at_rest import encodings
from tests.servers import InProcessServer, ProcessServer, inprocess_server, process_server, run_openkms

DAY = 86_400


def peer(endpoint: str, ca_file: Path | None = None, name: str = "localhost", **options: object) -> ssl.SSLSocket:
    """A finished handshake with the server at ``endpoint`` (verified against ``ca_file`` when given)."""
    ctx = ssl.create_default_context(cafile=str(ca_file)) if ca_file else ssl._create_unverified_context()
    for attribute, value in options.items():
        setattr(ctx, attribute, value)
    host, port = endpoint.rsplit(":", 1)
    raw = socket.create_connection((host, int(port)), timeout=10)
    return ctx.wrap_socket(raw, server_hostname=name)


def served_certificate(endpoint: str, ca_file: Path | None = None, name: str = "localhost") -> x509.Certificate:
    with peer(endpoint, ca_file, name) as conn:
        der = conn.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def alt_names(cert: x509.Certificate) -> set[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {*san.get_values_for_type(x509.DNSName), *(str(a) for a in san.get_values_for_type(x509.IPAddress))}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessServer]:
    with process_server(Path(tmp_path_factory.mktemp("tls")) / "data") as srv:
        yield srv


def test_first_start_prints_both_urls_and_the_ca_to_trust(served: ProcessServer) -> None:
    out = served.stdout()
    assert f"openkms: listening on http://127.0.0.1:{served.port}\n" in out
    assert f"openkms: listening on https://127.0.0.1:{served.tls_port} (clients verify it with {served.ca_file})" in out


@pytest.mark.parametrize("mode", MODES)
def test_the_sdks_call_encrypt_over_https_verifying_the_generated_ca(served: ProcessServer, mode: str) -> None:
    admin = served.admin()
    secure = Kms(mode, served.tls_endpoint, admin["AccessKeyId"], admin["AccessKeySecret"], ca=str(served.ca_file))
    key = secure.call("CreateKey")["KeyMetadata"]["KeyId"]
    blob = secure.call("Encrypt", KeyId=key, Plaintext="over TLS")["CiphertextBlob"]
    plain = Kms(mode, served.endpoint, admin["AccessKeyId"], admin["AccessKeySecret"])
    assert plain.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "over TLS"


def test_a_client_that_does_not_trust_the_ca_is_refused_and_one_that_does_not_verify_works(
    served: ProcessServer,
) -> None:
    system_trust = ssl.create_default_context()
    with socket.create_connection(("127.0.0.1", served.tls_port)) as raw, pytest.raises(ssl.SSLCertVerificationError):
        system_trust.wrap_socket(raw, server_hostname="localhost")
    assert httpx.get(f"https://{served.tls_endpoint}/healthz", verify=False).status_code == 200


def test_the_console_is_served_on_both_listeners(served: ProcessServer) -> None:
    trusting = ssl.create_default_context(cafile=str(served.ca_file))
    for base, verify in ((f"https://{served.tls_endpoint}", trusting), (served.base_url, True)):
        answer = httpx.get(f"{base}/console/", verify=verify)
        assert answer.status_code in (200, 303), base
        assert "console" in answer.text.lower() or answer.headers.get("location", "").startswith("/console")


def test_the_certificate_names_this_host_and_chains_to_the_local_ca(served: ProcessServer) -> None:
    cert = served_certificate(served.tls_endpoint, served.ca_file, "localhost")
    assert alt_names(cert) == {"localhost", "127.0.0.1", "::1", socket.gethostname().lower()}
    assert served_certificate(served.tls_endpoint, served.ca_file, "127.0.0.1").serial_number == cert.serial_number
    with pytest.raises(ssl.SSLCertVerificationError):  # a name it is not for
        served_certificate(served.tls_endpoint, served.ca_file, "example.com")
    ca = x509.load_pem_x509_certificate(served.ca_file.read_bytes())
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca
    assert constraints.path_length == 0
    assert cert.issuer == ca.subject
    assert cert.not_valid_after_utc.timestamp() - time.time() == pytest.approx(tls.SERVER_DAYS * DAY, abs=DAY)
    assert (served.data_dir / "tls" / tls.SERVER_FILE).stat().st_mode & 0o777 == 0o600


def test_tls_1_2_and_1_3_with_aead_only(served: ProcessServer) -> None:
    with peer(served.tls_endpoint, served.ca_file) as conn:
        assert conn.version() == "TLSv1.3"
    with peer(served.tls_endpoint, served.ca_file, maximum_version=ssl.TLSVersion.TLSv1_2) as conn:
        assert conn.version() == "TLSv1.2"
        cipher = conn.cipher()
        assert cipher is not None
        assert cipher[0].startswith("ECDHE-")
        assert "GCM" in cipher[0] or "CHACHA20" in cipher[0]


def old_client(version: ssl.TLSVersion, ciphers: str = "ALL:@SECLEVEL=0") -> ssl.SSLContext:
    """A client that offers only ``version`` (its own library would refuse it by default)."""
    ctx = ssl._create_unverified_context()
    ctx.set_ciphers(ciphers)
    ctx.minimum_version = ctx.maximum_version = version
    return ctx


# asyncio closes a connection whose handshake failed without sending OpenSSL's alert: the client
# reads the end of the stream (docs/COMPATIBILITY.md).
REFUSED = {"UNEXPECTED_EOF_WHILE_READING", "TLSV1_ALERT_PROTOCOL_VERSION", "SSLV3_ALERT_HANDSHAKE_FAILURE"}


def handshake(endpoint: str, ctx: ssl.SSLContext) -> str | None:
    """The version agreed, or None when the server refused (the reason kept in ``REFUSED``)."""
    host, port = endpoint.split(":")
    with socket.create_connection((host, int(port))) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname="localhost") as conn:
                return conn.version()
        except ssl.SSLError as exc:
            if exc.reason not in REFUSED:
                raise
            return None


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")  # offered on purpose
def test_tls_1_1_and_cbc_ciphers_are_refused_by_the_server(served: ProcessServer) -> None:
    # The same permissive client is served at 1.2 with an AEAD suite: the refusals are the server's.
    assert handshake(served.tls_endpoint, old_client(ssl.TLSVersion.TLSv1_2)) == "TLSv1.2"
    assert handshake(served.tls_endpoint, old_client(ssl.TLSVersion.TLSv1_1)) is None
    assert handshake(served.tls_endpoint, old_client(ssl.TLSVersion.TLSv1)) is None
    cbc = "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA256"
    assert handshake(served.tls_endpoint, old_client(ssl.TLSVersion.TLSv1_2, cbc + ":@SECLEVEL=0")) is None


def test_the_ca_key_and_the_server_key_are_never_in_clear_on_disk(served: ProcessServer) -> None:
    settings = Settings.load(env={}, data_dir=served.data_dir)
    sealer, _, closers = bootstrap.open_root(settings, create=False)
    store = bootstrap.open_database(settings)
    try:
        ca = tls._load_ca(store, sealer, time.time())
        _, sealed = tls._split_server_file((served.data_dir / "tls" / tls.SERVER_FILE).read_bytes())
        server_key = sealer.unseal(sealed, tls._SERVER_KEY_AAD)
    finally:
        store.close()
        for close in closers:
            close()
    assert ca.certificate == served.ca_file.read_bytes()
    secrets: dict[str, bytes] = {}
    for name, der in (("CA key", ca.key), ("server key", server_key)):
        key = serialization.load_der_private_key(der, password=None)
        secrets[f"{name} (PKCS#8)"] = der
        secrets[f"{name} (PEM)"] = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )[40:120]
        secrets[f"{name} (scalar)"] = key.private_numbers().private_value.to_bytes(32, "big")  # type: ignore[union-attr]
    found = set()
    files = [p for p in served.data_dir.rglob("*") if p.is_file()]
    assert any(p.name == tls.SERVER_FILE for p in files)
    for path in [*files, served.stdout_path, served.stderr_path]:
        data = path.read_bytes()
        found |= {
            f"{name} in {path.name}" for name, secret in secrets.items() for form in encodings(secret) if form in data
        }
    assert found == set()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with inprocess_server(Path(tmp_path_factory.mktemp("tls-inproc")) / "data", tls=True) as srv:
        yield srv


def test_renewal_before_expiry_follows_the_clock(tmp_path: Path) -> None:
    # A server of its own: what it serves after the jump is not valid yet by the real clock.
    with inprocess_server(tmp_path / "data", tls=True) as srv:
        renews_before_expiry(srv)


def renews_before_expiry(tls_server: InProcessServer) -> None:
    assert tls_server.tls is not None
    first = served_certificate(tls_server.tls_endpoint)
    ca_before = tls_server.ca_file.read_bytes()
    assert not tls_server.tls.refresh()  # 90 days left
    tls_server.clock.advance(tls.SERVER_DAYS * DAY - tls.RENEW_BEFORE_SECONDS - DAY)
    assert not tls_server.tls.refresh()  # 31 days left: not yet
    assert served_certificate(tls_server.tls_endpoint).serial_number == first.serial_number
    tls_server.clock.advance(2 * DAY)  # 29 days left
    assert tls_server.tls.refresh()
    renewed = served_certificate(tls_server.tls_endpoint)
    assert renewed.serial_number != first.serial_number
    assert renewed.not_valid_after_utc.timestamp() == pytest.approx(
        tls_server.clock.now() + tls.SERVER_DAYS * DAY, abs=60
    )
    assert alt_names(renewed) == alt_names(first)
    assert tls_server.ca_file.read_bytes() == ca_before  # the clients' trust is unchanged
    assert not tls_server.tls.refresh()


@pytest.mark.parametrize("mode", MODES)
def test_secure_transport_is_true_over_https_and_false_over_http(tls_server: InProcessServer, mode: str) -> None:
    owner, root = account(tls_server)
    key = owner.call("CreateKey")["KeyMetadata"]["KeyId"]
    ca = str(tls_server.ca_file)
    for name, required, over_https, over_http in (
        (f"tls-only-{mode}", "true", "ok", "Forbidden.RAM"),
        (f"plain-only-{mode}", "false", "Forbidden.RAM", "ok"),
    ):
        condition = {"Bool": {"acs:SecureTransport": required}}
        user = new_user(tls_server, root, name, policy(allow("kms:Encrypt", Condition=condition)))
        plain = Kms(mode, tls_server.endpoint, user.access_key_id, user.secret)
        secure = Kms(mode, tls_server.tls_endpoint, user.access_key_id, user.secret, ca=ca)
        assert code_of(secure, "Encrypt", KeyId=key, Plaintext="x") == over_https
        assert code_of(plain, "Encrypt", KeyId=key, Plaintext="x") == over_http


def write_pair(issued: certificates.Issued, cert_file: Path, key_file: Path) -> None:
    key = serialization.load_der_private_key(issued.key, password=None)
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_file.write_bytes(issued.certificate)


def wait_for_serial(endpoint: str, ca_file: Path, serial: int, in_a_row: int, timeout: float = 20.0) -> None:
    """Until ``in_a_row`` new handshakes in a row see ``serial`` (each worker reloads on its own)."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        seen = seen + 1 if served_certificate(endpoint, ca_file).serial_number == serial else 0
        if seen >= in_a_row:
            return
        time.sleep(0.05)  # polling for the workers' reload, not waiting on a domain timer
    raise AssertionError(f"serial {serial:x} not served")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_configured_certificate_is_served_and_reloaded_on_sighup(tmp_path: Path, workers: int) -> None:
    now = time.time()
    ca = certificates.new_ca("test CA", now, 30)
    first, second = (certificates.new_server_certificate(ca, ["localhost", "127.0.0.1"], now, 10) for _ in "12")
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server-key.pem"
    ca_file.write_bytes(ca.certificate)
    write_pair(first, cert_file, key_file)
    config = tmp_path / "openkms.toml"
    config.write_text(f'[tls]\ncert_file = "{cert_file}"\nkey_file = "{key_file}"\n')
    with process_server(tmp_path / "data", "--config", str(config), workers=workers) as srv:
        assert not (srv.data_dir / "tls").exists()  # no local CA when a certificate is configured
        assert (
            served_certificate(srv.tls_endpoint, ca_file).serial_number
            == certificates.describe(first.certificate).serial
        )
        kept = http.client.HTTPSConnection(
            "127.0.0.1", srv.tls_port, context=ssl.create_default_context(cafile=str(ca_file))
        )
        kept.request("GET", "/healthz")
        assert kept.getresponse().read() == b'{"status":"ok"}'

        write_pair(second, cert_file, key_file)
        srv.proc.send_signal(signal.SIGHUP)
        wait_for_serial(
            srv.tls_endpoint, ca_file, certificates.describe(second.certificate).serial, in_a_row=4 * workers
        )
        kept.request("GET", "/healthz")  # the connection opened before the reload is still served
        assert kept.getresponse().status == 200
        kept.close()

        key_file.write_text("not a key")  # a broken reload keeps the certificate in use
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while srv.stderr().count("TLS certificate not reloaded") < workers and time.monotonic() < deadline:
            time.sleep(0.05)  # polling for the workers' log line
        assert srv.stderr().count("TLS certificate not reloaded") == workers
        assert (
            served_certificate(srv.tls_endpoint, ca_file).serial_number
            == certificates.describe(second.certificate).serial
        )
        assert srv.proc.poll() is None
        assert srv.stop() == 0


@pytest.mark.parametrize(
    ("tls_table", "message"),
    [
        (
            'cert_file = "{d}/missing.pem"\nkey_file = "{d}/missing-key.pem"',
            "[tls] cannot read {d}/missing.pem: No such file",
        ),
        (
            'cert_file = "{d}/a.pem"\nkey_file = "{d}/b-key.pem"',
            "[tls] cert_file {d}/a.pem and key_file {d}/b-key.pem: KEY_VALUES_MISMATCH",
        ),
        ('cert_file = "{d}/a.pem"', "[tls] give both cert_file and key_file, or neither"),
    ],
)
def test_a_certificate_that_cannot_be_used_stops_serve_with_one_line(
    tmp_path: Path, tls_table: str, message: str
) -> None:
    now = time.time()
    ca = certificates.new_ca("test CA", now, 30)
    write_pair(
        certificates.new_server_certificate(ca, ["localhost"], now, 10), tmp_path / "a.pem", tmp_path / "a-key.pem"
    )
    write_pair(
        certificates.new_server_certificate(ca, ["localhost"], now, 10), tmp_path / "b.pem", tmp_path / "b-key.pem"
    )
    config = tmp_path / "openkms.toml"
    config.write_text("[tls]\n" + tls_table.format(d=tmp_path) + "\n")
    result = run_openkms(
        "serve", "--config", str(config), "--data-dir", str(tmp_path / "data"), "--port", "0", "--tls-port", "0"
    )
    assert result.returncode == 2
    assert result.stderr.startswith("openkms: configuration error: ")
    assert message.format(d=tmp_path) in result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "data").exists()


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_no_http_and_production_leave_no_plain_http_port(tmp_path: Path) -> None:
    data = tmp_path / "data"
    https = "https://127.0.0.1:{tls_port}"
    with process_server(data, "--no-http", healthy=https) as srv:
        assert refused(srv.port)
        admin = srv.admin()
        kms = Kms("new-v3", srv.tls_endpoint, admin["AccessKeyId"], admin["AccessKeySecret"], ca=str(srv.ca_file))
        assert kms.call("Encrypt", KeyId=kms.call("CreateKey")["KeyMetadata"]["KeyId"], Plaintext="x")["KeyVersionId"]
        assert "listening on http://" not in srv.stderr()
    config = tmp_path / "production.toml"
    config.write_text("[server]\nproduction = true\n")
    with process_server(data, "--config", str(config), healthy=https) as srv:
        assert refused(srv.port)
        trusting = ssl.create_default_context(cafile=str(srv.ca_file))
        assert httpx.get(f"https://{srv.tls_endpoint}/healthz", verify=trusting).status_code == 200
    with process_server(data, "--no-tls") as srv:
        assert refused(srv.tls_port)
        assert httpx.get(f"{srv.base_url}/healthz").status_code == 200
    both_off = run_openkms("serve", "--data-dir", str(data), "--no-http", "--no-tls")
    assert both_off.returncode == 2
    assert "nothing to listen on" in both_off.stderr
