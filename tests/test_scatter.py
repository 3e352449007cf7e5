"""The scatter, frame by frame (`core.overlap.scatter`), against torch and the overlap counts:
frame t's canvas is torch's uncropped transposed convolution of the first t input pixels, and the
last frame's kept output is `overlap_map` (random layers: asymmetric k/s/p/op/d, inputs down to 1).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from core.geometry.layer import SPATIAL_NAMES, Axis, TransposedConv
from core.geometry.output_size import axis_output
from core.overlap.counts import overlap_map, overlap_profile
from core.overlap.scatter import (
    CURRENT,
    DONE,
    MAX_ANIMATION_INPUT,
    WAITING,
    Scatter,
    scatter_axes,
    scatter_frames,
    taps,
)


@st.composite
def axes(draw, max_k: int = 4, max_s: int = 3, max_d: int = 2) -> Axis:
    """One axis torch accepts: op below max(s, d), p up to past the kernel span."""
    k = draw(st.integers(1, max_k))
    s = draw(st.integers(1, max_s))
    d = draw(st.integers(1, max_d))
    op = draw(st.integers(0, max(s, d) - 1))
    p = draw(st.integers(0, d * (k - 1) + 1))
    return Axis(k, s, p, op, d)


@st.composite
def layers_and_sizes(draw) -> tuple[TransposedConv, tuple[int, int]]:
    """A 2D layer with its own numbers per axis, and an input of 1 to 5 pixels per axis."""
    pair = (draw(axes()), draw(axes()))
    sizes = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    assume(all(axis_output(a, n) >= 1 for a, n in zip(pair, sizes, strict=True)))
    layer = TransposedConv.make(
        1,
        1,
        tuple(a.kernel_size for a in pair),
        tuple(a.stride for a in pair),
        tuple(a.padding for a in pair),
        tuple(a.output_padding for a in pair),
        dilation=tuple(a.dilation for a in pair),
    )
    return layer, sizes


def torch_uncropped(layer: TransposedConv, mask: np.ndarray) -> np.ndarray:
    """torch's transposed convolution of `mask` through an all-ones kernel, before any crop."""
    x = torch.from_numpy(mask.astype(np.float64))[None, None]
    weight = torch.ones(1, 1, *layer.kernel_size, dtype=torch.float64)
    y = F.conv_transpose2d(x, weight, stride=layer.stride, dilation=layer.dilation)
    return y[0, 0].round().long().numpy()


def first_pixels(sizes: tuple[int, int], t: int) -> np.ndarray:
    """1 on the first t input pixels in row-major order, 0 elsewhere."""
    mask = np.zeros(sizes[0] * sizes[1], dtype=np.int64)
    mask[:t] = 1
    return mask.reshape(sizes)


@settings(max_examples=120)
@given(case=layers_and_sizes())
def test_each_frame_is_torch_scatter_of_the_pixels_so_far(case):
    layer, sizes = case
    scatter = scatter_frames(layer, sizes)
    assert isinstance(scatter, Scatter)
    assert scatter.input_size == sizes and not scatter.one_d
    assert len(scatter.frames) == sizes[0] * sizes[1] + 1
    top, left = layer.padding
    assert scatter.rows[0] == -top and scatter.cols[0] == -left
    assert np.array_equal(np.diff(scatter.rows), np.ones(len(scatter.rows) - 1))
    for t, frame in enumerate(scatter.frames):
        expected = torch_uncropped(layer, first_pixels(sizes, t))
        h, w = expected.shape
        assert frame.counts.shape == (len(scatter.rows), len(scatter.cols))
        assert frame.counts.shape[0] >= h and frame.counts.shape[1] >= w
        assert np.array_equal(frame.counts[:h, :w], expected)
        assert not frame.counts[h:].any() and not frame.counts[:, w:].any()
    assert np.array_equal(scatter.kept(scatter.frames[-1].counts), overlap_map(layer, sizes))


@settings(max_examples=120)
@given(case=layers_and_sizes())
def test_frame_t_adds_pixel_t_footprint(case):
    """Frame t's counts are frame t-1's plus pixel t's footprint: its taps' output positions."""
    layer, sizes = case
    ax_h, ax_w = layer.axes
    scatter = scatter_frames(layer, sizes)
    start = scatter.frames[0]
    assert start.pixel is None and not start.counts.any() and (start.inputs == WAITING).all()
    total = np.zeros_like(start.counts)
    for t, frame in enumerate(scatter.frames[1:], start=1):
        ih, iw = divmod(t - 1, sizes[1])
        assert frame.pixel == (ih, iw)
        rows = [
            ih * ax_h.stride + m * ax_h.dilation - ax_h.padding for m in range(ax_h.kernel_size)
        ]
        cols = [
            iw * ax_w.stride + m * ax_w.dilation - ax_w.padding for m in range(ax_w.kernel_size)
        ]
        assert frame.tap_rows.tolist() == rows and frame.tap_cols.tolist() == cols
        for r in rows:
            for c in cols:
                total[r + ax_h.padding, c + ax_w.padding] += 1  # sum of the first t footprints
        assert np.array_equal(frame.counts, total)
        states = np.full(sizes[0] * sizes[1], WAITING)
        states[: t - 1] = DONE
        states[t - 1] = CURRENT
        assert np.array_equal(frame.inputs, states.reshape(sizes))


@settings(max_examples=60)
@given(axis=axes(), n=st.integers(1, MAX_ANIMATION_INPUT))
def test_one_d_layers_give_one_row_ending_in_the_profile(axis, n):
    assume(axis_output(axis, n) >= 1)
    k, s, p, op, d = (getattr(axis, name) for name in SPATIAL_NAMES)
    layer_1d = TransposedConv.make(1, 1, k, s, p, op, dilation=d, ndim=1)
    for given_layer, size in ((axis, n), ([axis], [n]), (layer_1d, n)):
        scatter = scatter_frames(given_layer, size)
        assert scatter.one_d and scatter.input_size == (1, n)
        assert scatter.axes == (Axis(1, 1, 0, 0, 1), axis)
        assert len(scatter.frames) == n + 1
        assert [f.pixel for f in scatter.frames[1:]] == [(0, i) for i in range(n)]
        kept = scatter.kept(scatter.frames[-1].counts)
        assert np.array_equal(kept, overlap_profile(axis, n)[None, :])


def test_an_int_input_size_means_every_axis_and_taps_are_the_formula():
    layer = TransposedConv.make(1, 1, (3, 2), (2, 3), (1, 0), (1, 2))
    assert [f.pixel for f in scatter_frames(layer, 2).frames] == [
        None,
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
    ]
    assert taps(Axis(3, 2, 1, 0, 2), 4).tolist() == [7, 9, 11]
    assert scatter_axes(layer) == (*layer.axes, False)


def test_limits_and_bad_layers_are_config_errors():
    bad = [
        ("input_size", lambda: scatter_frames(TransposedConv.make(1, 1, 3, 2, 1), 9)),
        ("kernel_size", lambda: scatter_frames(TransposedConv.make(1, 1, 60, 2, 1), 8)),
        ("ndim", lambda: scatter_frames(TransposedConv.make(1, 1, 3, 2, ndim=3), 2)),
        ("layer", lambda: scatter_frames("k3 s2", 4)),
        ("padding", lambda: scatter_frames(TransposedConv.make(1, 1, 3, 1, 4), 2)),
        ("input_size", lambda: scatter_frames(Axis(3, 2, 1, 0, 1), 0)),
        ("output_padding", lambda: scatter_frames([Axis(3, 2, 1, 2, 1)], 3)),
    ]
    for parameter, call in bad:
        with pytest.raises(ConfigError) as err:
            call()
        assert err.value.parameter == parameter
