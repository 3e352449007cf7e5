"""Figures build, hold the counts they claim to show, and stay bounded in size."""

from __future__ import annotations

import ast
import json

import numpy as np
import pytest
from app_support import plotly_array
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tests_paths import ROOT

from core.errors import ConfigError
from core.geometry.layer import Axis, TransposedConv
from core.geometry.output_size import axis_output, output_size
from core.overlap.counts import overlap_map, overlap_profile, overlap_stats, stack_overlap
from core.overlap.replacement_maps import replacement_overlaps
from core.replacements.pipelines import (
    CONV_TRANSPOSE,
    MAX_SHOWN,
    pipeline,
    resize_pipeline,
    trace_output,
)
from core.replacements.plan import resize_geometry
from core.replacements.registry import METHODS
from ui.figures import style
from ui.figures.generator import (
    colour_scale_figure,
    flat_figure,
    log_ticks,
    loss_figure,
    spectrum_figure,
)
from ui.figures.overlap import (
    ANNOTATE_MAX,
    MAX_ANIMATION_INPUT,
    MAX_HEATMAP_SIDE,
    comparison_panels,
    comparison_scale,
    overlap_bar,
    overlap_heatmap,
    scatter_animation,
)
from ui.figures.pipelines import offset_label, output_cell, pipeline_figure


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


def test_comparison_panels_are_one_figure_per_map_on_one_scale():
    layer = TransposedConv.make(1, 1, 3, 2, 1)
    maps = replacement_overlaps(layer, 6)
    chosen = {name: maps[name] for name in ("conv-transpose", "subpixel", "resize-nearest")}
    panels, note = comparison_panels(chosen)
    assert note == "" and len(panels) == 3
    # One figure per map, titled with its name: the page puts them in columns that stack on a
    # phone, where subplots of one figure would run their titles and axes into each other.
    assert [fig.layout.title.text for fig in panels] == list(chosen)
    for fig, counts in zip(panels, chosen.values(), strict=True):
        (trace,) = fig.data
        assert np.array_equal(np.asarray(trace.text, dtype=np.int64), counts)
        assert np.allclose(z_of(trace), counts / counts.max())
        assert trace.texttemplate == "%{text}"
        assert (trace.zmin, trace.zmax, trace.showscale) == (0, 1.0, False)  # one shared scale
        assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
        json.loads(fig.to_json())
    bar = comparison_scale(chosen).data[0]
    assert (bar.zmin, bar.zmax, bar.colorbar.orientation) == (0.0, 1.0, "h")
    raw, _ = comparison_panels(chosen, relative=False)
    top = max(int(m.max()) for m in chosen.values())
    assert np.array_equal(z_of(raw[0].data[0]), chosen["conv-transpose"])
    assert {fig.data[0].zmax for fig in raw} == {top}
    assert comparison_scale(chosen, relative=False).data[0].colorbar.tickformat == "d"
    # Large maps: the window said once, for the page to put in its heading.
    big, note = comparison_panels({"a": np.ones((300, 300)), "b": np.ones((300, 300))})
    assert [fig.layout.title.text for fig in big] == ["a", "b"]
    assert note == " (top-left 256 × 256 of 300 × 300; the pattern repeats)"


def test_figures_refuse_bad_input():
    calls = [
        lambda: overlap_heatmap(np.ones(5)),
        lambda: overlap_heatmap(np.ones((0, 3))),
        lambda: overlap_heatmap([["a", "b"]]),
        lambda: overlap_heatmap(np.ones((3, 3)), max_side=0),
        lambda: overlap_bar(np.ones((3, 3))),
        lambda: overlap_bar(np.ones(5000)),
        lambda: comparison_panels({}),
        lambda: comparison_panels({str(i): np.ones((2, 2)) for i in range(7)}),
        lambda: comparison_panels({"1d": np.ones(4)}),
        lambda: comparison_scale({}),
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
        *comparison_panels({"a": counts})[0],
        comparison_scale({"a": counts}),
        scatter_animation(layer, 2),
        flat_figure(np.zeros((2, 2)), [0, 1], [0, 1]),
        spectrum_figure(spectrum, frequencies, frequencies, []),
        colour_scale_figure((0, 1)),
        loss_figure({"a": [1.0, 0.5]}, {}),
    ]
    for fig in figures:
        assert fig.layout.paper_bgcolor == fig.layout.plot_bgcolor == style.TRANSPARENT
        assert fig.layout.title.x == 0.0 and fig.layout.title.xanchor == "left"
        assert fig.layout.font.color is None  # the host theme decides the text colour
    assert overlap_heatmap(counts, height=560).layout.height == 560
    assert comparison_panels({"a": counts}, height=300)[0][0].layout.height == 300


def test_titles_wrap_to_a_phones_width_and_keep_sizes_whole():
    title = "Contributions per output pixel · 16 × 16 px input, with a much longer tail"
    wrapped = style.wrap_title(title)
    lines = wrapped.split("<br>")
    assert len(lines) > 1 and all(len(line) <= style.TITLE_WRAP for line in lines)
    assert " ".join(lines) == title and "16 × 16" in wrapped
    fig = overlap_heatmap(np.ones((4, 4)), title=title, height=500)
    assert fig.layout.title.text == wrapped
    extra = len(lines) - 1  # each extra line adds its height to the top margin and the figure
    assert fig.layout.margin.t == 100 + style.TITLE_LINE * extra
    assert fig.layout.height == 500 + style.TITLE_LINE * extra
    assert style.wrap_title("short") == "short"


def test_no_toolbar_over_titles_and_colour_bars_lie_flat():
    """Plotly's mode bar floats over the top right corner, over a title on a phone: it is off.
    Colour bars are horizontal, above or below the plot, not beside it."""
    assert style.PLOTLY_CONFIG["displayModeBar"] is False
    bar = overlap_heatmap(np.ones((4, 4), dtype=np.int64)).data[0].colorbar
    assert bar.orientation == "h" and bar.tickformat == "d"
    assert colour_scale_figure((0, 1)).data[0].colorbar.orientation == "h"


@pytest.mark.parametrize(
    ("values", "ticks"),
    [
        ([2.0, 0.5, 0.012, 0.003], [0.001, 0.01, 0.1, 1, 10]),  # decades: 0.01, 0.1, 1
        ([0.06, 0.021], [0.02, 0.05, 0.1]),  # under two decades: the 2s and 5s too
        ([0.3, 0.25], [0.2, 0.5]),  # a short span is still labelled at both ends
    ],
)
def test_log_axis_ticks_read_as_plain_numbers(values, ticks):
    got, labels = log_ticks(values)
    assert got == pytest.approx(ticks)
    assert labels == [f"{t:g}" for t in ticks]
    assert all(float(label) == pytest.approx(t) for label, t in zip(labels, ticks, strict=True))
    fig = loss_figure({"a": values}, {})
    assert fig.layout.yaxis.type == "log"
    assert list(fig.layout.yaxis.ticktext) == labels  # never plotly's "2, 5" minor labels
    low, high = fig.layout.yaxis.range
    assert 10**low <= min(values) and max(values) <= 10**high
    assert log_ticks([]) == ([], []) and log_ticks([0.0, -1.0]) == ([], [])


def test_flat_figure_prints_its_values_on_a_shared_range():
    values = np.array([[-1.0, 0.5], [0.25, -0.75]])
    fig = flat_figure(values, [3, 4], [5, 6], zrange=(-1, 1))
    (trace,) = fig.data
    assert np.array_equal(z_of(trace), values)
    assert list(trace.x) == [5, 6] and list(trace.y) == [3, 4]  # the layer's output coordinates
    assert (trace.zmin, trace.zmax) == (-1, 1) and trace.texttemplate == "%{z:.2f}"
    assert fig.layout.yaxis.autorange == "reversed" and fig.layout.yaxis.scaleanchor == "x"
    large = flat_figure(np.zeros((16, 16)), range(16), range(16))
    assert large.data[0].texttemplate is None


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


# ------------------------------------------------------------------------ pipeline figures


def _pipeline_notes(fig: dict) -> list[dict]:
    return [note for note in fig["layout"]["annotations"] if note.get("text")]


def _named(fig: dict, name: str) -> dict:
    (found,) = [trace for trace in fig["data"] if trace.get("name") == name]
    return found


def test_the_pipeline_figure_labels_both_axes_with_their_sizes():
    layer = TransposedConv.make(1, 1, (5, 3), stride=(3, 2), padding=(0, 1), output_padding=(2, 1))
    size = (3, 4)
    fig = pipeline_figure(pipeline(layer, size, CONV_TRANSPOSE))
    notes = _pipeline_notes(fig)
    h_labels = {note["text"] for note in notes if note.get("textangle") == -90}
    w_labels = {note["text"] for note in notes if "textangle" not in note}
    expected = {}
    for name, axis, n in zip("HW", layer.axes, size, strict=True):
        pad = axis.dilation * (axis.kernel_size - 1) - axis.padding  # d(k - 1) - p
        zeros = axis.stride - 1
        expected[name] = {
            f"input {n}",
            f"pad {pad}",
            f"input {n} + {n - 1}×{zeros} zeros",  # s - 1 zeros in each of the n - 1 gaps
            f"pad {pad} + op {axis.output_padding}",
        }
    assert expected["H"] <= h_labels  # pad 4, input 3 + 2×2 zeros, pad 4 + op 2
    assert expected["W"] <= w_labels
    out = output_size(layer, size)
    assert f"output 0..{MAX_SHOWN - 1} of {out[0]}" in h_labels and f"output {out[1]}" in w_labels


def test_the_offset_label_states_the_replacements_alignment_offset():
    layer = TransposedConv.make(1, 1, 4, stride=2, padding=1)
    misaligned = resize_pipeline(layer, 3, "nearest", kernel_size=(2, 2))
    expected = tuple(g.offset for g in resize_geometry(layer, "nearest", (2, 2)))
    assert misaligned.offset == expected and all(expected)  # nearest x2 + 2x2: half a pixel off
    texts = [note["text"] for note in _pipeline_notes(pipeline_figure(misaligned))]
    label = f"offset vs ConvTranspose2d: {expected[0]:+g}, {expected[1]:+g} px (H, W)"
    assert label in texts and offset_label(misaligned) == label
    aligned = pipeline(layer, 3, "subpixel")
    assert aligned.offset == (0, 0)
    texts = [note["text"] for note in _pipeline_notes(pipeline_figure(aligned))]
    assert "offset vs ConvTranspose2d: +0, +0 px (H, W) (aligned)" in texts
    gather = pipeline_figure(pipeline(layer, 3, CONV_TRANSPOSE))
    assert not any("offset vs" in note["text"] for note in _pipeline_notes(gather))


@pytest.mark.parametrize("method", [CONV_TRANSPOSE, "subpixel", "resize-bilinear"])
def test_a_click_on_an_output_cell_traces_that_cell(method):
    layer = TransposedConv.make(1, 1, (3, 4), stride=(2, 3), padding=(1, 0), output_padding=(1, 2))
    view = pipeline(layer, (3, 2), method)
    output = _named(pipeline_figure(view), "output")
    xs, ys = output["x"], output["y"]
    rows, cols = view.output.shape
    assert (len(ys), len(xs)) == (rows, cols)
    for i in range(rows):
        for j in range(cols):
            for dx, dy in ((0, 0), (0.4, -0.4), (-0.4, 0.4)):  # anywhere inside the cell
                assert output_cell(view, xs[j] + dx, ys[i] + dy) == (i, j)
    first = _named(pipeline_figure(view), "input")
    assert output_cell(view, first["x"][0], first["y"][0]) is None  # the input: no output cell
    assert output_cell(view, xs[-1] + 1, ys[0]) is None and output_cell(view, None, 1) is None


def test_a_large_grid_animates_only_its_window_and_says_so():
    layer = TransposedConv.make(1, 1, 4, stride=2, padding=1)
    view = pipeline(layer, 200, CONV_TRANSPOSE)
    fig = pipeline_figure(view)
    assert len(fig["frames"]) == MAX_SHOWN**2 + 1 == len(view.steps) + 1  # step 0 is empty
    assert [frame["name"] for frame in fig["frames"]] == [
        str(f) for f in range(len(view.steps) + 1)
    ]
    assert len(fig["layout"]["sliders"][0]["steps"]) == len(fig["frames"])
    assert plotly_array(_named(fig, "output")["z"]).shape == (MAX_SHOWN, MAX_SHOWN)
    out = output_size(layer, (200, 200))
    window = [note["text"] for note in _pipeline_notes(fig) if note["text"].startswith("output ")]
    assert sorted(window) == [f"output 0..{MAX_SHOWN - 1} of {out[0]}"] * 2  # H and W
    assert f"of {out[0]} x {out[1]}" in view.window_note


@st.composite
def traced_layers(draw):
    """An asymmetric one-channel layer (stride 2..3, dilation, output padding), its input size and
    a cell of its drawn window."""
    pair = lambda low, high: draw(st.tuples(st.integers(low, high), st.integers(low, high)))  # noqa: E731
    stride, dilation = pair(2, 3), pair(1, 2)
    op = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation, strict=True))
    layer = TransposedConv.make(1, 1, pair(1, 4), stride, pair(0, 3), op, 1, False, dilation)
    size = pair(1, 4)
    try:
        out = output_size(layer, size)
    except ConfigError:
        assume(False)
    cell = tuple(draw(st.integers(0, min(o, MAX_SHOWN) - 1)) for o in out)
    return layer, size, cell


@pytest.mark.parametrize("method", (CONV_TRANSPOSE, *METHODS))
@settings(max_examples=25, deadline=None)
@given(case=traced_layers(), seed=st.integers(0, 2**16))
def test_the_traced_taps_are_drawn_where_the_kernel_sits_for_the_traced_cell(method, case, seed):
    layer, size, cell = case
    rng = np.random.default_rng(seed)
    image = rng.uniform(0.5, 1.5, size)
    shape = layer.kernel_size
    if method.startswith("resize-"):  # the kernel is the Conv2d's after the upsampling
        shape = tuple(g.kernel_size for g in resize_geometry(layer, method.removeprefix("resize-")))
    kernel = rng.uniform(0.5, 1.5, shape)
    view = pipeline(layer, size, method, image, kernel)
    trace = trace_output(layer, size, cell, method, image, kernel)
    own = kernel if method == CONV_TRANSPOSE else view.kernel  # the kernel the taps index
    fig = pipeline_figure(view, trace)
    taps = _named(fig, "taps")
    canvas = view.stages[view.canvas]
    drawn = _named(fig, canvas.name)
    carried = {term.tap for term in trace.terms if term.weight != 0}
    if method != "subpixel":
        assert carried == trace.taps  # torch's gradient's taps (tests/test_pipelines.py)
    labels = [tuple(int(v) for v in text.split(",")) for text in taps["text"]]
    assert sorted(labels) == sorted(carried)  # each carrying tap once, labelled by its index
    total = 0.0
    for tap, x, y in zip(labels, taps["x"], taps["y"], strict=True):
        r, c = list(drawn["y"]).index(y), list(drawn["x"]).index(x)  # the canvas cell under it
        assert canvas.roles[r, c] in ("input", "copy", "mix")  # a tap on a non-zero input
        held = {term.input for term in trace.terms if term.tap == tap and term.weight != 0}
        if canvas.roles[r, c] == "input":
            assert {tuple(canvas.sources[r, c])} == held  # the very pixel the trace names
        if method != "subpixel":
            total += canvas.values[r, c] * own[tap]
    if method != "subpixel":  # the marked cells times their taps sum to the traced value
        assert total == pytest.approx(trace.value, rel=1e-9, abs=1e-12)
