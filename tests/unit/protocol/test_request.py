"""protocol/request.py: query and form decoding, merging, headers."""

from __future__ import annotations

import pytest

from openkms.protocol.errors import ParseRequestParameter
from openkms.protocol.request import build_request

FORM = [(b"Content-Type", b"application/x-www-form-urlencoded; charset=utf-8")]


def test_plus_and_percent20_are_both_a_space() -> None:
    req = build_request("GET", "/", b"A=hello+world&B=hello%20world&C=a%2Bb", [], b"")
    assert req.params == {"A": "hello world", "B": "hello world", "C": "a+b"}


def test_form_body_decoding_is_the_same() -> None:
    req = build_request("POST", "/", b"", FORM, b"A=hello+world&B=hello%20world&C=a%2Bb")
    assert req.form == [("A", "hello world"), ("B", "hello world"), ("C", "a+b")]
    assert req.params == {"A": "hello world", "B": "hello world", "C": "a+b"}


def test_utf8_escapes() -> None:
    req = build_request("GET", "/", b"KeyId=alias%2Fmy%20key&P=w%C3%B6rld%E4%B8%AD", [], b"")
    assert req.params == {"KeyId": "alias/my key", "P": "wörld中"}


def test_blank_values_are_kept() -> None:
    # They are signed (the old SDK's SignatureType=), so they must survive decoding.
    req = build_request("GET", "/", b"SignatureType=&Flag&Other=1", [], b"")
    assert req.query == [("SignatureType", ""), ("Flag", ""), ("Other", "1")]
    assert req.params["SignatureType"] == ""


def test_empty_parts_and_repeated_names() -> None:
    req = build_request("GET", "/", b"&&A=1&&A=2&", [], b"")
    assert req.query == [("A", "1"), ("A", "2")]
    assert req.params == {"A": "2"}


def test_values_keep_equals_signs() -> None:
    req = build_request("GET", "/", b"Signature=abc%3D&Raw=a=b", [], b"")
    assert req.params == {"Signature": "abc=", "Raw": "a=b"}


@pytest.mark.parametrize("query", [b"A=%zz", b"A=%4", b"A=%", b"A=ok%2", b"%zz=1", b"A=%ff", b"A=%C3", b"A=%C3%28"])
def test_bad_escapes_are_a_parse_error(query: bytes) -> None:
    with pytest.raises(ParseRequestParameter, match="query string"):
        build_request("GET", "/", query, [], b"")


def test_bad_escapes_in_the_form_body_are_a_parse_error() -> None:
    with pytest.raises(ParseRequestParameter, match="form body"):
        build_request("POST", "/", b"", FORM, b"A=%zz")


def test_raw_non_ascii_bytes_are_a_parse_error() -> None:
    with pytest.raises(ParseRequestParameter):
        build_request("GET", "/", "A=é".encode(), [], b"")
    with pytest.raises(ParseRequestParameter):
        build_request("POST", "/", b"", FORM, b"A=\xff")


def test_the_body_is_a_form_only_with_the_form_content_type() -> None:
    body = b"A=1&B=2"
    assert build_request("POST", "/", b"", [], body).form == []
    assert build_request("POST", "/", b"", [(b"content-type", b"application/json")], body).params == {}
    assert build_request("POST", "/", b"", [(b"CONTENT-TYPE", b"Application/X-WWW-Form-Urlencoded")], body).params == {
        "A": "1",
        "B": "2",
    }
    # A body that is not a form is never decoded, so bytes that are not URL-encoded do not fail.
    assert build_request("POST", "/", b"", [], b"\xff\xfe").body == b"\xff\xfe"


def test_query_and_form_merge_and_the_body_wins() -> None:
    req = build_request("POST", "/", b"Action=Encrypt&KeyId=from-query", FORM, b"KeyId=from-body&Plaintext=x")
    assert req.params == {"Action": "Encrypt", "KeyId": "from-body", "Plaintext": "x"}
    assert req.query == [("Action", "Encrypt"), ("KeyId", "from-query")]


def test_headers_are_lower_cased_and_multi_valued() -> None:
    req = build_request(
        "post", "/", b"", [(b"Host", b"kms.cn-shanghai.aliyuncs.com"), (b"X-Acs-A", b"1"), (b"x-acs-a", b"2")], b""
    )
    assert req.method == "POST"
    assert req.host == "kms.cn-shanghai.aliyuncs.com"
    assert req.headers["x-acs-a"] == ["1", "2"]
    assert req.header("x-acs-a") == "1"
    assert req.header("missing") is None
