"""SM2 on libcrypto, checked against itself, the pure-Python gmalg package and the openssl command line.

Conversions between encodings are written here independently of the module under test, so that an
encoding bug in the module cannot hide behind the same bug in the test.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import gmalg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from openkms.crypto import _libcrypto
from openkms.crypto.sm2 import (
    DEFAULT_USER_ID,
    Sm2Error,
    Sm2PrivateKey,
    Sm2PublicKey,
    available,
    sm3,
)

P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
G = (
    0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)
# SEQUENCE { SEQUENCE { id-ecPublicKey, sm2p256v1 }, BIT STRING header } of a 91-byte SPKI.
SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
ALG_ID = bytes.fromhex("301306072a8648ce3d020106082a811ccf5501822d")


# --- a minimal DER toolkit of the test's own ---------------------------------------------------


def tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    length = (
        bytes([n])
        if n < 0x80
        else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    )
    return bytes([tag]) + length + value


def der_int(v: int) -> bytes:
    raw = v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")
    return tlv(0x02, b"\x00" + raw if raw[0] & 0x80 else raw)


def read_tlv(data: bytes) -> tuple[int, bytes, bytes]:
    tag, n, off = data[0], data[1], 2
    if n & 0x80:
        width = n & 0x7F
        n, off = int.from_bytes(data[2 : 2 + width], "big"), 2 + width
    return tag, data[off : off + n], data[off + n :]


def split_ciphertext(der: bytes) -> tuple[int, int, bytes, bytes]:
    tag, body, rest = read_tlv(der)
    assert tag == 0x30
    assert rest == b""
    parts = []
    while body:
        _, value, body = read_tlv(body)
        parts.append(value)
    x, y, c3, c2 = parts
    return int.from_bytes(x, "big"), int.from_bytes(y, "big"), c3, c2


def join_ciphertext(x: int, y: int, c3: bytes, c2: bytes) -> bytes:
    return tlv(0x30, der_int(x) + der_int(y) + tlv(0x04, c3) + tlv(0x04, c2))


def der_to_gmalg(der: bytes) -> bytes:
    """GM/T 0009 DER C1C3C2 -> gmalg's raw 04 || x || y || C3 || C2."""
    x, y, c3, c2 = split_ciphertext(der)
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big") + c3 + c2


def gmalg_to_der(raw: bytes) -> bytes:
    assert raw[0] == 0x04
    return join_ciphertext(int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:65], "big"), raw[65:97], raw[97:])


def pkcs8_from_scalar(d: int) -> bytes:
    ec_key = tlv(0x30, der_int(1) + tlv(0x04, d.to_bytes(32, "big")))
    return tlv(0x30, der_int(0) + ALG_ID + tlv(0x04, ec_key))


def scalar_from_pkcs8(der: bytes) -> int:
    _, body, _ = read_tlv(der)
    _, _, body = read_tlv(body)  # version
    _, _, body = read_tlv(body)  # AlgorithmIdentifier
    _, ec_key, _ = read_tlv(body)
    _, ec_body, _ = read_tlv(ec_key)
    _, _, ec_body = read_tlv(ec_body)  # version 1
    _, d, _ = read_tlv(ec_body)
    return int.from_bytes(d, "big")


def raw_point(pub: Sm2PublicKey) -> bytes:
    x, y = pub.point()
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def gmalg_of(key: Sm2PrivateKey, uid: bytes = DEFAULT_USER_ID) -> gmalg.SM2:
    return gmalg.SM2(scalar_from_pkcs8(key.to_der()).to_bytes(32, "big"), uid, raw_point(key.public_key()))


def assert_error_queue_empty() -> None:
    assert _libcrypto.load().ERR_peek_error() == 0


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> Sm2PrivateKey:
    return Sm2PrivateKey.generate()


@pytest.fixture(scope="module")
def pub(key: Sm2PrivateKey) -> Sm2PublicKey:
    return key.public_key()


def openssl(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=30, check=False)


# --- basics and round trips ----------------------------------------------------------------------


def test_available_and_sm3_matches_the_standard_vectors_and_gmalg() -> None:
    assert available()
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    for data in (b"", os.urandom(1), os.urandom(1000)):
        oracle = gmalg.SM3()
        oracle.update(data)
        assert sm3(data) == oracle.value()


def test_public_key_der_and_pem_round_trip_in_openssl_format(tmp_path: Path, pub: Sm2PublicKey) -> None:
    der = pub.to_der()
    assert len(der) == 91
    assert der.startswith(SPKI_PREFIX)
    assert der[len(SPKI_PREFIX) :] == raw_point(pub)
    assert Sm2PublicKey.from_der(der).point() == pub.point()
    assert Sm2PublicKey.from_pem(pub.to_pem()).to_der() == der
    (tmp_path / "pub.der").write_bytes(der)
    rewritten = openssl("pkey", "-pubin", "-inform", "DER", "-in", str(tmp_path / "pub.der"))
    assert rewritten.returncode == 0, rewritten.stderr
    assert rewritten.stdout == pub.to_pem()


def test_compressed_point_is_accepted_and_written_back_uncompressed(pub: Sm2PublicKey) -> None:
    x, y = pub.point()
    compressed = tlv(0x30, ALG_ID + tlv(0x03, b"\x00" + bytes([2 + (y & 1)]) + x.to_bytes(32, "big")))
    loaded = Sm2PublicKey.from_der(compressed)
    assert loaded.point() == (x, y)
    assert loaded.to_der() == pub.to_der()


def test_private_key_pkcs8_round_trip_and_openssl_reads_it(tmp_path: Path, key: Sm2PrivateKey) -> None:
    der = key.to_der()
    again = Sm2PrivateKey.from_der(der)
    assert again.to_der() == der
    assert again.public_key().to_der() == key.public_key().to_der()
    (tmp_path / "key.der").write_bytes(der)
    derived = openssl("pkey", "-inform", "DER", "-in", str(tmp_path / "key.der"), "-pubout", "-outform", "DER")
    assert derived.returncode == 0, derived.stderr
    assert derived.stdout == key.public_key().to_der()
    assert repr(key) == "<Sm2PrivateKey>"


def test_key_from_a_gmalg_scalar_has_gmalgs_public_point() -> None:
    sk, pk = gmalg.SM2().generate_keypair()
    key = Sm2PrivateKey.from_der(pkcs8_from_scalar(int.from_bytes(sk, "big")))
    assert raw_point(key.public_key()) == pk


def test_sign_verify_round_trip(key: Sm2PrivateKey, pub: Sm2PublicKey) -> None:
    digest = pub.digest(b"message")
    signature = key.sign_digest(digest)
    assert pub.verify_digest(digest, signature)
    assert not pub.verify_digest(pub.digest(b"other message"), signature)
    assert not Sm2PrivateKey.generate().public_key().verify_digest(digest, signature)
    assert key.sign_digest(digest) != signature  # randomised k


@pytest.mark.parametrize("size", [1, 32, 6047])
def test_encrypt_decrypt_round_trip(key: Sm2PrivateKey, pub: Sm2PublicKey, size: int) -> None:
    plaintext = os.urandom(size)
    ciphertext = pub.encrypt(plaintext)
    _, _, c3, c2 = split_ciphertext(ciphertext)
    assert len(c3) == 32
    assert len(c2) == size
    assert key.decrypt(ciphertext) == plaintext


def test_empty_plaintext_is_refused(pub: Sm2PublicKey) -> None:
    with pytest.raises(Sm2Error):
        pub.encrypt(b"")


# --- gmalg as an independent oracle --------------------------------------------------------------


@pytest.mark.parametrize("uid", [DEFAULT_USER_ID, b"alice@example.com", b""])
def test_z_a_and_digest_agree_with_gmalg(key: Sm2PrivateKey, pub: Sm2PublicKey, uid: bytes) -> None:
    oracle = gmalg_of(key, uid)
    point = pub.point()
    assert pub.z_a(uid) == oracle._core.entity_info(uid, point)
    z = oracle._core.entity_info(uid, point)
    hasher = gmalg.SM3()
    hasher.update(z + b"payload")
    assert pub.digest(b"payload", uid) == hasher.value()


@pytest.mark.parametrize("uid", [DEFAULT_USER_ID, b"alice@example.com"])
def test_signatures_interoperate_with_gmalg(key: Sm2PrivateKey, pub: Sm2PublicKey, uid: bytes) -> None:
    oracle = gmalg_of(key, uid)
    message = os.urandom(100)
    r, s = decode_dss_signature(key.sign_digest(pub.digest(message, uid)))
    assert oracle.verify(message, r.to_bytes(32, "big"), s.to_bytes(32, "big"))
    assert not oracle.verify(message + b"!", r.to_bytes(32, "big"), s.to_bytes(32, "big"))

    gr, gs = oracle.sign(message)
    theirs = encode_dss_signature(int.from_bytes(gr, "big"), int.from_bytes(gs, "big"))
    assert pub.verify_digest(pub.digest(message, uid), theirs)
    other_uid = b"x" + uid
    assert not pub.verify_digest(pub.digest(message, other_uid), theirs)


def test_ciphertexts_interoperate_with_gmalg(key: Sm2PrivateKey, pub: Sm2PublicKey) -> None:
    oracle = gmalg_of(key)
    for plaintext in (b"k", os.urandom(32), os.urandom(500)):
        assert oracle.decrypt(der_to_gmalg(pub.encrypt(plaintext))) == plaintext
        assert key.decrypt(gmalg_to_der(gmalg.SM2(pk=raw_point(pub)).encrypt(plaintext))) == plaintext


def test_encrypt_never_emits_an_all_zero_key_stream(pub: Sm2PublicKey) -> None:
    # With one-byte messages t == 0 (so C2 == M, the plaintext in clear) comes once in 256 tries
    # unless the encryptor picks a new k (GB/T 32918.4 A5); 512 tries would show it 86% of the time
    # (on OpenSSL builds that lack their own retry).
    for _ in range(512):
        assert split_ciphertext(pub.encrypt(b"\x5a"))[3] != b"\x5a"


# A ciphertext of b"\x42" whose KDF output t is all zeros (so C2 == M), made with gmalg's primitives
# and a k searched for the purpose; the key is ZERO_KEY_D.
ZERO_KEY_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
ZERO_C1 = (
    0x941AE33BC984A5B82D7FC9BF3EE87DE000AFF28738745E3E708283DCD3EFEBB,
    0x639956D1D4EFA1EE9BB74DB5992BA5E14B6BC1AEC31E6B21264DB9F334A6344A,
)
ZERO_C3 = bytes.fromhex("ed3581866f22392546b39c5de7af7174f9e9b53983a7875b9e2dc50d992604e6")


def test_decrypt_refuses_an_all_zero_key_stream() -> None:
    # First prove the vector genuine with gmalg: t == 0 and C3 is the right hash, so nothing but
    # the all-zero rule (GB/T 32918.4 B4) can make decryption fail.
    core = gmalg.SM2()._core
    x2, y2 = core.ecdlp.ec.mul(ZERO_KEY_D, ZERO_C1)
    x2y2 = x2.to_bytes(32, "big") + y2.to_bytes(32, "big")
    assert core._key_derivation_fn(x2y2, 1) == b"\x00"
    assert core._hash_fn(x2y2[:32] + b"\x42" + x2y2[32:]) == ZERO_C3
    key = Sm2PrivateKey.from_der(pkcs8_from_scalar(ZERO_KEY_D))
    with pytest.raises(Sm2Error):
        key.decrypt(join_ciphertext(*ZERO_C1, ZERO_C3, b"\x42"))
    assert_error_queue_empty()


# --- the openssl command line, both directions ---------------------------------------------------


@pytest.fixture
def key_files(tmp_path: Path, key: Sm2PrivateKey, pub: Sm2PublicKey) -> tuple[Path, Path]:
    (tmp_path / "key.der").write_bytes(key.to_der())
    (tmp_path / "pub.pem").write_bytes(pub.to_pem())
    return tmp_path / "key.der", tmp_path / "pub.pem"


def test_openssl_signatures_verify_here(tmp_path: Path, key_files: tuple[Path, Path], pub: Sm2PublicKey) -> None:
    key_path, _ = key_files
    message = os.urandom(300)
    (tmp_path / "msg").write_bytes(message)
    signed = openssl(
        "pkeyutl", "-sign", "-keyform", "DER", "-inkey", str(key_path), "-rawin", "-digest", "sm3",
        "-pkeyopt", "distid:1234567812345678", "-in", str(tmp_path / "msg"),
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    assert pub.verify_digest(pub.digest(message), signed.stdout)
    assert not pub.verify_digest(pub.digest(message, b""), signed.stdout)  # OpenSSL's default empty id differs


def test_signatures_made_here_verify_in_openssl(
    tmp_path: Path, key_files: tuple[Path, Path], key: Sm2PrivateKey
) -> None:
    _, pub_path = key_files
    message = os.urandom(300)
    (tmp_path / "msg").write_bytes(message)
    (tmp_path / "sig").write_bytes(key.sign_digest(key.public_key().digest(message)))

    def verify(distid: str) -> subprocess.CompletedProcess[bytes]:
        return openssl(
            "pkeyutl", "-verify", "-pubin", "-inkey", str(pub_path), "-rawin", "-digest", "sm3",
            "-pkeyopt", f"distid:{distid}", "-in", str(tmp_path / "msg"), "-sigfile", str(tmp_path / "sig"),
        )  # fmt: skip

    good = verify("1234567812345678")
    assert good.returncode == 0, good.stderr
    assert b"Signature Verified Successfully" in good.stdout
    assert verify("1234567812345679").returncode != 0


def test_openssl_ciphertexts_decrypt_here(tmp_path: Path, key_files: tuple[Path, Path], key: Sm2PrivateKey) -> None:
    _, pub_path = key_files
    plaintext = os.urandom(48)
    (tmp_path / "pt").write_bytes(plaintext)
    encrypted = openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", str(pub_path), "-in", str(tmp_path / "pt"))
    assert encrypted.returncode == 0, encrypted.stderr
    assert key.decrypt(encrypted.stdout) == plaintext


def test_ciphertexts_made_here_decrypt_in_openssl(
    tmp_path: Path, key_files: tuple[Path, Path], pub: Sm2PublicKey
) -> None:
    key_path, _ = key_files
    plaintext = os.urandom(48)
    (tmp_path / "ct").write_bytes(pub.encrypt(plaintext))
    decrypted = openssl("pkeyutl", "-decrypt", "-keyform", "DER", "-inkey", str(key_path), "-in", str(tmp_path / "ct"))
    assert decrypted.returncode == 0, decrypted.stderr
    assert decrypted.stdout == plaintext


# --- refusals ------------------------------------------------------------------------------------


def _flip_last(b: bytes) -> bytes:
    return b[:-1] + bytes([b[-1] ^ 0x01])


CIPHERTEXT_TAMPERS: dict[str, Callable[[int, int, bytes, bytes, bytes], bytes]] = {
    "C1 x flipped": lambda x, y, c3, c2, der: join_ciphertext(x ^ 1, y, c3, c2),
    "C1 y flipped (off the curve)": lambda x, y, c3, c2, der: join_ciphertext(x, y ^ 1, c3, c2),
    "C1 replaced by the generator (on the curve)": lambda x, y, c3, c2, der: join_ciphertext(*G, c3, c2),
    "C1 x + p (OpenSSL reduces it)": lambda x, y, c3, c2, der: join_ciphertext(x + P, y, c3, c2),
    "C1 y + p (OpenSSL reduces it)": lambda x, y, c3, c2, der: join_ciphertext(x, y + P, c3, c2),
    "C3 flipped": lambda x, y, c3, c2, der: join_ciphertext(x, y, _flip_last(c3), c2),
    "C2 flipped": lambda x, y, c3, c2, der: join_ciphertext(x, y, c3, _flip_last(c2)),
    "C2 truncated": lambda x, y, c3, c2, der: join_ciphertext(x, y, c3, c2[:-1]),
    "C2 empty": lambda x, y, c3, c2, der: join_ciphertext(x, y, c3, b""),
    "C3 short": lambda x, y, c3, c2, der: join_ciphertext(x, y, c3[:-1], c2),
    "trailing byte (OpenSSL ignores it)": lambda x, y, c3, c2, der: der + b"\x00",
    "BER long-form length (OpenSSL accepts it)": lambda x, y, c3, c2, der: tlv(
        0x30, der_int(x) + der_int(y) + b"\x04\x81\x20" + c3 + tlv(0x04, c2)
    ),
    "truncated DER": lambda x, y, c3, c2, der: der[:-1],
    "garbage": lambda x, y, c3, c2, der: os.urandom(len(der)),
    "empty": lambda x, y, c3, c2, der: b"",
    "C1C2C3 order": lambda x, y, c3, c2, der: tlv(0x30, der_int(x) + der_int(y) + tlv(0x04, c2) + tlv(0x04, c3)),
}


@pytest.mark.parametrize("tamper", list(CIPHERTEXT_TAMPERS))
def test_tampered_ciphertexts_are_refused(key: Sm2PrivateKey, pub: Sm2PublicKey, tamper: str) -> None:
    plaintext = os.urandom(40)
    der = pub.encrypt(plaintext)
    tampered = CIPHERTEXT_TAMPERS[tamper](*split_ciphertext(der), der)
    assert tampered != der
    with pytest.raises(Sm2Error):
        key.decrypt(tampered)
    assert_error_queue_empty()
    assert key.decrypt(der) == plaintext


def _spki(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _with_point(x: int, y: int) -> bytes:
    return SPKI_PREFIX + b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


BAD_SPKIS: dict[str, Callable[[Sm2PublicKey], bytes]] = {
    "P-256": lambda pub: _spki(ec.generate_private_key(ec.SECP256R1())),
    "secp256k1": lambda pub: _spki(ec.generate_private_key(ec.SECP256K1())),
    "RSA": lambda pub: _spki(rsa.generate_private_key(65537, 2048)),
    "off-curve point": lambda pub: _with_point(pub.point()[0], (pub.point()[1] + 1) % P),
    "x = p": lambda pub: _with_point(P, pub.point()[1]),
    "truncated": lambda pub: pub.to_der()[:-1],
    "trailing byte": lambda pub: pub.to_der() + b"\x00",
    "garbage": lambda pub: os.urandom(91),
    "empty": lambda pub: b"",
}


@pytest.mark.parametrize("case", list(BAD_SPKIS))
def test_non_sm2_and_invalid_public_keys_are_refused(pub: Sm2PublicKey, case: str) -> None:
    with pytest.raises(Sm2Error):
        Sm2PublicKey.from_der(BAD_SPKIS[case](pub))
    assert_error_queue_empty()


@pytest.mark.parametrize(
    "pem",
    [b"", b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n", b"-----BEGIN PUBLIC KEY-----\nAAAA\n"],
)
def test_bad_pem_is_refused(pem: bytes) -> None:
    with pytest.raises(Sm2Error):
        Sm2PublicKey.from_pem(pem)


def test_pem_with_a_private_key_label_is_refused(pub: Sm2PublicKey) -> None:
    with pytest.raises(Sm2Error):
        Sm2PublicKey.from_pem(pub.to_pem().replace(b"PUBLIC", b"PRIVATE"))


def test_non_sm2_and_invalid_private_keys_are_refused(key: Sm2PrivateKey) -> None:
    pkcs8 = serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    p256 = ec.generate_private_key(ec.SECP256R1()).private_bytes(serialization.Encoding.DER, pkcs8, none)
    der = key.to_der()
    other_public = Sm2PrivateKey.generate().public_key().point()
    mismatched = der[:-64] + b"".join(v.to_bytes(32, "big") for v in other_public)
    for candidate in (
        p256,
        pkcs8_from_scalar(0),
        pkcs8_from_scalar(N),
        pkcs8_from_scalar(N - 1),
        mismatched,
        der[:-1],
        der + b"\x00",
        os.urandom(138),
        b"",
    ):
        with pytest.raises(Sm2Error):
            Sm2PrivateKey.from_der(candidate)
        assert_error_queue_empty()


def _signature_tampers(signature: bytes) -> dict[str, bytes]:
    r, s = decode_dss_signature(signature)
    return {
        "r = 0": encode_dss_signature(0, s),
        "s = 0": encode_dss_signature(r, 0),
        "r + n": encode_dss_signature(r + N, s),
        "s + n": encode_dss_signature(r, s + N),
        "r = n": encode_dss_signature(N, s),
        "r + s = n": encode_dss_signature(r, N - r),
        "s flipped": encode_dss_signature(r, s ^ 1),
        "BER long-form length": b"\x30\x81" + signature[1:],
        "trailing byte": signature + b"\x00",
        "truncated": signature[:-1],
        "raw r || s": r.to_bytes(32, "big") + s.to_bytes(32, "big"),
        "garbage": os.urandom(len(signature)),
        "oversized": signature + os.urandom(4096),
        "empty": b"",
    }


def test_bad_signatures_verify_false_without_raising(key: Sm2PrivateKey, pub: Sm2PublicKey) -> None:
    digest = pub.digest(b"document")
    signature = key.sign_digest(digest)
    for name, candidate in _signature_tampers(signature).items():
        assert pub.verify_digest(digest, candidate) is False, name
        assert_error_queue_empty()
    assert pub.verify_digest(sm3(b"document"), signature) is False  # digest without Z_A
    assert pub.verify_digest(digest, signature) is True


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_digest_length_must_be_32_bytes(key: Sm2PrivateKey, pub: Sm2PublicKey, length: int) -> None:
    with pytest.raises(Sm2Error):
        key.sign_digest(bytes(length))
    with pytest.raises(Sm2Error):
        pub.verify_digest(bytes(length), key.sign_digest(bytes(32)))


def test_user_id_longer_than_8191_bytes_is_refused(pub: Sm2PublicKey) -> None:
    assert len(pub.z_a(b"u" * 8191)) == 32
    with pytest.raises(Sm2Error):
        pub.z_a(b"u" * 8192)


# --- concurrency ---------------------------------------------------------------------------------


def test_keys_are_safe_to_share_between_threads(key: Sm2PrivateKey, pub: Sm2PublicKey) -> None:
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for i in range(60):
                message = os.urandom(i + 1)
                digest = pub.digest(message)
                assert pub.verify_digest(digest, key.sign_digest(digest))
                assert key.decrypt(pub.encrypt(message)) == message
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_pem_body_is_the_der_in_base64(pub: Sm2PublicKey) -> None:
    lines = pub.to_pem().splitlines()
    assert lines[0] == b"-----BEGIN PUBLIC KEY-----"
    assert lines[-1] == b"-----END PUBLIC KEY-----"
    assert all(len(line) <= 64 for line in lines[1:-1])
    assert base64.b64decode(b"".join(lines[1:-1])) == pub.to_der()


def test_a_ciphertext_for_another_key_is_refused(pub: Sm2PublicKey) -> None:
    with pytest.raises(Sm2Error):
        Sm2PrivateKey.generate().decrypt(pub.encrypt(b"for someone else"))
    assert_error_queue_empty()
