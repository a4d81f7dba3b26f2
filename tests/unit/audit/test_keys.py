"""The trail's keyed hash: HMAC-SHA256 of the value under the hash key, whatever was hashed before
(each value starts from a copy of the keyed state, which must never carry one value into the next)."""

from __future__ import annotations

import hashlib
import hmac
from concurrent.futures import ThreadPoolExecutor

from openkms.audit.keys import AuditKeys


def expected(key: bytes, value: bytes) -> str:
    return "hmac-sha256:" + hmac.new(key, value, hashlib.sha256).hexdigest()


def test_each_value_is_hashed_alone_under_the_key(keys: AuditKeys) -> None:
    values = [b"", b"QUJD", b"QUJD", "ä".encode(), b"x" * 5000, b""]
    assert [keys.keyed_hash(v) for v in values] == [expected(b"h" * 32, v) for v in values]
    other = AuditKeys(keys.signing, b"o" * 32)
    assert other.keyed_hash(b"QUJD") == expected(b"o" * 32, b"QUJD") != keys.keyed_hash(b"QUJD")


def test_threads_hashing_at_once_get_their_own_values_hash(keys: AuditKeys) -> None:
    values = [str(n).encode() * (n % 7 + 1) for n in range(2000)]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(keys.keyed_hash, values))
    assert got == [expected(b"h" * 32, v) for v in values]
