"""The GM/T 0009 SM2 ciphertext, ``SEQUENCE {x INTEGER, y INTEGER, C3 OCTET STRING, C2 OCTET STRING}``
(C1C3C2), as strict DER.

OpenSSL's own parser ignores trailing bytes, accepts BER lengths and reduces C1's coordinates
modulo p, so one ciphertext has many encodings that all decrypt. ``parse`` accepts only the
canonical one, which makes a ciphertext non-malleable at the encoding level too.
"""

from __future__ import annotations


def encode(x: int, y: int, c3: bytes, c2: bytes) -> bytes:
    """The canonical DER of a ciphertext."""
    return _tlv(0x30, _integer(x) + _integer(y) + _tlv(0x04, c3) + _tlv(0x04, c2))


def parse(der: bytes, *, coordinate_limit: int, c3_len: int) -> tuple[int, int, bytes, bytes]:
    """``(x, y, C3, C2)`` from canonical DER with ``0 <= x, y < coordinate_limit``, C3 of ``c3_len``
    bytes and a non-empty C2. Raises ValueError (with a message free of content) otherwise."""
    try:
        body, rest = _take(der, 0x30)
        x_raw, body = _take(body, 0x02)
        y_raw, body = _take(body, 0x02)
        c3, body = _take(body, 0x04)
        c2, body = _take(body, 0x04)
    except ValueError:
        raise ValueError("malformed SM2 ciphertext") from None
    x, y = int.from_bytes(x_raw, "big"), int.from_bytes(y_raw, "big")
    if rest or body or x >= coordinate_limit or y >= coordinate_limit or len(c3) != c3_len or not c2:
        raise ValueError("malformed SM2 ciphertext")
    if encode(x, y, c3, c2) != der:  # catches long-form lengths, padded or negative INTEGERs
        raise ValueError("SM2 ciphertext is not canonical DER")
    return x, y, c3, c2


def _tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        return bytes((tag, n)) + value
    width = (n.bit_length() + 7) // 8
    return bytes((tag, 0x80 | width)) + n.to_bytes(width, "big") + value


def _integer(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))  # room for the sign bit


def _take(data: bytes, tag: int) -> tuple[bytes, bytes]:
    """Split one TLV with ``tag`` off ``data``: (value, rest). Raises ValueError when malformed."""
    if len(data) < 2 or data[0] != tag:
        raise ValueError
    length, offset = data[1], 2
    if length & 0x80:
        width = length & 0x7F
        if not 1 <= width <= 4 or len(data) < 2 + width:
            raise ValueError
        length, offset = int.from_bytes(data[2 : 2 + width], "big"), 2 + width
    if len(data) < offset + length:
        raise ValueError
    return data[offset : offset + length], data[offset + length :]
