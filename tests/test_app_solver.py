"""AppTest: the size solver page shows core's solutions, links them to the designer, round-trips."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pytest
import torch
from app_support import assert_clean, errors, forward_shape, open_page, run_snippet, titles
from test_security import assert_generated_code_is_clean

from core.geometry.chains import chain_code, default_channels, solve_ends
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


# ----------------------------------------------------------------------------- by the ends


def chains_table(at):
    return at.main.table[0].value


def test_two_sizes_in_chain_mode_say_what_they_answer_and_offer_the_chain_by_its_ends():
    at = open_page("solver", {"sv_mode": "chain", "sv_chain": "7, 28"})
    assert_clean(at)
    said = " ".join(m.value for m in at.main.markdown)
    assert "Two sizes ask the one-layer question" in said
    assert shown_rows(at) == core_rows(solve(7, 28, max_kernel=8, max_stride=8, max_dilation=1))
    at.button(key="sv_to_ends").click().run()
    assert_clean(at)
    assert at.segmented_control(key="sv_mode").value == "ends"
    assert at.number_input(key="sv_from").value == 7 and at.number_input(key="sv_to").value == 28
    assert at.query_params["sv_mode"] == "ends" and at.query_params["sv_to"] == "28"


def test_a_chain_by_its_ends_is_cores_and_its_module_runs_in_torch():
    at = open_page("solver", {"sv_mode": "ends", "sv_from": "7", "sv_to": "28", "sv_layers": "2"})
    assert_clean(at)
    chains = solve_ends(7, 28, 2, max_kernel=8, max_stride=8, max_dilation=1, max_layers=6)
    assert list(chains_table(at)["sizes (px)"]) == [" → ".join(map(str, c.sizes)) for c in chains]
    assert chains[0].sizes == (7, 14, 28)
    code = at.main.code[0].value
    channels = default_channels(64, 32, 2)  # the sidebar layer's in and out channels
    assert code == chain_code(chains[0], channels).strip()
    assert_generated_code_is_clean(code, "solver page")
    model = run_snippet(code)["model"]
    with torch.no_grad():
        assert model(torch.zeros(1, 64, 7, 7)).shape == (1, 32, 28, 28)

    at.text_input(key="sv_ch").set_value("64, 16, 3").run()  # channels per layer, edited
    assert_clean(at)
    model = run_snippet(at.main.code[0].value)["model"]
    with torch.no_grad():
        assert model(torch.zeros(2, 64, 7, 7)).shape == (2, 3, 28, 28)
    layers = at.main.table[1].value
    assert list(layers["channels"]) == ["64 → 16", "16 → 3"]
    assert at.query_params["sv_ch"] == "64, 16, 3"

    at.selectbox(key="sv_chain_pick").select_index(3).run()  # another chain, same module shape
    model = run_snippet(at.main.code[0].value)["model"]
    assert f"# {' -> '.join(map(str, chains[3].sizes))}" in at.main.code[0].value
    with torch.no_grad():
        assert model(torch.zeros(1, 64, 7, 7)).shape == (1, 3, 28, 28)

    at.text_input(key="sv_ch").set_value("64, 3").run()
    (message,) = errors(at)
    assert message.startswith("**channels**") and "give 3 numbers" in message


def test_the_fewest_layers_by_the_ends():
    at = open_page("solver", {"sv_mode": "ends", "sv_from": "4", "sv_to": "64"})
    at.selectbox(key="sv_layers").select("fewest").run()
    assert_clean(at)
    fewest = solve_ends(4, 64, None, max_kernel=8, max_stride=8, max_dilation=1, max_layers=6)
    assert fewest[0].layers == 2
    assert chains_table(at)["sizes (px)"].iloc[0] == " → ".join(map(str, fewest[0].sizes))
    assert any("the fewest that work" in h.value for h in at.main.subheader)
    model = run_snippet(at.main.code[0].value)["model"]
    with torch.no_grad():
        assert model(torch.zeros(1, 64, 4, 4)).shape[-2:] == (64, 64)


def test_values_above_the_limits_are_refused_with_a_message_in_every_mode():
    at = open_page("solver")
    at.number_input(key="sv_in").set_value(100_000).run()
    assert_clean(at)
    (message,) = errors(at)
    assert "above the limit" in message and "DECONV\\_LAB\\_LIMITS=local" in message
    assert not at.main.table
    at = open_page("solver", {"sv_mode": "ends"})
    at.number_input(key="sv_to").set_value(5000).run()
    (message,) = errors(at)
    assert message.startswith("the end size 5000 is above the limit")
    at = open_page("solver", {"sv_mode": "chain"})
    at.text_input(key="sv_chain").set_value("4, 8, 99999").run()
    (message,) = errors(at)
    assert message.startswith("**sizes**") and "above the limit" in message
    at = open_page("solver")
    at.number_input(key="sv_maxk").set_value(40).run()
    assert any("max kernel\\_size can be at most 16" in e for e in errors(at))


def test_a_layer_count_above_the_limit_in_a_link_names_the_limit():
    at = open_page("solver", {"sv_mode": "ends", "sv_layers": "40"})
    assert_clean(at)
    notices = " ".join(w.value for w in at.warning).replace("\\", "")
    assert "ignored `sv_layers=40` from the link: it is above the limit" in notices
    assert "the layers of a chain by its ends" in notices
    assert at.selectbox(key="sv_layers").value == "2"
