"""Field rules of the README's HTTP API: usernames, flows, Base64."""

from __future__ import annotations

import pytest

from facevoice.errors import BadInput
from facevoice.web.requests import (
    base64_field,
    flow_field,
    is_valid_username,
    optional_int_field,
)


@pytest.mark.parametrize("name", ["abc", "Alice_01", "a.b-c", "x" * 32, "_under", "9lives"])
def test_names_inside_the_rule_are_valid(name: str) -> None:
    assert is_valid_username(name)


@pytest.mark.parametrize(
    "name", ["ab", "x" * 33, ".dot", "../x", "a/b", "a b", "émile", "", None, 42, "a\nb"]
)
def test_names_outside_the_rule_are_invalid(name: object) -> None:
    assert not is_valid_username(name)


def test_flow_must_be_sign_up_or_log_in() -> None:
    assert flow_field({"flow": "log_in"}) == "log_in"
    with pytest.raises(BadInput):
        flow_field({"flow": "register"})


@pytest.mark.parametrize(
    "value",
    ["aGVsbG8=", "data:image/png;base64,aGVsbG8=", "data:audio/webm;codecs=opus;base64,aGVsbG8="],
)
def test_base64_with_or_without_data_url_prefix(value: str) -> None:
    assert base64_field({"image": value}, "image") == b"hello"


@pytest.mark.parametrize("value", ["aGVsbG8", "aGV sbG8=", "a$b=", "", None, 7, ["x"]])
def test_broken_base64_is_400(value: object) -> None:
    with pytest.raises(BadInput):
        base64_field({"image": value}, "image")


def test_optional_numbers_are_checked() -> None:
    assert optional_int_field({}, "phrase", 1, 5) is None
    assert optional_int_field({"phrase": "3"}, "phrase", 1, 5) == 3
    for bad in (0, 6, "x", 2.5, True):
        with pytest.raises(BadInput):
            optional_int_field({"phrase": bad}, "phrase", 1, 5)
