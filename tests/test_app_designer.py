"""AppTest: the layer designer shows core's sizes and replacements, and its code runs in torch."""

from __future__ import annotations

import pytest
import torch
from app_support import assert_clean, errors, forward_shape, open_page, run_snippet, titles

from core.geometry.changes import changes_for, near_multiple
from core.geometry.layer import TransposedConv
from core.geometry.output_size import output_size, output_steps
from core.presets import PRESETS, preset
from core.replacements.catalog import list_replacements
from ui import caps, text
from ui.state import LayerConfig


def shown_layer(at) -> tuple[TransposedConv, LayerConfig]:
    """The layer the URL describes (the page's state), as core sees it."""
    cfg, notices = LayerConfig.from_query(at.query_params)
    assert not notices
    return cfg.layer(), cfg


def steps_table(at):
    return at.main.table[0].value  # the first table: the arithmetic


def replacement_table(at):
    return at.main.table[1].value  # the second: the replacements


def torch_output(layer: TransposedConv, size: tuple[int, int]) -> tuple[int, int]:
    module = torch.nn.ConvTranspose2d(**layer.kwargs())
    return forward_shape(module, layer.in_channels, size)


def test_default_view_matches_core_and_torch():
    at = open_page()
    assert_clean(at)
    assert titles(at) == ["Layer designer"]
    layer, cfg = shown_layer(at)
    out = output_size(layer, cfg.input_arg())
    assert out == torch_output(layer, cfg.input_size)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Output (H × W)"] == f"{out[0]} × {out[1]} px"

    steps = steps_table(at)
    expected = output_steps(layer, cfg.input_arg())
    assert list(steps["out"]) == [s.output for s in expected]
    assert list(steps["axis"]) == [s.axis for s in expected]

    table = replacement_table(at)
    found = list_replacements(layer, cfg.input_arg())
    assert list(table["replacement"]) == [r.name for r in found]
    assert list(table["exact"]) == ["yes" if r.exact else "no" for r in found]
    assert list(table["params"]) == [text.count(r.params) for r in found]
    assert list(table["MACs"]) == [text.count(r.macs) for r in found]
    assert list(table["peak memory"]) == [text.nbytes(r.peak_memory) for r in found]
    notes = list(dict.fromkeys(r.checkerboard_reason for r in found))
    assert list(table["checkerboard risk"]) == [
        f"{'yes' if r.checkerboard_risk else 'no'} (note {notes.index(r.checkerboard_reason) + 1})"
        for r in found
    ]
    shown = " ".join(m.value for m in at.main.markdown).replace("\\", "")
    for i, note in enumerate(notes, 1):
        assert f"**Note {i}.** {note}" in shown


def test_every_replacement_code_runs_with_the_layers_output_shape():
    at = open_page()
    layer, cfg = shown_layer(at)
    expected = torch_output(layer, cfg.input_size)
    found = list_replacements(layer, cfg.input_arg())
    for replacement in (found[0], *[r for r in found if r.exact]):
        at.selectbox(key="rep").select(replacement.name).run()
        assert_clean(at)
        snippet = at.main.code[1].value
        assert snippet == replacement.code.strip()
        module = run_snippet(snippet)["layer"]
        assert forward_shape(module, layer.in_channels, cfg.input_size) == expected
        assert at.query_params["rep"] == replacement.name


def test_weight_transfer_snippet_reproduces_the_original_for_exact_methods():
    at = open_page(query={"k": "4", "p": "1", "op": "0", "cin": "6", "cout": "4", "n": "7"})
    layer, cfg = shown_layer(at)
    exact = next(r for r in list_replacements(layer, cfg.input_arg()) if r.exact)
    at.selectbox(key="rep").select(exact.name).run()
    weight_code = at.main.code[2].value
    assert weight_code == exact.weight_code.strip()
    torch.manual_seed(0)
    original = torch.nn.ConvTranspose2d(**layer.kwargs()).double()
    namespace = run_snippet("import torch\noriginal = None\n")
    namespace["original"] = original
    exec(compile(weight_code, "<weights>", "exec"), namespace)
    module = namespace["layer"].double()
    x = torch.randn(2, layer.in_channels, *cfg.input_size, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(module(x), original(x), rtol=1e-9, atol=1e-9)


def test_changing_widgets_updates_sizes_table_and_url():
    at = open_page()
    at.number_input(key="layer_kernel_size").set_value(4)
    at.number_input(key="layer_output_padding").set_value(0)
    at.number_input(key="layer_input_size").set_value(9)
    at.run()
    assert_clean(at)
    layer, cfg = shown_layer(at)
    assert cfg.kernel_size == (4, 4) and cfg.input_size == (9, 9)
    assert at.query_params["k"] == "4" and at.query_params["n"] == "9"
    out = output_size(layer, 9)
    assert out == torch_output(layer, (9, 9))
    assert {m.label: m.value for m in at.metric}["Output (H × W)"] == f"{out[0]} × {out[1]} px"
    assert list(replacement_table(at)["replacement"]) == [
        r.name for r in list_replacements(layer, 9)
    ]


def test_per_axis_configuration():
    at = open_page()
    at.toggle(key="layer_per_axis").set_value(True).run()
    at.number_input(key="layer_kernel_size_h").set_value(5)
    at.number_input(key="layer_stride_w").set_value(3)
    at.number_input(key="layer_input_size_w").set_value(11)
    at.run()
    assert_clean(at)
    layer, cfg = shown_layer(at)
    assert cfg.per_axis and layer.kernel_size == (5, 3) and layer.stride == (2, 3)
    assert at.query_params["k"] == "5,3" and at.query_params["n"] == "16,11"
    out = output_size(layer, cfg.input_size)
    assert out == torch_output(layer, cfg.input_size)
    steps = steps_table(at)
    assert list(steps["out"]) == list(out)
    module = run_snippet(at.main.code[1].value)["layer"]
    assert forward_shape(module, layer.in_channels, cfg.input_size) == out


@pytest.mark.parametrize(
    ("widget", "value", "parameter"),
    [
        ("layer_output_padding", 2, "output_padding"),  # op must be < stride 2
        ("layer_padding", 20, "padding"),  # crops the 32-pixel output away
        ("layer_groups", 3, "groups"),  # 64 and 32 channels are not divisible by 3
    ],
)
def test_invalid_values_give_an_error_naming_the_parameter(widget, value, parameter):
    at = open_page()
    at.number_input(key=widget).set_value(value).run()
    assert_clean(at)
    messages = errors(at)
    assert len(messages) == 1 and messages[0].startswith(f"**{parameter}**")
    assert titles(at) == ["Layer designer"]  # the page is still there
    assert not at.main.table  # nothing computed from an invalid layer
    at.number_input(key=widget).set_value(
        LayerConfig().__getattribute__(widget.removeprefix("layer_"))[0]
        if widget != "layer_groups"
        else 1
    ).run()
    assert not errors(at) and len(at.main.table) == 2


def test_url_round_trip_reproduces_the_view():
    at = open_page()
    at.number_input(key="layer_stride").set_value(3)
    at.number_input(key="layer_kernel_size").set_value(5)
    at.number_input(key="layer_in_channels").set_value(12)
    at.checkbox(key="layer_bias").uncheck()
    at.run()
    second = list_replacements(*[shown_layer(at)[0]], shown_layer(at)[1].input_arg())[2]
    at.selectbox(key="rep").select(second.name).run()
    link = dict(at.query_params)
    again = open_page(query=link)
    assert_clean(again)
    assert dict(again.query_params) == link
    assert again.selectbox(key="rep").value == second.name
    assert again.main.code[1].value == at.main.code[1].value
    assert replacement_table(again).equals(replacement_table(at))
    assert not again.checkbox(key="layer_bias").value


def test_preset_and_reset():
    at = open_page()
    at.selectbox(key="ds_preset").select("unet").run()
    at.button(key="ds_load_preset").click().run()
    assert_clean(at)
    layer, cfg = shown_layer(at)
    unet = preset("unet")
    assert layer == unet.layer and cfg.input_size == (unet.input_size,) * 2
    assert at.number_input(key="layer_kernel_size").value == unet.layer.kernel_size[0]
    at.sidebar.button[0].click().run()  # "Reset everything"
    assert_clean(at)
    assert LayerConfig.from_query(at.query_params)[0] == LayerConfig()
    assert at.number_input(key="layer_kernel_size").value == LayerConfig().kernel_size[0]


def _ranked_first(at) -> str:
    layer, cfg = shown_layer(at)
    return list_replacements(layer, cfg.input_arg())[0].name


def test_the_code_is_the_ranked_first_replacement_after_sidebar_changes():
    """DCGAN's k4 s2 p1 reached from the default k3 p1 op1: the first pick (2x2 at -0.5 px)
    must not stay once the layer changes (it used to, while the table ranked 3x3 first)."""
    at = open_page()
    assert at.selectbox(key="rep").value == _ranked_first(at)
    at.number_input(key="layer_kernel_size").set_value(4)
    at.number_input(key="layer_output_padding").set_value(0)
    at.run()
    assert_clean(at)
    first = _ranked_first(at)
    assert first == "nearest x2 + Conv2d 3x3"
    assert at.selectbox(key="rep").value == first
    assert "kernel_size=3, padding=1" in at.main.code[1].value


@pytest.mark.parametrize("key", [p.key for p in PRESETS])
def test_the_code_is_the_ranked_first_replacement_after_each_preset(key):
    at = open_page()
    other = list_replacements(*[shown_layer(at)[0]], shown_layer(at)[1].input_arg())[3]
    at.selectbox(key="rep").select(other.name).run()  # a pick for the default layer
    at.selectbox(key="ds_preset").select(key).run()
    at.button(key="ds_load_preset").click().run()
    assert_clean(at)
    if preset(key).layer == LayerConfig().layer():  # the same layer: the pick was made for it
        assert at.selectbox(key="rep").value == other.name
    else:
        assert at.selectbox(key="rep").value == _ranked_first(at)


def test_an_explicit_pick_is_kept_for_its_layer_and_a_link_keeps_the_senders_pick():
    at = open_page()
    layer, cfg = shown_layer(at)
    third = list_replacements(layer, cfg.input_arg())[2].name
    at.selectbox(key="rep").select(third).run()
    at.number_input(key="layer_input_size").set_value(20).run()  # same layer, other input
    assert at.selectbox(key="rep").value == third
    link = dict(at.query_params)
    again = open_page(query=link)
    assert again.selectbox(key="rep").value == third
    again.number_input(key="layer_stride").set_value(3).run()  # another layer: ranked first
    assert again.selectbox(key="rep").value == _ranked_first(again)


def test_a_link_to_a_layer_without_a_pick_shows_its_ranked_first():
    query = {"cin": "64", "cout": "32", "k": "4", "s": "2", "p": "1", "op": "0", "n": "16"}
    at = open_page(query=query)
    assert_clean(at)
    assert at.selectbox(key="rep").value == _ranked_first(at) == "nearest x2 + Conv2d 3x3"


# ----------------------------------------------------------------------------- wanted output


def layer_of_link(at) -> TransposedConv:
    cfg, notices = LayerConfig.from_query(at.query_params)
    assert not notices
    return cfg.layer()


def test_an_off_by_one_is_said_with_its_fixes_and_each_fix_gives_stride_times_input_in_torch():
    query = {"k": "3", "s": "2", "p": "1", "op": "0", "n": "16"}
    at = open_page(query=query)
    assert_clean(at)
    layer, _ = shown_layer(at)
    found = near_multiple(layer, 16, max_kernel=16, max_stride=8, max_padding=32)
    shown = " ".join(m.value for m in at.main.markdown)
    assert "gives 31 from 16, one short of 2 × 16 = 32" in shown.replace("\\", "")
    assert [at.button(key=f"ds_fix_{i}").label.lower() for i in range(len(found.fixes))] == [
        fix.instruction.lower() for fix in found.fixes
    ]
    assert found.fixes[0].instruction == "add output_padding=1"
    for i in range(len(found.fixes)):
        again = open_page(query=query)
        again.button(key=f"ds_fix_{i}").click().run()
        assert_clean(again)
        fixed = layer_of_link(again)
        assert torch_output(fixed, (16, 16)) == (32, 32)
        assert {m.label: m.value for m in again.metric}["Output (H × W)"] == "32 × 32 px"
        assert not any("one short" in m.value for m in again.main.markdown)


def test_a_wanted_output_lists_cores_changes_and_each_one_loads_a_layer_torch_agrees_with():
    at = open_page(query={"k": "3", "s": "2", "p": "1", "op": "0", "n": "16"})
    at.text_input(key="ds_want").set_value("33").run()
    assert_clean(at)
    layer, _ = shown_layer(at)
    found = changes_for(layer, (16, 16), (33, 33), max_kernel=16, max_stride=8, max_padding=32)
    assert len(found) > 6  # some are in the "more" expander
    labels = [at.button(key=f"ds_change_{i}").label for i in range(len(found))]
    assert [label.lower() for label in labels] == [c.instruction.lower() for c in found]
    link = dict(at.query_params)
    assert link["ds_want"] == "33"
    for i, change in enumerate(found):
        assert torch_output(change.layer, (16, 16)) == (33, 33)
        if i < 3:  # three clicks through the page (each a full run)
            again = open_page(query=link)
            again.button(key=f"ds_change_{i}").click().run()
            assert_clean(again)
            loaded = layer_of_link(again)
            assert loaded == change.layer
            assert torch_output(loaded, (16, 16)) == (33, 33)
            assert any("already" in s.value for s in again.success)


def test_a_wanted_output_per_axis_and_a_bad_one():
    at = open_page()
    at.text_input(key="ds_want").set_value("32, 40").run()
    assert_clean(at)
    layer, _ = shown_layer(at)
    first = changes_for(layer, (16, 16), (32, 40), max_kernel=16, max_stride=8, max_padding=32)[0]
    at.button(key="ds_change_0").click().run()
    loaded = layer_of_link(at)
    assert loaded == first.layer and torch_output(loaded, (16, 16)) == (32, 40)
    for bad in ("32 px", "0", "1, 2, 3", "+32"):
        at.text_input(key="ds_want").set_value(bad).run()
        assert_clean(at)
        (message,) = errors(at)
        assert message.startswith("**wanted**")
        assert "invalid literal" not in message


def test_a_value_above_a_limit_is_refused_with_the_limit_named_never_used_in_silence():
    at = open_page()
    at.number_input(key="layer_input_size").set_value(100_000).run()
    assert_clean(at)
    assert at.number_input(key="layer_input_size").value == 100_000  # kept as typed
    (message,) = errors(at)
    plain = message.replace("\\", "")
    assert plain.startswith("**input_size** — input_size 100,000 is above the limit")
    assert f"{caps.MAX_INPUT} px is the default limit" in plain
    assert "DECONV_LAB_LIMITS=local streamlit run app.py" in plain
    assert not at.metric and not at.main.table  # nothing computed from another size
    at.number_input(key="layer_input_size").set_value(0).run()
    (message,) = errors(at)
    assert "input_size must be at least 1" in message.replace("\\", "")
