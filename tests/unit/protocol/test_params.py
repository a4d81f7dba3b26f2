"""protocol/params.py: typed readers, liberal in what they accept, InvalidParameter otherwise."""

from __future__ import annotations

import base64

import pytest

from openkms.domain import errors
from openkms.protocol.params import Params


def test_empty_means_absent() -> None:
    p = Params({"A": "", "B": "x"})
    assert p.raw("A") is None
    assert p.raw("Missing") is None
    assert p.raw("B") == "x"
    assert p.present("A")
    assert not p.present("Missing")
    with pytest.raises(errors.MissingParameter) as err:
        p.required("A")
    assert err.value.name == "A"
    assert p.integer("A") is None
    assert p.json("A") is None
    assert p.flag("A", default=True) is True


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("True", True), ("TRUE", True), (" true ", True), ("false", False), ("False", False)],
)
def test_booleans(text: str, value: bool) -> None:
    assert Params({"F": text}).flag("F") is value
    assert Params({"F": text}).required_flag("F") is value


@pytest.mark.parametrize("text", ["1", "0", "yes", "no", "t", "truee", "on"])
def test_bad_booleans(text: str) -> None:
    with pytest.raises(errors.InvalidParameter) as err:
        Params({"F": text}).flag("F")
    assert err.value.name == "F"


def test_required_flag_must_be_present() -> None:
    with pytest.raises(errors.MissingParameter):
        Params({}).required_flag("F")


@pytest.mark.parametrize(
    ("text", "value"), [("0", 0), ("7", 7), ("+7", 7), ("-7", -7), (" 30 ", 30), ("999999999999999999", 10**18 - 1)]
)
def test_integers(text: str, value: int) -> None:
    assert Params({"N": text}).integer("N") == value


@pytest.mark.parametrize("text", ["1.5", "1e3", "0x10", "ten", "1_000", "--1", "1 2", "9999999999999999999", "١٢"])
def test_bad_integers(text: str) -> None:
    with pytest.raises(errors.InvalidParameter, match="integer"):
        Params({"N": text}).integer("N")


@pytest.mark.parametrize(("text", "ok"), [("1", True), ("100", True), ("0", False), ("101", False), ("-1", False)])
def test_integer_bounds(text: str, ok: bool) -> None:
    p = Params({"PageSize": text})
    if ok:
        assert p.integer("PageSize", 1, 100) == int(text)
    else:
        with pytest.raises(errors.InvalidParameter, match="from 1 to 100") as err:
            p.integer("PageSize", 1, 100)
        assert err.value.name == "PageSize"


def test_one_sided_integer_bound_message_names_only_that_bound() -> None:
    with pytest.raises(errors.InvalidParameter) as err:
        Params({"N": "0"}).integer("N", lo=1)
    assert "None" not in err.value.message
    with pytest.raises(errors.InvalidParameter) as err:
        Params({"N": "11"}).integer("N", hi=10)
    assert "None" not in err.value.message


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(b"hello world").decode(),  # padded
        base64.b64encode(b"hello world").decode().rstrip("="),  # padding dropped
        "aGVsbG8g\nd29ybGQ=",  # a line break (MIME-style)
        " aGVsbG8gd29ybGQ= ",
    ],
)
def test_base64_with_and_without_padding(text: str) -> None:
    assert Params({"B": text}).b64("B") == b"hello world"


@pytest.mark.parametrize("text", ["not base64!", "aGVsbG8gd29ybGQ=x", "a", "aGVsb-8_", "====", "aGVs=bG8="])
def test_bad_base64(text: str) -> None:
    with pytest.raises(errors.InvalidParameter, match="base64") as err:
        Params({"B": text}).b64("B")
    assert err.value.name == "B"


def test_base64_is_required() -> None:
    with pytest.raises(errors.MissingParameter):
        Params({"B": ""}).b64("B")


def test_json() -> None:
    assert Params({"J": '{"a": [1, "x"]}'}).json("J") == {"a": [1, "x"]}
    with pytest.raises(errors.InvalidParameter, match="JSON"):
        Params({"J": "{not json"}).json("J")


def test_map_as_json() -> None:
    assert Params({"EncryptionContext": '{"b":"2","a":"1"}'}).map("EncryptionContext") == {"b": "2", "a": "1"}


def test_map_flattened() -> None:
    p = Params(
        {
            "EncryptionContext.app": "x",
            "EncryptionContext.tenant": "42",
            "EncryptionContext.": "ignored",
            "Other.a": "no",
        }
    )
    assert p.map("EncryptionContext") == {"app": "x", "tenant": "42"}


def test_map_absent_is_empty() -> None:
    assert Params({}).map("EncryptionContext") == {}
    assert Params({"EncryptionContext": ""}).map("EncryptionContext") == {}


@pytest.mark.parametrize("text", ['["a"]', '"a"', "1", "true"])
def test_map_must_be_an_object(text: str) -> None:
    with pytest.raises(errors.InvalidParameter, match="JSON object"):
        Params({"M": text}).map("M")


def test_map_json_null_is_absent() -> None:
    # Liberal: a client serialising "no context" as JSON null gets no context.
    assert Params({"M": "null"}).map("M") == {}


def test_map_json_wins_over_flattened() -> None:
    assert Params({"M": '{"a":"1"}', "M.b": "2"}).map("M") == {"a": "1"}


def test_indexed_lists_in_index_order() -> None:
    p = Params(
        {"ResourceId.10": "k10", "ResourceId.2": "k2", "ResourceId.1": "k1", "ResourceId.3": "", "ResourceIdX.4": "no"}
    )
    assert p.indexed("ResourceId", 50) == ["k1", "k2", "k10"]
    assert Params({}).indexed("ResourceId", 50) == []


def test_indexed_limit() -> None:
    p = Params({f"ResourceId.{i}": f"k{i}" for i in range(1, 52)})
    with pytest.raises(errors.InvalidParameter, match="At most 50"):
        p.indexed("ResourceId", 50)


@pytest.mark.parametrize("suffix", ["²", "١", "x", "-1", "1.5", ""])
def test_indexed_ignores_non_ascii_digit_indexes(suffix: str) -> None:
    # '²'.isdigit() is True but int('²') fails: such a name must never become a 500.
    p = Params({f"ResourceId.{suffix}": "bad", "ResourceId.1": "k1"})
    assert p.indexed("ResourceId", 50) == ["k1"]
    q = Params({f"Tag.{suffix}.Key": "bad", "Tag.1.Key": "k", "Tag.1.Value": "v"})
    assert q.indexed_pairs("Tag", 20) == [("k", "v")]


def test_indexed_pairs() -> None:
    p = Params(
        {
            "Tag.2.Key": "b",
            "Tag.2.Value": "2",
            "Tag.1.Key": "a",
            "Tag.1.Value": "1",
            "Tag.3.Key": "no-value",
            "Tag.4.Value": "no-key",
            "Tag.5.Key": "",
            "Tag.6.Other": "x",
        }
    )
    assert p.indexed_pairs("Tag", 20) == [("a", "1"), ("b", "2"), ("no-value", "")]


def test_indexed_pairs_limit() -> None:
    p = Params({f"Tag.{i}.Key": f"k{i}" for i in range(1, 22)})
    with pytest.raises(errors.InvalidParameter, match="At most 20"):
        p.indexed_pairs("Tag", 20)
