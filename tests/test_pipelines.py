"""The pipelines as pictures, checked against torch: every frame of the gather view equals
conv_transpose2d on the cells filled so far, every replacement's final frame equals the replacement
module's output, and an output cell's traced inputs and taps are exactly those where torch's
gradient of that cell is non-zero."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from core.errors import ConfigError
from core.geometry.layer import TransposedConv
from core.geometry.output_size import output_size
from core.replacements.modules import SubPixelConvTranspose2d, ZeroInsertionConvTranspose2d
from core.replacements.pipelines import (
    CONV_TRANSPOSE,
    MAX_SHOWN,
    ROLES,
    gather_pipeline,
    pipeline,
    trace_output,
)
from core.replacements.plan import MAX_RESIZE_SCALE, resize_geometry
from core.replacements.registry import METHODS

EXACT = ("zero-insertion", "subpixel")
RESIZE = tuple(m for m in METHODS if m.startswith("resize-"))


@st.composite
def layers(draw, max_input: int = 7, min_stride: int = 1):
    """A one-channel 2D layer torch accepts (asymmetric k/s/p/op, dilation, stride 1 too) and an
    input size it accepts, output size at least 1."""

    def pair(low: int, high: int) -> tuple[int, int]:
        return draw(st.tuples(st.integers(low, high), st.integers(low, high)))

    stride, dilation = pair(min_stride, 3), pair(1, 2)
    op = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation, strict=True))
    layer = TransposedConv.make(1, 1, pair(1, 5), stride, pair(0, 3), op, 1, False, dilation)
    size = pair(1, max_input)
    try:
        output_size(layer, size)
    except ConfigError:
        assume(False)
    return layer, size


def torch_layer(layer: TransposedConv, kernel: np.ndarray) -> nn.ConvTranspose2d:
    module = nn.ConvTranspose2d(**layer.kwargs()).double()
    with torch.no_grad():
        module.weight.copy_(torch.tensor(kernel)[None, None])
    return module


def values(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.uniform(0.5, 1.5, shape)  # positive: no contribution cancels


@settings(max_examples=80, deadline=None)
@given(case=layers(), seed=st.integers(0, 2**16))
def test_every_frame_of_the_gather_view_is_torchs_output_on_the_cells_filled(case, seed):
    layer, size = case
    rng = np.random.default_rng(seed)
    image, kernel = values(rng, size), values(rng, layer.kernel_size)
    view = gather_pipeline(layer, size, image, kernel)
    x = torch.tensor(image)[None, None]
    expected = torch_layer(layer, kernel)(x)[0, 0].detach().numpy()
    rows, cols = view.output.shape
    assert (rows, cols) == (min(expected.shape[0], MAX_SHOWN), min(expected.shape[1], MAX_SHOWN))
    window = expected[:rows, :cols]
    for frame in range(len(view.steps) + 1):
        filled = view.filled(frame)
        written = ~np.isnan(filled)
        assert written.sum() == frame  # one output cell per step, in order
        np.testing.assert_allclose(filled[written], window[written], rtol=1e-12, atol=1e-12)
    # the canvas is the zero-inserted input with d(k - 1) - p padding (negative: cropped)
    canvas = view.stages[view.canvas]
    assert set(canvas.roles.flat) <= set(ROLES)
    inputs = canvas.roles == "input"
    assert np.allclose(canvas.values[canvas.roles == "zero"], 0)
    assert np.allclose(canvas.values[canvas.roles == "pad"], 0)
    for (r, c), source in zip(np.argwhere(inputs), canvas.sources[inputs], strict=True):
        assert canvas.values[r, c] == image[tuple(source)]


def test_the_default_gather_view_shows_the_overlap_counts():
    from core.overlap.counts import overlap_map

    layer = TransposedConv.make(8, 4, 3, stride=2, padding=1, output_padding=1)
    view = gather_pipeline(layer, 5)
    counts = overlap_map(layer, 5)
    np.testing.assert_array_equal(
        view.output, counts[: view.output.shape[0], : view.output.shape[1]]
    )
    assert view.stages[1].spans[0][0].label == "pad 1"  # d(k - 1) - p = 2 - 1
    assert view.stages[1].spans[0][-1].label == "pad 1 + op 1"  # output_padding at the end


def test_a_negative_padding_is_drawn_as_a_crop():
    layer = TransposedConv.make(1, 1, 2, stride=2, padding=3)  # d(k - 1) - p = -2
    view = gather_pipeline(layer, 6)
    canvas = view.stages[1]
    assert canvas.origin == (-2, -2)
    assert canvas.spans[0][0].label == "crop 2"
    assert (canvas.roles[:2, :] == "crop").all() and (canvas.roles[:, :2] == "crop").all()


def test_large_outputs_are_windowed_and_say_so():
    layer = TransposedConv.make(1, 1, 4, stride=2, padding=1)
    view = gather_pipeline(layer, 200)
    assert view.output.shape == (MAX_SHOWN, MAX_SHOWN) and len(view.steps) == MAX_SHOWN**2
    assert "of 400 x 400" in view.window_note
    assert gather_pipeline(layer, 3).window_note == "the whole 6 x 6 output, cell by cell"


def _replacement(layer: TransposedConv, method: str, kernel: np.ndarray) -> nn.Module:
    original = torch_layer(layer, kernel)
    if method == "subpixel":
        return SubPixelConvTranspose2d.from_conv_transpose(original)
    if method == "zero-insertion":
        return ZeroInsertionConvTranspose2d.from_conv_transpose(original)
    mode = method.removeprefix("resize-")
    geometry = resize_geometry(layer, mode)
    pads = (geometry[1].pad_before, geometry[1].pad_after)
    pads += (geometry[0].pad_before, geometry[0].pad_after)
    extra = {} if mode == "nearest" else {"align_corners": False}
    conv = nn.Conv2d(1, 1, (geometry[0].kernel_size, geometry[1].kernel_size), bias=False,
                     dilation=layer.dilation).double()  # fmt: skip
    return nn.Sequential(
        nn.Upsample(scale_factor=layer.stride, mode=mode, **extra), nn.ZeroPad2d(pads), conv
    )


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=40, deadline=None)
@given(case=layers(min_stride=2), seed=st.integers(0, 2**16))
def test_every_replacement_pipeline_ends_at_its_modules_output(method, case, seed):
    layer, size = case
    assume(max(layer.stride) <= MAX_RESIZE_SCALE)
    rng = np.random.default_rng(seed)
    image, kernel = values(rng, size), values(rng, layer.kernel_size)
    module = _replacement(layer, method, kernel)
    if method in RESIZE:
        conv = module[-1]
        with torch.no_grad():
            conv.weight.copy_(torch.tensor(values(rng, conv.weight.shape[2:]))[None, None])
        kernel = conv.weight[0, 0].detach().numpy()
    view = pipeline(layer, size, method, image, kernel)
    with torch.no_grad():
        expected = module(torch.tensor(image)[None, None])[0, 0].numpy()
    rows, cols = view.output.shape
    assert expected.shape == output_size(layer, size)  # the replacement keeps the size
    np.testing.assert_allclose(view.output, expected[:rows, :cols], rtol=1e-10, atol=1e-10)
    assert not np.isnan(view.filled(len(view.steps))).any()  # every cell written once the steps end


def _gradient_support(module: nn.Module, weight: torch.Tensor, image, cell):
    x = torch.tensor(image)[None, None].requires_grad_(True)
    y = module(x)[0, 0, cell[0], cell[1]]
    gx, gw = torch.autograd.grad(y, (x, weight))
    inputs = {tuple(int(v) for v in i) for i in torch.nonzero(gx[0, 0])}
    taps = {tuple(int(v) for v in i[-2:]) for i in torch.nonzero(gw)}
    return inputs, taps


@pytest.mark.parametrize("method", (CONV_TRANSPOSE, *METHODS))
@settings(max_examples=40, deadline=None)
@given(case=layers(min_stride=1), seed=st.integers(0, 2**16), data=st.data())
def test_a_traced_cell_has_exactly_the_inputs_and_taps_torchs_gradient_reaches(
    method, case, seed, data
):
    layer, size = case
    if method in RESIZE:
        assume(max(layer.stride) > 1)  # no resize-convolution for stride 1
    rng = np.random.default_rng(seed)
    image, kernel = values(rng, size), values(rng, layer.kernel_size)
    out = output_size(layer, size)
    cell = (data.draw(st.integers(0, out[0] - 1)), data.draw(st.integers(0, out[1] - 1)))
    if method == CONV_TRANSPOSE:
        module = torch_layer(layer, kernel)
        weight = module.weight
    else:
        module = _replacement(layer, method, kernel)
        conv = module.conv if hasattr(module, "conv") else module[-1]
        if method in RESIZE:
            with torch.no_grad():
                conv.weight.copy_(torch.tensor(values(rng, conv.weight.shape[2:]))[None, None])
        weight = conv.weight
    inputs, taps = _gradient_support(module, weight, image, cell)
    own_kernel = weight[0, 0].detach().numpy() if method in RESIZE else kernel
    trace = trace_output(layer, size, cell, method, image, own_kernel)
    assert trace.inputs == inputs
    assert trace.taps == taps  # for sub-pixel: (row, column) in the phase kernel of the cell
    with torch.no_grad():
        expected = module(torch.tensor(image)[None, None])[0, 0]
    assert trace.value == pytest.approx(float(expected[cell]), rel=1e-9)


def test_the_equation_writes_the_sum_out():
    layer = TransposedConv.make(1, 1, 3, stride=2, padding=1)
    trace = trace_output(layer, 4, (2, 2))
    assert trace.equation() == "out[2, 2] = x[1, 1]·w[1, 1] = 1"
    assert len(trace_output(layer, 4, (1, 1)).terms) == 4  # the checkerboard: 4 taps, not 1


def test_bad_cells_and_methods_are_refused():
    layer = TransposedConv.make(1, 1, 3, stride=2, padding=1)
    with pytest.raises(ConfigError, match="outside"):
        trace_output(layer, 4, (7, 0))
    with pytest.raises(ConfigError, match="method"):
        pipeline(layer, 4, "nope")


def test_the_canvas_counts_the_zeros_inserted_between_pixels():
    layer = TransposedConv.make(1, 1, (5, 3), stride=(3, 2), padding=(0, 1), output_padding=(2, 1))
    canvas = gather_pipeline(layer, (3, 4)).stages[1]
    for spans, axis, n in zip(canvas.spans, layer.axes, (3, 4), strict=True):
        (spread,) = [span for span in spans if span.label.startswith("input")]
        gaps, zeros = n - 1, axis.stride - 1  # s - 1 zeros in each gap between two pixels
        assert spread.label == f"input {n} + {gaps}×{zeros} zeros"
        assert spread.stop - spread.start == n + gaps * zeros  # the span it labels
    one = gather_pipeline(TransposedConv.make(1, 1, 3, stride=1), (2, 2)).stages[1]
    assert "input 2" in [span.label for span in one.spans[0]]  # stride 1: no zeros to count


def _unreached_cells(layer: TransposedConv, size) -> list[tuple[int, int]]:
    """Output cells torch's gradient says no input pixel reaches."""
    module = torch_layer(layer, np.ones(layer.kernel_size))
    x = torch.ones((1, 1, *size), dtype=torch.float64, requires_grad=True)
    y = module(x)[0, 0]
    cells = []
    for r in range(y.shape[0]):
        for c in range(y.shape[1]):
            (gx,) = torch.autograd.grad(y[r, c], x, retain_graph=True)
            if not gx.any():
                cells.append((r, c))
    return cells


def test_a_hole_is_traced_in_words_not_as_an_empty_sum():
    layer = TransposedConv.make(1, 1, (4, 1), stride=(3, 2), padding=0, output_padding=(0, 1))
    assert (1, 1) in _unreached_cells(layer, (5, 5))  # stride 2 > kernel 1 along W
    trace = trace_output(layer, 5, (1, 1))
    assert trace.equation() == (
        "out[1, 1] = 0: no input pixel reaches this cell, only the bias "
        "(a hole in the layer: stride 2 > kernel 1 on the W axis)"
    )
    for method in ("zero-insertion", "subpixel"):  # exact: the same hole, the same words
        assert trace_output(layer, 5, (1, 1), method).equation() == trace.equation()
    no_bias = TransposedConv.make(1, 1, (1, 4), stride=(2, 3), bias=False)
    assert "only the bias" not in trace_output(no_bias, 5, (1, 0)).equation()
    assert "on the H axis" in trace_output(no_bias, 5, (1, 0)).equation()
    reached = trace_output(layer, 5, (1, 0)).equation()
    assert reached.startswith("out[1, 0] = x[") and "no input" not in reached


def test_a_cell_past_the_last_inputs_reach_says_so():
    layer = TransposedConv.make(1, 1, 3, stride=2, output_padding=1)  # op 1 > p 0
    size = (2, 2)
    last = output_size(layer, size)[0] - 1
    assert (last, last) in _unreached_cells(layer, size)
    text = trace_output(layer, size, (last, last)).equation()
    assert text == (
        f"out[{last}, {last}] = 0: no input pixel reaches this cell, only the bias "
        "(past the last input pixel's reach: output_padding adds it on the H axis)"
    )


def test_every_unreached_cell_says_so_and_every_reached_one_writes_its_sum():
    layer = TransposedConv.make(1, 1, (2, 3), stride=(3, 4), padding=(0, 1), output_padding=(2, 1),
                                dilation=(2, 1))  # fmt: skip
    size = (3, 2)
    holes = set(_unreached_cells(layer, size))
    out = output_size(layer, size)
    assert holes  # stride 3 > 2 taps at dilation 2 (phases 0, 2 of 3), stride 4 > kernel 3
    for r in range(out[0]):
        for c in range(out[1]):
            text = trace_output(layer, size, (r, c)).equation()
            assert ("no input pixel reaches this cell" in text) == ((r, c) in holes), text
