"""Pagination and the ListKeys Filters language."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from openkms.domain import errors, listing
from openkms.domain.listing import Filter, Page


def test_page_defaults() -> None:
    assert Page() == Page(1, 10)


def test_page_slices() -> None:
    items = list(range(12))
    assert Page(1, 5).slice(items) == [0, 1, 2, 3, 4]
    assert Page(3, 5).slice(items) == [10, 11]
    assert Page(4, 5).slice(items) == []
    assert Page(1, 100).slice(items) == items


@pytest.mark.parametrize(
    ("number", "size", "name"),
    [(0, 10, "PageNumber"), (-1, 10, "PageNumber"), (1, 0, "PageSize"), (1, 101, "PageSize")],
)
def test_page_bounds(number: int, size: int, name: str) -> None:
    with pytest.raises(errors.InvalidParameter) as err:
        Page(number, size)
    assert err.value.name == name


def test_filter_keys_known_and_counted() -> None:
    listing.check_filters([Filter("KeyState", ("Enabled",)), Filter("TagKey", ("a",) * 10)])
    with pytest.raises(errors.InvalidParameter, match="Unknown filter key"):
        listing.check_filters([Filter("Colour", ("red",))])
    with pytest.raises(errors.InvalidParameter, match="1 to 10 values"):
        listing.check_filters([Filter("KeyState", ())])
    with pytest.raises(errors.InvalidParameter, match="1 to 10 values"):
        listing.check_filters([Filter("KeyState", ("x",) * 11)])
    with pytest.raises(errors.InvalidParameter, match="At most 10 filters"):
        listing.check_filters([Filter("KeyState", ("Enabled",))] * 11)


def _attrs(values: dict[str, set[str]]) -> Callable[[str], set[str]]:
    return lambda name: values.get(name, set())


def test_matches_and_across_keys_or_within_a_key() -> None:
    key = _attrs({"KeyState": {"Enabled"}, "KeySpec": {"Aliyun_AES_256"}, "TagKey": {"a", "b"}})
    assert listing.matches([], key)
    assert listing.matches([Filter("KeyState", ("Disabled", "Enabled"))], key)  # OR within one key
    assert not listing.matches([Filter("KeyState", ("Disabled",))], key)
    # AND across keys
    assert listing.matches([Filter("KeyState", ("Enabled",)), Filter("KeySpec", ("Aliyun_AES_256",))], key)
    assert not listing.matches([Filter("KeyState", ("Enabled",)), Filter("KeySpec", ("RSA_2048",))], key)
    # a repeated key widens (OR), it does not narrow
    assert listing.matches([Filter("KeyState", ("Disabled",)), Filter("KeyState", ("Enabled",))], key)
    # a multi-valued attribute matches when any of its values is wanted
    assert listing.matches([Filter("TagKey", ("b", "z"))], key)
    assert not listing.matches([Filter("AliasName", ("alias/x",))], key)


@pytest.mark.parametrize(
    ("text", "number"), [(None, 1), ("", 1), ("1", 1), (" +7 ", 7), (str(listing.MAX_PAGE_NUMBER), 10**9)]
)
def test_page_number_is_read_one_way(text: str | None, number: int) -> None:
    # The API's PageNumber and the console's page links: absent or empty is the first page.
    assert listing.page_number(text) == number


@pytest.mark.parametrize("text", ["0", "-1", "x", "1.5", "٣", str(listing.MAX_PAGE_NUMBER + 1), " "])
def test_page_number_refuses_what_is_not_a_page(text: str) -> None:
    with pytest.raises(errors.InvalidParameter) as err:
        listing.page_number(text)
    assert err.value.name == "PageNumber"
    assert err.value.reason


def test_page_size_defaults_and_bounds() -> None:
    assert listing.page_size(None) == listing.page_size("") == listing.DEFAULT_PAGE_SIZE
    assert listing.page_size("100") == 100
    with pytest.raises(errors.InvalidParameter) as err:
        listing.page_size("101")
    assert (err.value.name, err.value.reason) == ("PageSize", "It must be from 1 to 100.")


def test_search_matches_part_of_the_id_or_an_alias_in_any_case() -> None:
    key_id = "0b9a1c0e-0000-4000-8000-00000000abcd"
    assert listing.search_matches("0B9A", key_id, [])
    assert listing.search_matches(" abcd ", key_id, [])
    assert listing.search_matches("app/", key_id, ["alias/other", "alias/App/billing"])
    assert not listing.search_matches("billing-2", key_id, ["alias/App/billing"])
    assert listing.search_matches("", key_id, [])
