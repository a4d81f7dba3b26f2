"""protocol/signing.py against the worked examples of the API notes (spec sections 1.4 and 1.5),
exactly, and against the official SDKs' own signing code on random inputs."""

from __future__ import annotations

import hashlib
import random
import string
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from alibabacloud_tea_openapi.utils import Utils
from aliyunsdkcore.auth.composer import rpc_signature_composer

from openkms.protocol import signing

# --- spec 1.4: V1 (HMAC-SHA1) ------------------------------------------------------------------------

V1_DOC_PARAMS = {
    "AccessKeyId": "testid",
    "Action": "CreateKey",
    "Format": "json",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureVersion": "1.0",
    "Timestamp": "2016-03-28T03:13:08Z",
    "Version": "2016-01-20",
}
V1_DOC_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3Dtestid&Action%3DCreateKey&Format%3Djson&SignatureMethod%3DHMAC-SHA1"
    "&SignatureVersion%3D1.0&Timestamp%3D2016-03-28T03%253A13%253A08Z&Version%3D2016-01-20"
)


def test_v1_official_document_vector() -> None:
    # The official document shows the string to sign with its inner '&' separators unescaped
    # (spec 1.4 quotes it so); the signed bytes escape them, as step 4 of the algorithm says.
    sts = signing.v1_string_to_sign("GET", V1_DOC_PARAMS)
    head, _, query = V1_DOC_STRING_TO_SIGN.partition("&%2F&")
    assert sts == head + "&%2F&" + query.replace("&", "%26")
    assert signing.v1_signature("testsecret", V1_DOC_STRING_TO_SIGN) == "s/OdVWMTmNGagvWlljdAJ7Itsew="


V1_OLD_SDK_PARAMS = {
    "AccessKeyId": "testid",
    "Action": "DescribeKey",
    "Format": "JSON",
    "KeyId": "alias/my key",
    "RegionId": "cn-hangzhou",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "0123456789abcdef0123456789abcdef",
    "SignatureType": "",
    "SignatureVersion": "1.0",
    "Timestamp": "2024-01-01T00:00:00Z",
    "Version": "2016-01-20",
}
V1_OLD_SDK_STRING_TO_SIGN = (
    "POST&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeKey%26Format%3DJSON%26KeyId%3Dalias%252Fmy%2520key"
    "%26RegionId%3Dcn-hangzhou%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D0123456789abcdef0123456789abcdef"
    "%26SignatureType%3D%26SignatureVersion%3D1.0%26Timestamp%3D2024-01-01T00%253A00%253A00Z%26Version%3D2016-01-20"
)


def test_v1_second_vector_with_region_empty_signature_type_slash_and_space() -> None:
    assert signing.v1_string_to_sign("POST", V1_OLD_SDK_PARAMS) == V1_OLD_SDK_STRING_TO_SIGN
    assert signing.v1_signature("testsecret", V1_OLD_SDK_STRING_TO_SIGN) == "mtw+hpEhTn9Zea/1rmG/z0oEqSA="


def test_v1_signature_parameter_is_never_signed() -> None:
    with_sig = {**V1_OLD_SDK_PARAMS, "Signature": "mtw+hpEhTn9Zea/1rmG/z0oEqSA="}
    assert signing.v1_string_to_sign("POST", with_sig) == V1_OLD_SDK_STRING_TO_SIGN


def test_v1_method_is_upper_cased() -> None:
    assert signing.v1_string_to_sign("post", V1_OLD_SDK_PARAMS) == V1_OLD_SDK_STRING_TO_SIGN


# --- spec 1.5: V3 (ACS3-HMAC-SHA256) -----------------------------------------------------------------

EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
V3_QUERY = [("KeyId", "alias/test key"), ("Plaintext", "hello world*~"), ("EncryptionContext", '{"a":"b"}')]
V3_HEADERS = {
    "host": ["kms.cn-hangzhou.aliyuncs.com"],
    "x-acs-action": ["Encrypt"],
    "x-acs-content-sha256": [EMPTY],
    "x-acs-date": ["2024-01-01T00:00:00Z"],
    "x-acs-signature-nonce": ["3156853299f313e23d1673dc12e1703d"],
    "x-acs-version": ["2016-01-20"],
    "accept": ["application/json"],  # present but not signed
}
V3_SIGNED = ["x-acs-version", "host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce"]
V3_CANONICAL_REQUEST = "\n".join(
    [
        "POST",
        "/",
        "EncryptionContext=%7B%22a%22%3A%22b%22%7D&KeyId=alias%2Ftest%20key&Plaintext=hello%20world%2A~",
        "host:kms.cn-hangzhou.aliyuncs.com",
        "x-acs-action:Encrypt",
        f"x-acs-content-sha256:{EMPTY}",
        "x-acs-date:2024-01-01T00:00:00Z",
        "x-acs-signature-nonce:3156853299f313e23d1673dc12e1703d",
        "x-acs-version:2016-01-20",
        "",
        "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version",
        EMPTY,
    ]
)
V3_HASH = "7c6f420bdb6e621d24760e303fb632622b5a4676964dde61040a9c66853d9f2a"
V3_AUTHORIZATION = (
    "ACS3-HMAC-SHA256 Credential=testid,"
    "SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
    "Signature=1a7776101f1b5732dbe2a9d999c0946c2b55cc65878e37bf8f274289ba5ccd0c"
)


def test_v3_canonical_request_hash_and_authorization() -> None:
    assert signing.EMPTY_SHA256 == EMPTY
    canonical = signing.v3_canonical_request("POST", "/", V3_QUERY, V3_HEADERS, V3_SIGNED, EMPTY)
    assert canonical == V3_CANONICAL_REQUEST
    assert hashlib.sha256(canonical.encode()).hexdigest() == V3_HASH
    sts = signing.v3_string_to_sign("ACS3-HMAC-SHA256", canonical)
    assert sts == f"ACS3-HMAC-SHA256\n{V3_HASH}"
    signature = signing.v3_signature("ACS3-HMAC-SHA256", "testsecret", sts)
    assert signing.v3_authorization("ACS3-HMAC-SHA256", "testid", V3_SIGNED, signature) == V3_AUTHORIZATION


def test_v3_empty_path_is_slash_and_no_query_is_empty() -> None:
    canonical = signing.v3_canonical_request("get", "", [], {"host": ["h"]}, ["Host"], EMPTY)
    assert canonical.split("\n")[:3] == ["GET", "/", ""]
    assert canonical.split("\n")[3] == "host:h"


def test_v3_repeated_header_values_are_trimmed_sorted_and_joined() -> None:
    text = signing.v3_canonical_headers({"x-acs-a": [" b ", "a"]}, ["x-acs-a", "x-acs-missing"])
    assert text == "x-acs-a:a,b\nx-acs-missing:\n"


def test_percent_encode_is_rfc3986() -> None:
    assert signing.percent_encode("AZaz09-_.~") == "AZaz09-_.~"
    assert signing.percent_encode(" ") == "%20"
    assert signing.percent_encode("*") == "%2A"
    assert signing.percent_encode("+/=&%") == "%2B%2F%3D%26%25"
    assert signing.percent_encode("é中") == "%C3%A9%E4%B8%AD"


# --- cross-checks with the SDKs' own signing code ----------------------------------------------------

_ALPHABET = string.ascii_letters + string.digits + " -_.~*+/=&%:?#[]@!$'(),;\"{}<>|\\^`" + "éü中文€😀\t"


def _text(rng: random.Random, empty_ok: bool = True) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0 if empty_ok else 1, 24)))


def _name(rng: random.Random) -> str:
    # Parameter names are ASCII identifiers (with '.' for flattened maps and lists).
    return rng.choice(string.ascii_letters) + "".join(
        rng.choice(string.ascii_letters + string.digits + "._") for _ in range(rng.randint(0, 16))
    )


def _params(rng: random.Random) -> dict[str, str]:
    return {_name(rng): _text(rng) for _ in range(rng.randint(1, 12))}


compose_string_to_sign: Any = vars(rpc_signature_composer)["__compose_string_to_sign"]


@pytest.mark.parametrize("seed", range(200))
def test_v1_matches_both_sdks(seed: int) -> None:
    rng = random.Random(seed)
    params = _params(rng)
    method = rng.choice(["GET", "POST"])
    secret = _text(rng, empty_ok=False)
    sts = signing.v1_string_to_sign(method, params)
    assert sts == compose_string_to_sign(method, params), "aliyunsdkcore's rpc_signature_composer"
    assert signing.v1_signature(secret, sts) == Utils.get_rpcsignature(params, method, secret), "tea-openapi"


@pytest.mark.parametrize("algorithm", ["ACS3-HMAC-SHA256", "ACS3-HMAC-SM3"])
@pytest.mark.parametrize("seed", range(100))
def test_v3_matches_the_new_sdk(seed: int, algorithm: str) -> None:
    rng = random.Random(seed)
    query = _params(rng)
    headers = {
        "host": f"kms.cn-hangzhou.aliyuncs.com:{rng.randint(1, 65535)}",
        "x-acs-action": "Encrypt",
        "x-acs-version": "2016-01-20",
        "x-acs-date": "2024-01-01T00:00:00Z",
        "x-acs-signature-nonce": f"{rng.getrandbits(128):032x}",
        "x-acs-content-sha256": f"{rng.getrandbits(256):064x}",
        "accept": "application/json",
        "user-agent": f"  AlibabaCloud {_text(rng)}  ".replace("\t", " "),
        "content-type": "application/x-www-form-urlencoded",
    }
    body = _text(rng).encode()
    payload = signing.hash_hex(algorithm, body)
    ak, secret = _name(rng), _text(rng, empty_ok=False)
    method = rng.choice(["GET", "POST"])
    request = SimpleNamespace(method=method, pathname="/", query=query, headers=headers)
    expected = Utils.get_authorization(request, algorithm, payload, ak, secret)

    signed = list(headers)
    rng.shuffle(signed)
    ours_headers = {k: [v] for k, v in headers.items()}
    canonical = signing.v3_canonical_request(method, "/", list(query.items()), ours_headers, signed, payload)
    signature = signing.v3_signature(algorithm, secret, signing.v3_string_to_sign(algorithm, canonical))
    assert signing.v3_authorization(algorithm, ak, signed, signature) == expected


def test_sm3_hash_matches_the_sdks_pure_python_sm3() -> None:
    from alibabacloud_tea_openapi.sm3 import hash_sm3

    for data in (b"", b"abc", b"x" * 1000):
        assert signing.hash_hex("ACS3-HMAC-SM3", data) == hash_sm3(data).hex()


def test_percent_encode_agrees_with_the_rfc3986_encoder_on_every_character() -> None:
    """The ASCII table path and the general path give what urllib's strict encoder gives."""
    every_ascii = "".join(chr(c) for c in range(128))
    samples = [every_ascii, every_ascii[::-1], "2026-11-28T21:37:00Z", "aGVsbG8+/w==", "a b+c", "ü€😀 ~*", ""]
    samples += [chr(c) for c in range(0x300)]
    for text in samples:
        assert signing.percent_encode(text) == quote(text, safe="~", encoding="utf-8"), text


# --- the one-pass canonical query against its definition ------------------------------------------
# signing.py escapes a whole query at once, with stand-ins for '=' and '&' (\x00 and \x01); the
# definition escapes each name and value with urllib's strict RFC 3986 encoder, then (V1) the
# canonical query again.

_EVERY_CHARACTER = [chr(c) for c in range(0x300)] + ["€", "中", "😀", "\ufffd", "\x00", "\x01", "%", "%25", "=", "&"]


def _by_definition(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='~', encoding='utf-8')}={quote(v, safe='~', encoding='utf-8')}" for k, v in pairs)


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choice(_EVERY_CHARACTER) for _ in range(rng.randint(0, 12)))


@pytest.mark.parametrize("seed", range(300))
def test_canonical_queries_equal_their_definition(seed: int) -> None:
    rng = random.Random(seed)
    params = {_random_text(rng): _random_text(rng) for _ in range(rng.randint(0, 10))}
    if rng.random() < 0.5:
        params["Signature"] = _random_text(rng)
    pairs = [(k, params[k]) for k in sorted(params) if k != "Signature"]
    canonical = _by_definition(pairs)
    assert signing.v1_canonical_query(params) == canonical
    assert signing.v1_string_to_sign("get", params) == "GET&%2F&" + quote(canonical, safe="~")
    query = [(_random_text(rng), _random_text(rng)) for _ in range(rng.randint(0, 10))]
    assert signing.v3_canonical_query(query) == _by_definition(sorted(query))


def test_canonical_queries_escape_every_character_as_the_definition_does() -> None:
    for char in _EVERY_CHARACTER:
        params = {"A": char, f"B{char}": "x", "C": f"{char}={char}&{char}"}
        canonical = _by_definition(sorted(params.items()))
        assert signing.v1_canonical_query(params) == canonical, repr(char)
        assert signing.v1_string_to_sign("POST", params) == "POST&%2F&" + quote(canonical, safe="~"), repr(char)
        assert signing.v3_canonical_query(list(params.items())) == canonical, repr(char)


def test_a_stand_in_in_a_name_or_value_is_escaped_not_taken_for_a_separator() -> None:
    params = {"A\x00": "1\x01", "B": "x\x00y"}
    assert signing.v1_canonical_query(params) == "A%00=1%01&B=x%00y"
    assert signing.v3_canonical_query([("A", "\x01\x00")]) == "A=%01%00"


def test_a_lone_surrogate_cannot_be_signed() -> None:
    # As urllib's strict encoder: such a string has no UTF-8 form (the command-line client could
    # be given one from an undecodable argument).
    for params in ({"A": "x\udc80"}, {"A\ud800": "x"}):
        with pytest.raises(UnicodeEncodeError):
            signing.v1_string_to_sign("GET", params)
        with pytest.raises(UnicodeEncodeError):
            signing.v3_canonical_query(list(params.items()))
