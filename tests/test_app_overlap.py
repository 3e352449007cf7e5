"""AppTest: the overlap page draws core's maps (torch's all-ones counts), stacks, replacements."""

from __future__ import annotations

import json

import numpy as np
import torch
import torch.nn.functional as F
from app_support import assert_clean, errors, open_page, plotly_array, plotly_figures, titles

from core.geometry.layer import TransposedConv
from core.overlap.counts import overlap_profile, stack_overlap
from core.overlap.replacement_maps import replacement_overlap
from ui.state import LayerConfig


def layer_and_config(at) -> tuple[TransposedConv, LayerConfig]:
    cfg, _ = LayerConfig.from_query(at.query_params)
    return cfg.layer(), cfg


def torch_counts(layers: list[TransposedConv], size: tuple[int, int]) -> np.ndarray:
    """The oracle: all-ones input through all-ones kernels, one channel, in torch."""
    x = torch.ones(1, 1, *size, dtype=torch.float64)
    for layer in layers:
        kw = layer.kwargs()
        weight = torch.ones(1, 1, *layer.kernel_size, dtype=torch.float64)
        x = F.conv_transpose2d(
            x,
            weight,
            stride=kw["stride"],
            padding=kw["padding"],
            output_padding=kw["output_padding"],
            dilation=kw["dilation"],
        )
    return x[0, 0].round().long().numpy()


def heatmap_z(figure: dict) -> np.ndarray:
    return plotly_array(figure["data"][0]["z"])


def panels(at, key: str) -> list[dict]:
    """The figures of a row of panels (keys `key`_0, `key`_1, ...), in order; one figure each,
    in columns that stack on a phone."""
    found = {
        el.key: json.loads(el.proto.spec)
        for el in at.get("plotly_chart")
        if el.key and el.key.startswith(f"{key}_") and el.key.removeprefix(f"{key}_").isdigit()
    }
    return [found[f"{key}_{i}"] for i in range(len(found))]


def heading_shown(at, words: str) -> bool:
    return any(words in m.value for m in at.markdown)


def figure_titled(at, words: str) -> dict:
    for figure in plotly_figures(at):
        if words in figure["layout"]["title"]["text"]:
            return figure
    raise AssertionError(f"no figure titled with {words!r}")


def stack_layers(at, layer: TransposedConv) -> list[TransposedConv]:
    layers = [layer]
    for part in at.query_params["ov_stack"].split("_"):
        k, s, p, op, d = (int(v) for v in part.split("."))
        c = layer.out_channels
        layers.append(TransposedConv.make(c, c, k, s, p, op, dilation=d))
    return layers


def test_heatmap_profile_and_metrics_equal_torch_counts():
    at = open_page("overlap")
    assert_clean(at)
    assert titles(at) == ["Overlap"]
    layer, cfg = layer_and_config(at)
    expected = torch_counts([layer], cfg.input_size)
    assert np.array_equal(heatmap_z(figure_titled(at, "Contributions per output pixel")), expected)
    profile = plotly_array(figure_titled(at, "Overlap profile")["data"][0]["y"])
    assert np.array_equal(np.asarray(profile), overlap_profile(layer.axes[1], cfg.input_size[1]))
    assert np.array_equal(np.asarray(profile), expected[expected.shape[0] // 2])
    metrics = {m.label: m.value for m in at.metric}
    interior = expected[2:-2, 2:-2]  # away from the borders of this small kernel
    assert metrics["Interior counts"] == f"{interior.min()} … {interior.max()}"


def test_stack_builder_add_edit_remove():
    at = open_page("overlap")
    layer, cfg = layer_and_config(at)
    layers = stack_layers(at, layer)
    assert len(layers) == 3
    assert np.array_equal(
        heatmap_z(figure_titled(at, "3 stacked layers")), torch_counts(layers, cfg.input_size)
    )

    at.button(key="ov_add").click().run()
    at.number_input(key="ov_l2_k").set_value(4)
    at.number_input(key="ov_l2_op").set_value(0)
    at.run()
    assert_clean(at)
    layers = stack_layers(at, layer)
    assert len(layers) == 4 and layers[3].kernel_size == (4, 4)
    counts = stack_overlap(layers, cfg.input_arg())
    shown = heatmap_z(figure_titled(at, "4 stacked layers"))
    assert np.array_equal(shown, counts[: shown.shape[0], : shown.shape[1]])  # a window if big
    assert np.array_equal(counts, torch_counts(layers, cfg.input_size))

    at.button(key="ov_remove").click().run()
    at.button(key="ov_remove").click().run()
    assert_clean(at)
    assert len(stack_layers(at, layer)) == 2


def test_all_like_layer_one_follows_a_changed_sidebar():
    at = open_page("overlap")
    at.number_input(key="layer_kernel_size").set_value(4).run()
    at.number_input(key="layer_output_padding").set_value(0).run()
    layer, cfg = layer_and_config(at)
    assert [x.kernel_size for x in stack_layers(at, layer)] == [(4, 4), (3, 3), (3, 3)]
    at.button(key="ov_repeat").click().run()
    assert_clean(at)
    layers = stack_layers(at, layer)
    assert all(x.axes == layer.axes for x in layers)
    assert at.number_input(key="ov_l1_k").value == 4
    assert np.array_equal(
        heatmap_z(figure_titled(at, "3 stacked layers")), torch_counts(layers, cfg.input_size)
    )
    assert at.button(key="ov_repeat").disabled


def test_invalid_stack_layer_names_it_and_keeps_the_rest():
    at = open_page("overlap")
    at.number_input(key="ov_l0_op").set_value(3).run()  # op 3 >= stride 2
    assert_clean(at)
    messages = errors(at)
    assert len(messages) == 1 and messages[0].startswith("**output_padding**")
    assert "layer 2" in messages[0]
    figure_titled(at, "Contributions per output pixel")  # the single-layer map is still there
    assert heading_shown(at, "The original and its replacements") and panels(at, "ov_compare")


def test_replacements_side_by_side():
    at = open_page("overlap")
    layer, cfg = layer_and_config(at)
    at.multiselect(key="ov_methods").set_value(["zero-insertion", "resize-bilinear"]).run()
    assert_clean(at)
    assert at.query_params["ov_methods"] == "zero-insertion,resize-bilinear"
    assert heading_shown(at, "The original and its replacements")
    shown = panels(at, "ov_compare")
    assert [f["layout"]["title"]["text"] for f in shown] == [
        "ConvTranspose2d",
        "zero-insertion",
        "resize-bilinear",
    ]
    raw = [np.asarray(f["data"][0]["text"], dtype=np.int64) for f in shown]
    assert np.array_equal(raw[0], torch_counts([layer], cfg.input_size))
    assert np.array_equal(raw[1], raw[0])  # exact equivalent: same pattern
    assert np.array_equal(raw[2], replacement_overlap("resize-bilinear", layer, cfg.input_arg()))


def test_scatter_animation_has_one_frame_per_input_pixel():
    at = open_page("overlap", {"ov_anim_n": "3"})
    assert_clean(at)
    figure = figure_titled(at, "scatters")
    assert len(figure["frames"]) == 1 + 3 * 3
    at.slider(key="ov_anim_n").set_value(2).run()
    assert len(figure_titled(at, "scatters")["frames"]) == 1 + 2 * 2
    assert at.query_params["ov_anim_n"] == "2"


def test_invalid_layer_gives_error_and_no_exception():
    at = open_page("overlap", {"k": "3", "s": "2"})
    at.number_input(key="layer_output_padding").set_value(2).run()  # typed: a link is repaired
    assert_clean(at)
    messages = errors(at)
    assert len(messages) == 1 and messages[0].startswith("**output_padding**")
    assert not plotly_figures(at)


def test_url_round_trip():
    query = {
        "k": "4",
        "op": "0",
        "n": "6",
        "ov_stack": "3.3.1.0.1",
        "ov_methods": "subpixel",
        "ov_anim_n": "2",
    }
    at = open_page("overlap", query)
    assert_clean(at)
    for key, value in query.items():
        assert at.query_params[key] == value
    again = open_page("overlap", at.query_params)
    assert again.query_params == at.query_params
    assert plotly_figures(again) == plotly_figures(at)


def test_stage_maps_on_request():
    at = open_page("overlap")
    assert not panels(at, "ov_stages_chart") and not heading_shown(at, "After each layer")
    at.toggle(key="ov_stages").set_value(True).run()
    assert_clean(at)
    assert at.query_params["ov_stages"] == "1"
    layer, cfg = layer_and_config(at)
    layers = stack_layers(at, layer)
    assert heading_shown(at, "After each layer")
    shown = panels(at, "ov_stages_chart")
    assert len(shown) == len(layers)
    for i, figure in enumerate(shown):
        assert figure["layout"]["title"]["text"] == f"after layer {i + 1}"
        raw = np.asarray(figure["data"][0]["text"], dtype=np.int64)
        assert np.array_equal(raw, torch_counts(layers[: i + 1], cfg.input_size))


def test_an_input_too_small_for_an_interior_says_so():
    at = open_page("overlap", {"n": "1", "k": "3", "s": "2", "p": "1", "op": "1"})
    assert_clean(at)
    assert any("no interior" in i.value for i in at.info)
    at = open_page("overlap", {"n": "16"})
    assert not any("no interior" in i.value for i in at.info)


def test_an_input_the_layer_refuses_is_reported_once():
    at = open_page("overlap", {"n": "2", "k": "3", "s": "2", "op": "0"})
    at.number_input(key="layer_padding").set_value(5).run()  # typed: a link is repaired
    assert_clean(at)
    assert len(errors(at)) == 1 and "padding" in errors(at)[0]
    assert not plotly_figures(at)  # nothing drawn from a layer torch would refuse
