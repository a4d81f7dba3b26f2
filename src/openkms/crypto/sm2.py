"""SM2 (GB/T 32918) signatures and public-key encryption on the system OpenSSL 3 libcrypto.

``cryptography`` has no SM2 and the pure-Python packages are slow (and some are wrong), so this
adapter drives libcrypto's EVP API through ctypes. Formats are the ones OpenSSL and GM/T 0009 use:
keys are SubjectPublicKeyInfo / PKCS#8 (id-ecPublicKey on curve 1.2.156.10197.1.301), signatures are
DER ``SEQUENCE {r, s}``, ciphertexts are DER ``SEQUENCE {x, y, C3, C2}`` (C1C3C2).

Signing works on a digest ``e = SM3(Z_A || M)`` that the caller computed with :meth:`Sm2PublicKey.digest`:
it goes through ``EVP_PKEY_sign``/``EVP_PKEY_verify``, which take ``e`` as is, so OpenSSL's
distinguishing id (empty unless set, and only used by ``EVP_DigestSign``) never comes into play; Z_A
is computed here with an explicit user id.

Thread safety: a key's ``EVP_PKEY`` is only read after construction, and every operation builds
and frees its own ``EVP_PKEY_CTX``, so keys may be used from several threads at once.
"""

from __future__ import annotations

import ctypes
import re
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from ctypes import byref, c_size_t, c_uint, c_void_p
from typing import NoReturn

from openkms.crypto import _gmt0009, _libcrypto, pem

DEFAULT_USER_ID = b"1234567812345678"

# GB/T 32918.5 recommended curve parameters.
_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
_A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
_GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
_GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
_CURVE_FOR_Z = b"".join(v.to_bytes(32, "big") for v in (_A, _B, _GX, _GY))

_DIGEST_LEN = 32
_MAX_SIGNATURE_LEN = 72  # DER SEQUENCE of two 33-byte INTEGERs
_ENCRYPT_ATTEMPTS = 8
_PEM = re.compile(rb"\A\s*-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]*)-----END PUBLIC KEY-----\s*\Z")


class Sm2Error(ValueError):
    """An SM2 input was refused or an OpenSSL call failed. Messages never carry key material."""


def _lib() -> _libcrypto.Libcrypto:
    try:
        return _libcrypto.load()
    except OSError:
        raise Sm2Error("SM2 is unavailable: no usable OpenSSL 3 libcrypto") from None


def _fail(lib: _libcrypto.Libcrypto, message: str) -> NoReturn:
    lib.ERR_clear_error()
    raise Sm2Error(message)


_sm3_lock = threading.Lock()
_sm3_md: list[int] = []


def _sm3_handle(lib: _libcrypto.Libcrypto) -> int:
    """The fetched SM3 ``EVP_MD``, kept for the life of the process (an explicit fetch skips the
    per-call implicit fetch that ``EVP_sm3()`` would cost)."""
    with _sm3_lock:
        if not _sm3_md:
            md = lib.EVP_MD_fetch(None, b"SM3", None)
            if not md:
                _fail(lib, "SM3 is unavailable in libcrypto")
            _sm3_md.append(md)
        return _sm3_md[0]


def available() -> bool:
    """True when the system libcrypto is OpenSSL 3 with SM2 and SM3 enabled."""
    try:
        lib = _libcrypto.load()
    except OSError:
        return False
    ctx = lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
    lib.EVP_PKEY_CTX_free(ctx)
    try:
        _sm3_handle(lib)
    except Sm2Error:
        return False
    lib.ERR_clear_error()
    return ctx is not None


def sm3(data: bytes) -> bytes:
    """The SM3 hash (GB/T 32905) of ``data``: 32 bytes."""
    lib = _lib()
    out = ctypes.create_string_buffer(_DIGEST_LEN)
    size = c_uint(0)
    if lib.EVP_Digest(data, len(data), out, byref(size), _sm3_handle(lib), None) != 1 or size.value != _DIGEST_LEN:
        _fail(lib, "SM3 failed")
    return out.raw


@contextmanager
def _pkey_ctx(lib: _libcrypto.Libcrypto, pkey: int, init: Callable[[int], int]) -> Iterator[int]:
    """A fresh ``EVP_PKEY_CTX`` for one operation (contexts are never shared between threads)."""
    ctx = lib.EVP_PKEY_CTX_new_from_pkey(None, pkey, None)
    if not ctx:
        _fail(lib, "cannot create an SM2 operation context")
    try:
        if init(ctx) != 1:
            _fail(lib, "cannot initialise an SM2 operation")
        yield ctx
    finally:
        lib.EVP_PKEY_CTX_free(ctx)


def _d2i(lib: _libcrypto.Libcrypto, decode: Callable[..., int | None], free: Callable[[int], None], der: bytes) -> int:
    """Decode ``der`` completely (trailing bytes are refused); returns an owned OpenSSL object."""
    buf = ctypes.create_string_buffer(der, len(der))
    start = ctypes.addressof(buf)
    cursor = c_void_p(start)
    try:
        obj = decode(None, byref(cursor), len(der))
    finally:
        ctypes.memset(buf, 0, len(der))
    if not obj:
        _fail(lib, "malformed or unsupported key encoding")
    if cursor.value != start + len(der):
        free(obj)
        _fail(lib, "trailing data after the key encoding")
    return obj


def _i2d(lib: _libcrypto.Libcrypto, encode: Callable[..., int], obj: int) -> bytes:
    size = encode(obj, None)
    if size <= 0:
        _fail(lib, "cannot encode the key")
    buf = ctypes.create_string_buffer(size)
    cursor = c_void_p(ctypes.addressof(buf))
    try:
        if encode(obj, byref(cursor)) != size:
            _fail(lib, "cannot encode the key")
        return buf.raw
    finally:
        ctypes.memset(buf, 0, size)


def _check(lib: _libcrypto.Libcrypto, pkey: int, checks: tuple[Callable[[int], int], ...], what: str) -> None:
    """Refuse anything but a valid key on the SM2 curve.

    The SM2 curve has cofactor 1, so a point on the curve other than infinity is in the group: the
    "quick" public check suffices, and the costly n*Q == O multiplication of the full check is skipped.
    For a private key, 1 <= d < n and d*G == Q (which also puts Q on the curve)."""
    if lib.EVP_PKEY_is_a(pkey, b"SM2") != 1:
        _fail(lib, f"not an SM2 {what} (the curve must be 1.2.156.10197.1.301)")
    with _pkey_ctx(lib, pkey, lambda _ctx: 1) as ctx:
        if any(check(ctx) != 1 for check in checks):
            _fail(lib, f"invalid SM2 {what}")


class Sm2PublicKey:
    """An SM2 public key. Build it with :meth:`from_der` or :meth:`from_pem`."""

    __slots__ = ("__weakref__", "_pkey", "_x", "_y", "_z_default")

    def __init__(self, pkey: int, x: int, y: int) -> None:
        """Takes ownership of a checked ``EVP_PKEY *`` (internal: use the ``from_*`` constructors)."""
        self._pkey, self._x, self._y = pkey, x, y
        self._z_default: bytes | None = None
        weakref.finalize(self, _lib().EVP_PKEY_free, pkey)

    @classmethod
    def from_der(cls, spki_der: bytes) -> Sm2PublicKey:
        """Parse a DER SubjectPublicKeyInfo. Non-SM2 keys and invalid points raise :class:`Sm2Error`."""
        lib = _lib()
        pkey = _d2i(lib, lib.d2i_PUBKEY, lib.EVP_PKEY_free, spki_der)
        try:
            _check(lib, pkey, (lib.EVP_PKEY_public_check_quick,), "public key")
            # A compressed point would otherwise be written back compressed by to_der().
            if lib.EVP_PKEY_set_utf8_string_param(pkey, b"point-format", b"uncompressed") != 1:
                _fail(lib, "cannot normalise the SM2 public key")
            point = ctypes.create_string_buffer(65)
            size = c_size_t(0)
            if (
                lib.EVP_PKEY_get_octet_string_param(pkey, b"pub", point, 65, byref(size)) != 1
                or size.value != 65
                or point.raw[0] != 0x04
            ):
                _fail(lib, "cannot read the SM2 public point")
        except BaseException:
            lib.EVP_PKEY_free(pkey)
            raise
        return cls(pkey, int.from_bytes(point.raw[1:33], "big"), int.from_bytes(point.raw[33:], "big"))

    @classmethod
    def from_pem(cls, data: bytes) -> Sm2PublicKey:
        """Parse a PEM ``PUBLIC KEY`` block (SubjectPublicKeyInfo)."""
        if _PEM.match(data) is None:
            raise Sm2Error("not a PEM PUBLIC KEY block")
        try:
            der = pem.decode(data)
        except ValueError:
            raise Sm2Error("invalid base64 in the PEM block") from None
        return cls.from_der(der)

    def to_der(self) -> bytes:
        """DER SubjectPublicKeyInfo (id-ecPublicKey, SM2 curve OID, uncompressed point)."""
        lib = _lib()
        return _i2d(lib, lib.i2d_PUBKEY, self._pkey)

    def to_pem(self) -> bytes:
        """PEM ``PUBLIC KEY``, 64-column lines, as OpenSSL writes it."""
        return pem.encode(self.to_der()).encode("ascii")

    def point(self) -> tuple[int, int]:
        """The affine public point ``(x, y)``."""
        return self._x, self._y

    def z_a(self, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        """Z_A = SM3(ENTL || ID || a || b || x_G || y_G || x_A || y_A), GB/T 32918.2 section 5.5."""
        if user_id == DEFAULT_USER_ID and self._z_default is not None:
            return self._z_default
        bits = len(user_id) * 8
        if bits > 0xFFFF:
            raise Sm2Error("the SM2 user id must be at most 8191 bytes")
        z = sm3(
            bits.to_bytes(2, "big") + user_id + _CURVE_FOR_Z + self._x.to_bytes(32, "big") + self._y.to_bytes(32, "big")
        )
        if user_id == DEFAULT_USER_ID:
            self._z_default = z
        return z

    def digest(self, message: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        """The SM2DSA digest ``e = SM3(Z_A || M)`` that :meth:`Sm2PrivateKey.sign_digest` signs."""
        return sm3(self.z_a(user_id) + message)

    def verify_digest(self, digest: bytes, signature_der: bytes) -> bool:
        """True only for a valid DER signature over ``digest``; False for anything else, never an error
        about the signature. A ``digest`` that is not 32 bytes is a caller error (:class:`Sm2Error`)."""
        if len(digest) != _DIGEST_LEN:
            raise Sm2Error("the SM2 digest must be 32 bytes")
        if not signature_der or len(signature_der) > _MAX_SIGNATURE_LEN:
            return False
        lib = _lib()
        with _pkey_ctx(lib, self._pkey, lib.EVP_PKEY_verify_init) as ctx:
            # OpenSSL checks 1 <= r, s < n, r + s != n and that the signature is strict DER.
            result = lib.EVP_PKEY_verify(ctx, signature_der, len(signature_der), digest, _DIGEST_LEN)
        if result != 1:
            lib.ERR_clear_error()
        return result == 1

    def encrypt(self, plaintext: bytes) -> bytes:
        """SM2 encryption (GB/T 32918.4) to GM/T 0009 DER C1C3C2. The plaintext must not be empty."""
        if not plaintext:
            raise Sm2Error("the SM2 plaintext must not be empty")
        lib = _lib()
        for _ in range(_ENCRYPT_ATTEMPTS):
            ciphertext = self._encrypt_once(lib, plaintext)
            # C2 == M iff the KDF output t was all zeros: GB/T 32918.4 A5 wants a new k. OpenSSL does
            # this itself since the fix for openssl#23209; older 3.0 builds do not.
            if _parse_ciphertext(ciphertext)[3] != plaintext:
                return ciphertext
        _fail(lib, "SM2 encryption kept producing an all-zero key stream")

    def _encrypt_once(self, lib: _libcrypto.Libcrypto, plaintext: bytes) -> bytes:
        with _pkey_ctx(lib, self._pkey, lib.EVP_PKEY_encrypt_init) as ctx:
            size = c_size_t(0)
            if lib.EVP_PKEY_encrypt(ctx, None, byref(size), plaintext, len(plaintext)) != 1:
                _fail(lib, "SM2 encryption failed")
            out = ctypes.create_string_buffer(size.value)
            if lib.EVP_PKEY_encrypt(ctx, out, byref(size), plaintext, len(plaintext)) != 1:
                _fail(lib, "SM2 encryption failed")
            return out.raw[: size.value]


class Sm2PrivateKey:
    """An SM2 key pair. Build it with :meth:`generate` or :meth:`from_der`."""

    __slots__ = ("__weakref__", "_pkey", "_public")

    def __init__(self, pkey: int) -> None:
        """Takes ownership of a checked ``EVP_PKEY *`` (internal: use :meth:`generate` or :meth:`from_der`)."""
        self._pkey = pkey
        self._public: Sm2PublicKey | None = None
        weakref.finalize(self, _lib().EVP_PKEY_free, pkey)

    def __repr__(self) -> str:
        return "<Sm2PrivateKey>"

    @classmethod
    def generate(cls) -> Sm2PrivateKey:
        """A fresh random key pair from OpenSSL's CSPRNG."""
        lib = _lib()
        ctx = lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
        if not ctx:
            _fail(lib, "SM2 is not enabled in libcrypto")
        pkey = c_void_p(None)
        try:
            if lib.EVP_PKEY_keygen_init(ctx) != 1 or lib.EVP_PKEY_generate(ctx, byref(pkey)) != 1 or not pkey.value:
                _fail(lib, "SM2 key generation failed")
        finally:
            lib.EVP_PKEY_CTX_free(ctx)
        return cls(pkey.value)

    @classmethod
    def from_der(cls, pkcs8_der: bytes) -> Sm2PrivateKey:
        """Parse an unencrypted PKCS#8 PrivateKeyInfo; refuses non-SM2 and inconsistent key pairs."""
        lib = _lib()
        p8 = _d2i(lib, lib.d2i_PKCS8_PRIV_KEY_INFO, lib.PKCS8_PRIV_KEY_INFO_free, pkcs8_der)
        try:
            pkey = lib.EVP_PKCS82PKEY(p8)
        finally:
            lib.PKCS8_PRIV_KEY_INFO_free(p8)
        if not pkey:
            _fail(lib, "malformed or unsupported private key")
        try:
            _check(lib, pkey, (lib.EVP_PKEY_private_check, lib.EVP_PKEY_pairwise_check), "private key")
        except BaseException:
            lib.EVP_PKEY_free(pkey)
            raise
        return cls(pkey)

    def to_der(self) -> bytes:
        """Unencrypted PKCS#8 DER: secret material the caller must seal."""
        lib = _lib()
        p8 = lib.EVP_PKEY2PKCS8(self._pkey)
        if not p8:
            _fail(lib, "cannot encode the private key")
        try:
            return _i2d(lib, lib.i2d_PKCS8_PRIV_KEY_INFO, p8)
        finally:
            lib.PKCS8_PRIV_KEY_INFO_free(p8)

    def public_key(self) -> Sm2PublicKey:
        """The matching public key."""
        if self._public is None:
            lib = _lib()
            self._public = Sm2PublicKey.from_der(_i2d(lib, lib.i2d_PUBKEY, self._pkey))
        return self._public

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign the 32-byte ``e = SM3(Z_A || M)`` as is (never hashed again); DER ``SEQUENCE {r, s}``."""
        if len(digest) != _DIGEST_LEN:
            raise Sm2Error("the SM2 digest must be 32 bytes")
        lib = _lib()
        with _pkey_ctx(lib, self._pkey, lib.EVP_PKEY_sign_init) as ctx:
            out = ctypes.create_string_buffer(_MAX_SIGNATURE_LEN)
            size = c_size_t(_MAX_SIGNATURE_LEN)
            if lib.EVP_PKEY_sign(ctx, out, byref(size), digest, _DIGEST_LEN) != 1:
                _fail(lib, "SM2 signing failed")
            return out.raw[: size.value]

    def decrypt(self, ciphertext_der: bytes) -> bytes:
        """Decrypt GM/T 0009 DER C1C3C2. Any malformed or tampered input raises :class:`Sm2Error`."""
        c2 = _parse_ciphertext(ciphertext_der)[3]
        c2_len = len(c2)
        lib = _lib()
        with _pkey_ctx(lib, self._pkey, lib.EVP_PKEY_decrypt_init) as ctx:
            out = ctypes.create_string_buffer(c2_len)
            size = c_size_t(c2_len)
            try:
                # OpenSSL checks that C1 is on the curve and compares C3 in constant time.
                rc = lib.EVP_PKEY_decrypt(ctx, out, byref(size), ciphertext_der, len(ciphertext_der))
                if rc != 1 or size.value != c2_len:
                    _fail(lib, "SM2 decryption failed")
                plaintext = out.raw[:c2_len]
                if plaintext == c2:  # an all-zero key stream, refused by GB/T 32918.4 B4 (see encrypt)
                    raise Sm2Error("SM2 decryption failed")
                return plaintext
            finally:
                ctypes.memset(out, 0, c2_len)


def _parse_ciphertext(der: bytes) -> tuple[int, int, bytes, bytes]:
    try:
        return _gmt0009.parse(der, coordinate_limit=_P, c3_len=_DIGEST_LEN)
    except ValueError as exc:
        raise Sm2Error(str(exc)) from None
