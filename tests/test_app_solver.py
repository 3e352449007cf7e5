"""AppTest: the size solver page shows core's solutions, links them to the designer, round-trips."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pytest
import torch
from app_support import assert_clean, errors, forward_shape, open_page, run_snippet, titles

from core.geometry.keras import from_keras
from core.geometry.layer import SPATIAL_NAMES
from core.geometry.solver import solve, solve_chain
from ui.state import LayerConfig

COLUMNS = list(SPATIAL_NAMES)


def shown_table(at):
    """The solutions, every static table of the page's main area together (the first rows and
    the "more" expander)."""
    return pd.concat([t.value for t in at.main.table], ignore_index=True)


def shown_rows(at) -> list[tuple]:
    table = shown_table(at)
    return [tuple(int(v) for v in row) for row in table[COLUMNS].itertuples(index=False)]


def link_of(cell: str) -> str:
    """The address of a markdown link '[open ↗](./?k=4&...)'."""
    match = re.fullmatch(r"\[[^\]]*\]\((\./\?[^)\s]*)\)", cell)
    assert match, cell
    return match.group(1)


def core_rows(solutions) -> list[tuple]:
    return [(s.kernel_size, s.stride, s.padding, s.output_padding, s.dilation) for s in solutions]


def test_default_table_is_cores_solutions():
    at = open_page("solver")
    assert_clean(at)
    assert titles(at) == ["Size solver"]
    expected = solve(16, 32, max_kernel=8, max_stride=8, max_dilation=1)
    assert shown_rows(at) == core_rows(expected)
    overlap = list(shown_table(at)["overlap"])
    assert overlap == ["even" if s.even_overlap else "uneven" for s in expected]


def test_changing_sizes_and_bounds_updates_the_table():
    at = open_page("solver")
    at.number_input(key="sv_in").set_value(7)
    at.number_input(key="sv_out").set_value(15)
    at.number_input(key="sv_maxd").set_value(2)
    at.run()
    assert_clean(at)
    assert shown_rows(at) == core_rows(solve(7, 15, max_kernel=8, max_stride=8, max_dilation=2))
    for row in shown_rows(at):  # every row really maps 7 -> 15 in torch
        k, s, p, op, d = row
        layer = torch.nn.ConvTranspose2d(1, 1, k, s, p, op, dilation=d)
        assert forward_shape(layer, 1, (7, 7)) == (15, 15)


def test_chain_mode():
    at = open_page("solver")
    at.segmented_control(key="sv_mode").set_value("chain").run()
    at.text_input(key="sv_chain").set_value("4, 8, 16, 32").run()
    assert_clean(at)
    expected = solve_chain([4, 8, 16, 32], max_kernel=8, max_stride=8, max_dilation=1)
    assert shown_rows(at) == core_rows(expected)


def test_bad_chain_gives_an_error_naming_sizes_and_no_exception():
    at = open_page("solver")
    at.segmented_control(key="sv_mode").set_value("chain").run()
    at.text_input(key="sv_chain").set_value("4, eight, 16").run()
    assert_clean(at)
    assert any("sizes" in e for e in errors(at))
    assert not at.main.table  # nothing stale is shown
    at.text_input(key="sv_chain").set_value("32, 16").run()  # shrinking: no solution
    assert_clean(at)
    assert solve_chain([32, 16], max_kernel=8, max_stride=8, max_dilation=1) == []
    assert any("No configuration" in w.value for w in at.warning)


LAX_INTEGERS = ("１２", "1_0", "+3", "٣")  # int() takes all four; the solver takes none


@pytest.mark.parametrize("value", LAX_INTEGERS)
def test_chain_sizes_are_ascii_digits_only(value):
    at = open_page("solver", {"sv_mode": "chain", "sv_chain": "4, 8, 16"})
    at.text_input(key="sv_chain").set_value(f"4, {value}, 16").run()
    assert_clean(at)
    (message,) = errors(at)
    assert message.startswith("**sizes**") and "written with the digits 0\\-9" in message
    assert "invalid literal" not in message
    assert not at.main.table


def test_link_numbers_are_ascii_digits_only():
    keys = ("sv_in", "sv_out", "sv_maxk", "sv_maxs")
    at = open_page("solver", dict(zip(keys, LAX_INTEGERS, strict=True)))
    assert_clean(at)
    warning = " ".join(w.value for w in at.warning)
    for key, value in zip(keys, LAX_INTEGERS, strict=True):
        assert f"`{key}={value}`" in warning
    assert warning.count("must be a whole number written with the digits 0\\-9") == 4
    assert "invalid literal" not in warning
    assert shown_rows(at) == core_rows(solve(16, 32, max_kernel=8, max_stride=8, max_dilation=1))


def test_links_and_open_button_load_the_solution_into_the_designer():
    at = open_page("solver")
    first = solve(16, 32, max_kernel=8, max_stride=8, max_dilation=1)[0]
    link = link_of(shown_table(at)["designer"].iloc[0])
    params = dict(parse_qsl(urlsplit(link).query))
    cfg, notices = LayerConfig.from_query(params)
    assert not notices
    assert cfg.kernel_size[0] == first.kernel_size and cfg.stride[0] == first.stride
    assert cfg.padding[0] == first.padding and cfg.output_padding[0] == first.output_padding
    assert cfg.input_size == (16, 16)

    at.button(key="sv_open").click().run()
    assert_clean(at)
    assert titles(at) == ["Layer designer"]
    assert at.query_params["k"] == str(first.kernel_size)
    assert at.query_params["p"] == str(first.padding)
    assert at.number_input(key="layer_kernel_size").value == first.kernel_size


def test_url_round_trip():
    query = {"sv_mode": "chain", "sv_chain": "4, 8, 16", "sv_maxk": "6", "k": "5"}
    at = open_page("solver", query)
    assert_clean(at)
    assert at.text_input(key="sv_chain").value == "4, 8, 16"
    assert at.number_input(key="sv_maxk").value == 6
    expected = core_rows(solve_chain([4, 8, 16], max_kernel=6, max_stride=8, max_dilation=1))
    assert shown_rows(at) == expected
    for key, value in query.items():
        assert at.query_params[key] == value
    again = open_page("solver", at.query_params)  # the link as the browser now shows it
    assert shown_rows(again) == expected
    assert again.query_params == at.query_params


def test_bad_url_values_are_reported_not_raised():
    at = open_page("solver", {"sv_maxk": "99", "sv_mode": "sideways", "k": "abc"})
    assert_clean(at)
    warning = " ".join(w.value for w in at.warning)
    assert "sv_maxk" in warning and "sv_mode" in warning and "k=abc" in warning
    assert at.number_input(key="sv_maxk").value == 8


def test_keras_translation_code_runs_and_matches_keras_size():
    at = open_page("solver")
    at.main.selectbox[-2].select("same")
    at.main.number_input[-1].set_value(15)
    at.form_submit_button[0].click().run()
    assert_clean(at)
    expected = from_keras(32, 3, 2, "same", None, in_channels=64, input_size=15)
    snippet = at.main.code[-1].value
    assert snippet == expected.code().strip()
    layer = run_snippet(snippet)["layer"]
    assert forward_shape(layer, 64, (15, 15)) == expected.keras_output_size
