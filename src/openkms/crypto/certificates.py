"""X.509 for the HTTPS listener: a local certificate authority and the server certificates it issues.

Keys are ECDSA P-256: every TLS client the SDKs use accepts it, and a handshake signs with it
many times faster than with RSA-2048. Private keys leave this module only as PKCS#8 DER, for the
caller to seal; nothing here writes a file.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Clients whose clock runs a little behind still accept a certificate issued a moment ago.
BACKDATE = timedelta(hours=1)


@dataclass(frozen=True)
class Issued:
    """A certificate (PEM) and its private key (PKCS#8 DER, to be sealed)."""

    certificate: bytes
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class CertificateInfo:
    serial: int
    not_after: float  # seconds since the epoch
    names: frozenset[str]  # the subject alternative names, DNS names and IP addresses as text
    issuer_key_id: bytes | None  # the authority key identifier, to tell which CA signed it


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _ec_key(der: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key is not an EC key")
    return key


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def new_ca(common_name: str, now: float, days: int) -> Issued:
    """A self-signed CA that may sign server certificates only (path length 0)."""
    key = _new_key()
    name = x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "openkms"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    )
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_at(now) - BACKDATE)
        .not_valid_after(_at(now) + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _der(key))


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _alt_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def new_server_certificate(ca: Issued, names: Sequence[str], now: float, days: int) -> Issued:
    """A server certificate for ``names`` (host names and IP addresses), signed by ``ca``, valid
    for ``days`` but never past the CA itself."""
    ca_cert = x509.load_pem_x509_certificate(ca.certificate)
    ca_key = _ec_key(ca.key)
    key = _new_key()
    not_after = min(_at(now) + timedelta(days=days), ca_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_at(now) - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([_alt_name(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _der(key))


def describe(pem: bytes) -> CertificateInfo:
    """What renewal looks at. ValueError when ``pem`` holds no certificate."""
    cert = x509.load_pem_x509_certificate(pem)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = frozenset(
            [*san.get_values_for_type(x509.DNSName), *(str(a) for a in san.get_values_for_type(x509.IPAddress))]
        )
    except x509.ExtensionNotFound:
        names = frozenset()
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        aki = None
    return CertificateInfo(cert.serial_number, cert.not_valid_after_utc.timestamp(), names, aki)


def key_id(ca_certificate: bytes) -> bytes:
    """The CA's subject key identifier, which the certificates it signs name as their issuer's."""
    cert = x509.load_pem_x509_certificate(ca_certificate)
    return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest


def encrypted_pem(key: bytes, password: bytes) -> bytes:
    """The PKCS#8 key as an encrypted PEM block: what ``ssl`` can load from a file without the key
    ever being written in clear."""
    loaded = serialization.load_der_private_key(key, password=None)
    return loaded.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(password)
    )


def random_password() -> bytes:
    return os.urandom(32).hex().encode()
