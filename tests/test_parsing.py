"""core.parsing: the one integer parser takes ASCII digits only and refuses in plain words."""

from __future__ import annotations

import doctest
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import core.parsing
from core.errors import ConfigError
from core.parsing import MAX_DIGITS, parse_int, parse_ints

LAX_INTEGERS = ("１２", "1_0", "+3", "٣", " 3", "3 ", "0x10", "1e3", "3.0", "", "-", "−3")
PLAIN = re.compile(r"-?[0-9]{1,9}")


def test_docstring_examples():
    assert doctest.testmod(core.parsing).failed == 0


@given(st.integers(-(10**MAX_DIGITS) + 1, 10**MAX_DIGITS - 1))
def test_every_plain_integer_reads_back(value):
    assert parse_int(str(value), "n") == value


@given(st.text(max_size=12))
def test_anything_else_is_a_config_error_naming_the_parameter(text):
    if PLAIN.fullmatch(text):
        assert parse_int(text, "stride") == int(text)
        return
    with pytest.raises(ConfigError) as info:
        parse_int(text, "stride")
    assert info.value.parameter == "stride" and info.value.message.startswith("stride ")


@pytest.mark.parametrize("text", LAX_INTEGERS)
def test_what_int_would_take_is_refused(text):
    with pytest.raises(ConfigError, match=r"^stride must be a whole number written with"):
        parse_int(text, "stride")


def test_bounds_and_long_numbers_in_plain_words():
    with pytest.raises(ConfigError, match=r"^k must be at least 1 and at most 8, got 9$"):
        parse_int("9", "k", 1, 8)
    with pytest.raises(ConfigError, match=rf"^k has more than {MAX_DIGITS} digits"):
        parse_int("1" * (MAX_DIGITS + 1), "k")
    assert parse_int("-" + "9" * MAX_DIGITS, "k") == -(10**MAX_DIGITS - 1)


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=6), st.sampled_from([", ", " ", ";"]))
def test_lists_read_back(values, separator):
    text = "(" + separator.join(map(str, values)) + ")"
    assert parse_ints(text, "shape") == tuple(values)


@pytest.mark.parametrize("text", [f"1, {v}, 8" for v in ("１２", "1_0", "+3", "٣")])
def test_lists_refuse_lax_integers(text):
    with pytest.raises(ConfigError, match=r"^shape must be whole numbers written with the digits"):
        parse_ints(text, "shape", example="1, 3, 8")


def test_list_counts_and_emptiness():
    assert parse_ints("4 8", "stride", counts=(1, 2)) == (4, 8)
    with pytest.raises(ConfigError, match=r"^stride takes 1 or 2 value"):
        parse_ints("4 8 16", "stride", counts=(1, 2))
    with pytest.raises(ConfigError, match=r"^sizes needs at least one whole number, such as 4, 8$"):
        parse_ints(" ( ) ", "sizes", example="4, 8")
