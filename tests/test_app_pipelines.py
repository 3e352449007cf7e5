"""AppTest: both pipelines drawn on the designer and the overlap page, with a traced cell; the
drawn numbers are core's, which tests/test_pipelines.py checks against torch."""

from __future__ import annotations

import numpy as np
from app_support import assert_clean, open_page, plotly_array, plotly_figures

from core.geometry.layer import TransposedConv
from core.overlap.counts import overlap_map
from core.replacements.pipelines import CONV_TRANSPOSE, pipeline, trace_output
from ui.state import LayerConfig


def animated(at) -> list[dict]:
    """The pipeline figures (animated, their first stage the input)."""
    return [
        fig
        for fig in plotly_figures(at)
        if fig.get("frames") and fig["data"][0].get("name") == "input"
    ]


def output_of(fig: dict) -> np.ndarray:
    (heatmap,) = [t for t in fig["data"] if t.get("name") == "output"]
    return plotly_array(heatmap["z"]).astype(float)


def test_the_designer_draws_both_pipelines_when_asked_and_traces_a_cell():
    at = open_page()
    assert not animated(at)  # opt-in: the designer stays light by default
    at.toggle(key="ds_pipe_show").set_value(True).run()
    assert_clean(at)
    cfg = LayerConfig()
    layer = cfg.layer()
    chosen = at.selectbox(key="rep").value
    original, replacement = animated(at)
    expected = pipeline(layer, cfg.input_size, CONV_TRANSPOSE)
    np.testing.assert_array_equal(output_of(original), expected.output)
    counts = overlap_map(layer, cfg.input_size)
    rows, cols = expected.output.shape
    np.testing.assert_array_equal(expected.output, counts[:rows, :cols])  # ones: the counts
    assert len(original["frames"]) == len(expected.steps) + 1
    assert chosen.split(" x")[0] in replacement["layout"]["title"]["text"]
    captions = [m.value for m in at.markdown if m.value.startswith("Traced:")]
    assert captions[0] == f"Traced: `{trace_output(layer, cfg.input_size, (1, 1)).equation()}`"
    at.number_input(key="ds_pipe_row").set_value(2)
    at.number_input(key="ds_pipe_col").set_value(3)
    at.run()
    captions = [m.value for m in at.markdown if m.value.startswith("Traced:")]
    assert captions[0] == f"Traced: `{trace_output(layer, cfg.input_size, (2, 3)).equation()}`"


def test_the_overlap_page_draws_the_chosen_replacement_beside_the_gather_view():
    at = open_page("overlap", {"ov_pipe": "subpixel"})
    at.toggle(key="ov_pipe_view_show").set_value(True).run()
    assert_clean(at)
    original, replacement = animated(at)
    cfg = LayerConfig()
    expected = pipeline(cfg.layer(), cfg.input_size, "subpixel")
    np.testing.assert_array_equal(output_of(replacement), expected.output)
    np.testing.assert_array_equal(output_of(original), expected.output)  # exact: the same
    assert "sub-pixel" in replacement["layout"]["title"]["text"]


def test_stride_one_has_no_resize_pipeline_and_says_so():
    at = open_page("overlap", {"s": "1", "op": "0", "ov_pipe": "resize-nearest"})
    assert_clean(at)
    assert any("nothing to upsample" in i.value for i in at.info)


def test_a_hole_is_traced_in_words_on_the_designer():
    query = {"k": "4,1", "s": "3,2", "p": "0", "op": "0,1", "n": "5"}
    at = open_page("designer", query)
    at.toggle(key="ds_pipe_show").set_value(True).run()
    at.number_input(key="ds_pipe_row").set_value(1)
    at.number_input(key="ds_pipe_col").set_value(1)
    at.run()
    assert_clean(at)
    layer = TransposedConv.make(1, 1, (4, 1), stride=(3, 2), padding=0, output_padding=(0, 1))
    expected = trace_output(layer, 5, (1, 1)).equation()
    captions = [m.value for m in at.markdown if m.value.startswith("Traced:")]
    assert captions[0] == f"Traced: `{expected}`"
    assert "no input pixel reaches this cell" in expected and "= 0 = 0" not in captions[0]
