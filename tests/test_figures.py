"""Figures build, hold the counts they claim to show, and stay bounded in size."""

from __future__ import annotations

import ast
import json

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tests_paths import ROOT

from core.errors import ConfigError
from core.geometry.layer import Axis, TransposedConv
from core.geometry.output_size import axis_output
from core.overlap.counts import overlap_map, overlap_profile, overlap_stats, stack_overlap
from core.overlap.replacement_maps import replacement_overlaps
from ui.figures import style
from ui.figures.generator import colour_scale_figure, loss_figure, spectrum_figure
from ui.figures.overlap import (
    ANNOTATE_MAX,
    MAX_ANIMATION_INPUT,
    MAX_HEATMAP_SIDE,
    comparison_figure,
    overlap_bar,
    overlap_heatmap,
    scatter_animation,
)


@st.composite
def small_layers(draw, max_k: int = 4, max_s: int = 3, max_d: int = 2):
    per_axis = []
    for _ in range(2):
        k, s, d = (
            draw(st.integers(1, max_k)),
            draw(st.integers(1, max_s)),
            draw(st.integers(1, max_d)),
        )
        op = draw(st.integers(0, max(s, d) - 1))
        p = draw(st.integers(0, d * (k - 1)))
        per_axis.append(Axis(k, s, p, op, d))
    layer = TransposedConv.make(
        1,
        1,
        tuple(a.kernel_size for a in per_axis),
        tuple(a.stride for a in per_axis),
        tuple(a.padding for a in per_axis),
        tuple(a.output_padding for a in per_axis),
        dilation=tuple(a.dilation for a in per_axis),
    )
    sizes = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    assume(all(axis_output(a, n) >= 1 for a, n in zip(per_axis, sizes, strict=True)))
    return layer, sizes


def z_of(trace) -> np.ndarray:
    return np.asarray(trace.z)


@settings(max_examples=150)
@given(layer_sizes=small_layers())
def test_heatmap_shows_the_counts_with_annotations_for_small_grids(layer_sizes):
    layer, sizes = layer_sizes
    counts = overlap_map(layer, sizes)
    stats = overlap_stats(layer, sizes)
    fig = overlap_heatmap(counts, interior=stats.interior)
    (trace,) = fig.data
    assert np.array_equal(z_of(trace), counts)
    assert trace.texttemplate == "%{z}"  # counts printed in the cells
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 on top, like an image
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    (top, bottom), (left, right) = stats.interior
    boxes = [(b.x0, b.x1, b.y0, b.y1) for b in fig.layout.shapes]  # a white line under a dashed one
    if top < bottom and left < right:
        assert set(boxes) == {(left - 0.5, right - 0.5, top - 0.5, bottom - 0.5)}
        assert [b.line.dash for b in fig.layout.shapes] == [None, "dash"]
    else:
        assert boxes == []
    if np.issubdtype(counts.dtype, np.integer):
        assert fig.data[0].colorbar.tickformat == "d"  # whole counts, no 0.5 ticks
    json.loads(fig.to_json())


def test_large_heatmaps_are_plain_and_windowed():
    layer = TransposedConv.make(1, 1, 4, 2, 1)
    medium = stack_overlap([layer] * 2, 10)  # 40 x 40
    fig = overlap_heatmap(medium)
    assert max(medium.shape) > ANNOTATE_MAX
    assert fig.data[0].texttemplate is None
    assert np.array_equal(z_of(fig.data[0]), medium)
    big = stack_overlap([layer] * 5, 32)  # 1024 x 1024
    fig = overlap_heatmap(big)
    shown = z_of(fig.data[0])
    assert shown.shape == (MAX_HEATMAP_SIDE, MAX_HEATMAP_SIDE)
    assert np.array_equal(shown, big[:MAX_HEATMAP_SIDE, :MAX_HEATMAP_SIDE])
    assert "1024 × 1024" in fig.layout.title.text
    assert fig.layout.paper_bgcolor == "rgba(0,0,0,0)"


def test_bar_profile_shows_the_profile_and_shades_the_borders():
    axis = Axis(3, 2, 1, 0, 1)
    profile = overlap_profile(axis, 8)
    stats = overlap_stats(TransposedConv.make(1, 1, 3, 2, 1, ndim=1), 8)
    fig = overlap_bar(profile, interior=stats.interior[0], axis_name="W")
    assert np.array_equal(np.asarray(fig.data[0].y), profile)
    start, stop = stats.interior[0]
    assert len(fig.layout.shapes) == (start > 0) + (stop < len(profile))
    assert "W" in fig.layout.xaxis.title.text


@settings(max_examples=30)
@given(layer_sizes=small_layers(max_k=3))
def test_scatter_animation_builds_up_to_the_overlap_map(layer_sizes):
    layer, sizes = layer_sizes
    fig = scatter_animation(layer, sizes)
    pixels = sizes[0] * sizes[1]
    assert len(fig.frames) == pixels + 1
    assert len(fig.layout.sliders[0].steps) == pixels + 1
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["Play", "Pause"]
    taps = layer.kernel_size[0] * layer.kernel_size[1]
    totals = [int(np.asarray(frame.data[1].z).sum()) for frame in fig.frames]
    assert totals == [t * taps for t in range(pixels + 1)]  # one kernel per input pixel
    rows, cols = np.asarray(fig.data[1].y), np.asarray(fig.data[1].x)
    out = overlap_map(layer, sizes)
    keep = np.ix_((rows >= 0) & (rows < out.shape[0]), (cols >= 0) & (cols < out.shape[1]))
    assert np.array_equal(np.asarray(fig.frames[-1].data[1].z)[keep], out)
    current = [np.argwhere(np.asarray(frame.data[0].z) == 2).tolist() for frame in fig.frames]
    assert current[0] == [] and current[1:] == [
        [[i, j]] for i in range(sizes[0]) for j in range(sizes[1])
    ]


def test_scatter_animation_1d_and_limits():
    fig = scatter_animation(Axis(3, 2, 1, 0, 1), 5)
    assert len(fig.frames) == 6
    assert np.asarray(fig.data[1].z).shape[0] == 1
    fig = scatter_animation(TransposedConv.make(1, 1, 3, 2, 1), MAX_ANIMATION_INPUT)
    assert len(fig.frames) == MAX_ANIMATION_INPUT**2 + 1
    bad = [
        lambda: scatter_animation(TransposedConv.make(1, 1, 3, 2, 1), MAX_ANIMATION_INPUT + 1),
        lambda: scatter_animation(TransposedConv.make(1, 1, 60, 2, 1), 8),  # canvas too big
        lambda: scatter_animation(TransposedConv.make(1, 1, 3, 2, ndim=3), 2),
        lambda: scatter_animation("k3 s2", 4),
        lambda: scatter_animation(TransposedConv.make(1, 1, 3, 1, 4), 2),  # empty output
    ]
    for call in bad:
        with pytest.raises(ConfigError):
            call()


def test_comparison_figure_puts_maps_side_by_side():
    layer = TransposedConv.make(1, 1, 3, 2, 1)
    maps = replacement_overlaps(layer, 6)
    chosen = {name: maps[name] for name in ("conv-transpose", "subpixel", "resize-nearest")}
    fig = comparison_figure(chosen)
    assert len(fig.data) == 3
    assert [a.text for a in fig.layout.annotations] == list(chosen)
    for trace, counts in zip(fig.data, chosen.values(), strict=True):
        assert np.array_equal(np.asarray(trace.text, dtype=np.int64), counts)
        assert np.allclose(z_of(trace), counts / counts.max())
        assert trace.texttemplate == "%{text}"
    raw = comparison_figure(chosen, relative=False)
    assert np.array_equal(z_of(raw.data[0]), chosen["conv-transpose"])
    json.loads(fig.to_json())
    # Large maps: short panel titles, the window said once in the figure's title, and row
    # labels on the first panel only (they would run into the panel on their left).
    big = comparison_figure({"a": np.ones((300, 300)), "b": np.ones((300, 300))}, title="T")
    assert [a.text for a in big.layout.annotations] == ["a", "b"]
    assert big.layout.title.text == "T (top-left 256 × 256 of 300 × 300; the pattern repeats)"
    assert [big.layout.yaxis.showticklabels, big.layout.yaxis2.showticklabels] == [True, False]


def test_figures_refuse_bad_input():
    calls = [
        lambda: overlap_heatmap(np.ones(5)),
        lambda: overlap_heatmap(np.ones((0, 3))),
        lambda: overlap_heatmap([["a", "b"]]),
        lambda: overlap_heatmap(np.ones((3, 3)), max_side=0),
        lambda: overlap_bar(np.ones((3, 3))),
        lambda: overlap_bar(np.ones(5000)),
        lambda: comparison_figure({}),
        lambda: comparison_figure({str(i): np.ones((2, 2)) for i in range(7)}),
        lambda: comparison_figure({"1d": np.ones(4)}),
        lambda: overlap_heatmap(np.ones((3, 3)), interior=[(0, 1)]),
        lambda: overlap_bar(np.ones(3), interior="middle"),
    ]
    for call in calls:
        with pytest.raises(ConfigError):
            call()


# ------------------------------------------------------------------------------ one style


def test_every_figure_has_the_one_style():
    """Every chart is finished by ui.figures.style.layout: transparent, no template colours."""
    layer = TransposedConv.make(1, 1, 3, 2, 1)
    counts = overlap_map(layer, 4)
    spectrum = np.zeros((8, 8))
    frequencies = np.linspace(-0.5, 0.5, 8)
    figures = [
        overlap_heatmap(counts),
        overlap_bar(counts[0]),
        comparison_figure({"a": counts}),
        scatter_animation(layer, 2),
        spectrum_figure(spectrum, frequencies, frequencies, []),
        colour_scale_figure((0, 1)),
        loss_figure({"a": [1.0, 0.5]}, {}),
    ]
    for fig in figures:
        assert fig.layout.paper_bgcolor == fig.layout.plot_bgcolor == style.TRANSPARENT
        assert fig.layout.title.x == 0.0 and fig.layout.title.xanchor == "left"
        assert fig.layout.font.color is None  # the host theme decides the text colour
    assert overlap_heatmap(counts, height=560).layout.height == 560
    assert comparison_figure({"a": counts}, height=300).layout.height == 300


def _plotly_chart_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "plotly_chart"
    ]


def test_pages_use_the_one_plotly_config_and_no_figure_module_has_its_own_layout():
    calls = 0
    for path in sorted((ROOT / "pages").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        found = _plotly_chart_calls(tree)
        calls += len(found)
        if found:
            assert "from ui.figures.style import PLOTLY_CONFIG" in source, path.name
            assert "PLOTLY_CONFIG =" not in source, path.name
        for call in found:
            config = [k.value for k in call.keywords if k.arg == "config"]
            assert config, f"{path.name}:{call.lineno} plotly_chart without config"
            names = {n.id for n in ast.walk(config[0]) if isinstance(n, ast.Name)}
            assert "PLOTLY_CONFIG" in names, f"{path.name}:{call.lineno}"
    assert calls >= 2
    for path in sorted((ROOT / "ui" / "figures").glob("*.py")):
        if path.name != "style.py":
            assert "def _layout" not in path.read_text(encoding="utf-8"), path.name
