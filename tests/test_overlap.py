"""Overlap counts, stacks, statistics and replacements, with torch's all-ones transposed
convolution as the oracle (random configurations: asymmetric k/s/p/op/d, inputs down to 1)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch_oracle import torch_overlap

from core.errors import ConfigError
from core.geometry.layer import Axis, TransposedConv
from core.geometry.output_size import axis_output
from core.overlap.counts import (
    MAX_OVERLAP_SIDE,
    overlap_map,
    overlap_profile,
    overlap_ratio,
    overlap_stats,
    overlap_summary,
    phase_table,
    stack_overlap,
    stack_stage_maps,
)
from core.overlap.replacement_maps import (
    ResizeConv,
    matching_resize_conv,
    replacement_overlap,
    replacement_overlaps,
    resize_conv_overlap,
    resize_conv_profile,
    subpixel_overlap,
    subpixel_profile,
    zero_insertion_overlap,
    zero_insertion_profile,
)
from core.replacements.registry import EXACT_METHODS, METHODS

# ------------------------------------------------------------------------------ strategies


@st.composite
def axes(draw, max_k: int = 6, max_s: int = 4, max_d: int = 3) -> Axis:
    """One axis torch accepts: any k, s, d in range, op below max(s, d), p up to the kernel span."""
    k = draw(st.integers(1, max_k))
    s = draw(st.integers(1, max_s))
    d = draw(st.integers(1, max_d))
    op = draw(st.integers(0, max(s, d) - 1))
    p = draw(st.integers(0, d * (k - 1) + 2))
    return Axis(k, s, p, op, d)


def make_layer(per_axis: list[Axis], channels: tuple[int, int] = (1, 1)) -> TransposedConv:
    return TransposedConv.make(
        channels[0],
        channels[1],
        tuple(a.kernel_size for a in per_axis),
        tuple(a.stride for a in per_axis),
        tuple(a.padding for a in per_axis),
        tuple(a.output_padding for a in per_axis),
        dilation=tuple(a.dilation for a in per_axis),
        ndim=len(per_axis),
    )


def chain_sizes(layers: list[TransposedConv], sizes: tuple[int, ...]) -> list[tuple[int, ...]]:
    out = [sizes]
    for layer in layers:
        out.append(tuple(axis_output(a, n) for a, n in zip(layer.axes, out[-1], strict=True)))
    return out


def valid_chain(layers, sizes, cap: int = 600) -> bool:
    return all(1 <= n <= cap for stage in chain_sizes(layers, sizes)[1:] for n in stage)


@st.composite
def stacks(draw, ndim: int = 2, max_layers: int = 4, max_input: int = 5, **axis_kw):
    """1..max_layers layers (per-axis random) and an input size for which every stage is valid."""
    count = draw(st.integers(1, max_layers))
    layers = [make_layer([draw(axes(**axis_kw)) for _ in range(ndim)]) for _ in range(count)]
    sizes = tuple(draw(st.integers(1, max_input)) for _ in range(ndim))
    assume(valid_chain(layers, sizes))
    return layers, sizes


def torch_counts(layers: list[TransposedConv], sizes: tuple[int, ...]) -> np.ndarray:
    """torch's overlap counts (`torch_oracle.torch_overlap`, float64) as integers."""
    counts = torch_overlap(layers, sizes)[0, 0].numpy()
    assert np.array_equal(counts, np.round(counts))
    return counts.astype(np.int64)


# ---------------------------------------------------------------------- maps against torch


@settings(max_examples=1500)
@given(per_axis=st.lists(axes(), min_size=2, max_size=2), h=st.integers(1, 7), w=st.integers(1, 7))
def test_overlap_map_2d_equals_torch(per_axis, h, w):
    layer = make_layer(per_axis)
    assume(valid_chain([layer], (h, w)))
    counts = overlap_map(layer, (h, w))
    assert counts.dtype == np.int64
    assert np.array_equal(counts, torch_counts([layer], (h, w)))


@settings(max_examples=500)
@given(axis=axes(max_k=8, max_s=5), n=st.integers(1, 12))
def test_overlap_profile_and_1d_map_equal_torch(axis, n):
    layer = make_layer([axis])
    assume(valid_chain([layer], (n,)))
    expected = torch_counts([layer], (n,))
    assert np.array_equal(overlap_profile(axis, n), expected)
    assert np.array_equal(overlap_map(layer, n), expected)


@settings(max_examples=300)
@given(
    per_axis=st.lists(axes(max_k=4, max_s=3, max_d=2), min_size=3, max_size=3),
    sizes=st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)),
)
def test_overlap_map_3d_equals_torch(per_axis, sizes):
    layer = make_layer(per_axis)
    assume(valid_chain([layer], sizes))
    assert np.array_equal(overlap_map(layer, sizes), torch_counts([layer], sizes))


@settings(max_examples=800)
@given(stack=stacks(max_k=5, max_s=3, max_d=2))
def test_stack_overlap_equals_chained_torch(stack):
    layers, sizes = stack
    assert np.array_equal(stack_overlap(layers, sizes), torch_counts(layers, sizes))
    stages = stack_stage_maps(layers, sizes)
    assert len(stages) == len(layers)
    for i, stage in enumerate(stages):
        assert np.array_equal(stage, torch_counts(layers[: i + 1], sizes))


@settings(max_examples=200)
@given(stack=stacks(ndim=1, max_layers=4, max_input=6))
def test_stack_overlap_1d_equals_chained_torch(stack):
    layers, sizes = stack
    assert np.array_equal(stack_overlap(layers, sizes), torch_counts(layers, sizes))


def test_generator_stack_compounds_the_pattern():
    """DCGAN-style 4 -> 8 -> 16 -> 32 -> 64 with k3 s2 p1 op1: the map is torch's, and the
    pattern's period doubles with every stride-2 stage."""
    layer = TransposedConv.make(1, 1, 3, 2, 1, 1)
    for depth in range(1, 5):
        layers = [layer] * depth
        counts = stack_overlap(layers, 4)
        assert counts.shape == (4 * 2**depth,) * 2
        assert np.array_equal(counts, torch_counts(layers, (4, 4)))
        assert overlap_stats(layers, 4).period == (2**depth, 2**depth)


# ----------------------------------------------------------------------- statistics


def brute_force_period(region: np.ndarray, axis: int) -> int:
    """Smallest shift P (up to half the region) under which the region repeats along `axis`."""
    length = region.shape[axis]
    for p in range(1, length // 2 + 1):
        a = np.take(region, range(p, length), axis=axis)
        b = np.take(region, range(0, length - p), axis=axis)
        if np.array_equal(a, b):
            return p
    raise AssertionError("no period found in the region")


def reach(axes_of_stack: list[Axis]) -> int:
    """A bound on how far border and padding effects reach into a stack's output."""
    total = 0
    for i, a in enumerate(axes_of_stack):
        later = math.prod(b.stride for b in axes_of_stack[i + 1 :])
        total += (
            a.dilation * (a.kernel_size - 1) + 1 + a.padding + a.output_padding + a.stride
        ) * (later)
    return total


@settings(max_examples=250)
@given(stack=stacks(max_layers=3, max_k=4, max_s=3, max_d=2))
def test_stats_match_brute_force_on_a_large_torch_map(stack):
    """Period, interior max/min and ratio against torch's map of an input large enough that its
    middle is free of border effects."""
    layers, _ = stack
    margins, periods, big = [], [], []
    for index in range(2):
        per_axis = [layer.axes[index] for layer in layers]
        stride = math.prod(a.stride for a in per_axis)
        margin = reach(per_axis)
        n = 1
        while chain_sizes(layers, (n, n))[-1][index] < 2 * margin + 3 * stride:
            n += 1
        margins.append(margin)
        periods.append(stride)
        big.append(n)
    sizes = tuple(big)
    assume(valid_chain(layers, sizes, cap=1500))
    counts = torch_counts(layers, sizes)
    region = counts[
        margins[0] : counts.shape[0] - margins[0], margins[1] : counts.shape[1] - margins[1]
    ]
    stats = overlap_stats(layers, sizes)
    assert stats.period == (brute_force_period(region, 0), brute_force_period(region, 1))
    assert stats.interior_max == region.max()
    assert stats.interior_min == region.min()
    if region.min() > 0:
        assert stats.overlap_ratio == region.max() / region.min()
    else:
        assert math.isinf(stats.overlap_ratio)
    assert overlap_ratio(layers) == stats.overlap_ratio


@settings(max_examples=800)
@given(stack=stacks(max_layers=3, max_k=5, max_s=3, max_d=2, max_input=8))
def test_interior_counts_follow_the_pattern(stack):
    """Every position inside `interior` holds pattern_h[o_h % P_h] * pattern_w[o_w % P_w], for the
    given (possibly tiny) input; the interior lies inside the output."""
    layers, sizes = stack
    counts = torch_counts(layers, sizes)
    stats = overlap_stats(layers, sizes)
    assert stats.output_size == counts.shape
    (top, bottom), (left, right) = stats.interior
    for (start, stop), length in zip(stats.interior, counts.shape, strict=True):
        assert 0 <= start <= stop <= length
    assert stats.has_interior == (top < bottom and left < right)
    assert stats.as_dict()["has_interior"] == stats.has_interior
    if stats.has_interior:
        ph, pw = (np.array(a.pattern) for a in stats.axes)
        rows = ph[np.arange(top, bottom) % len(ph)]
        cols = pw[np.arange(left, right) % len(pw)]
        assert np.array_equal(counts[top:bottom, left:right], np.outer(rows, cols))


@settings(max_examples=400)
@given(axis=axes(max_k=7, max_s=5), n=st.integers(1, 6))
def test_phase_table_matches_torch_impulses(axis, n):
    """Tap j serves phase r iff torch, with only tap j of the kernel set, reaches interior output
    positions o % s == r; and each phase's tap count is the interior pattern."""
    layer = make_layer([axis])
    assume(valid_chain([layer], (n,)))
    table = phase_table(axis)
    assert len(table) == axis.stride
    assert sorted(j for taps in table for j in taps) == list(range(axis.kernel_size))
    big = n + 3 * axis.stride + 2 * axis.dilation * axis.kernel_size
    start = axis.dilation * (axis.kernel_size - 1) - axis.padding
    stop = (big - 1) * axis.stride - axis.padding + 1
    for j in range(axis.kernel_size):
        kernel = torch.zeros(1, 1, axis.kernel_size, dtype=torch.float64)
        kernel[0, 0, j] = 1
        y = F.conv_transpose1d(
            torch.ones(1, 1, big, dtype=torch.float64),
            kernel,
            stride=axis.stride,
            padding=axis.padding,
            output_padding=axis.output_padding,
            dilation=axis.dilation,
        )[0, 0]
        lit = {o % axis.stride for o in range(max(start, 0), min(stop, len(y))) if y[o] != 0}
        assert lit == {r for r, taps in enumerate(table) if j in taps}
    stats = overlap_stats(layer, n)
    pattern = stats.axes[0].pattern
    assert [len(taps) for taps in table] == [pattern[r % len(pattern)] for r in range(axis.stride)]


def test_stats_of_well_known_layers():
    """Odena et al.'s cases, read off torch: k3 s2 uneven, k4 s2 even, k1 s2 with holes."""
    cases = [(3, 2, 1), (4, 2, 1), (1, 2, 0), (5, 3, 1)]
    for k, s, p in cases:
        layer = TransposedConv.make(1, 1, k, s, p)
        counts = torch_counts([layer], (12, 12))
        stats = overlap_stats(layer, 12)
        (top, bottom), (left, right) = stats.interior
        inner = counts[top:bottom, left:right]
        assert stats.interior_max == inner.max() and stats.interior_min == inner.min()
        assert stats.even == (k % s == 0)
        assert stats.as_dict()["overlap_ratio"] == (
            None if inner.min() == 0 else inner.max() / inner.min()
        )


# ----------------------------------------------------------------------------- replacements


@settings(max_examples=600)
@given(per_axis=st.lists(axes(), min_size=2, max_size=2), h=st.integers(1, 6), w=st.integers(1, 6))
def test_exact_equivalents_reproduce_the_original(per_axis, h, w):
    layer = make_layer(per_axis)
    assume(valid_chain([layer], (h, w)))
    expected = torch_counts([layer], (h, w))
    assert np.array_equal(zero_insertion_overlap(layer, (h, w)), expected)
    assert np.array_equal(subpixel_overlap(layer, (h, w)), expected)
    for a, n in zip(per_axis, (h, w), strict=True):
        assert np.array_equal(zero_insertion_profile(a, n), overlap_profile(a, n))
        assert np.array_equal(subpixel_profile(a, n), overlap_profile(a, n))


@settings(max_examples=300)
@given(per_axis=st.lists(axes(max_k=5, max_s=3), min_size=2, max_size=2), n=st.integers(1, 6))
def test_zero_insertion_overlap_equals_torch_zero_insertion(per_axis, n):
    """Zero insertion + pad + conv2d with an all-ones kernel, run in torch (geometry notes)."""
    layer = make_layer(per_axis)
    assume(valid_chain([layer], (n, n)))
    dilated = torch.zeros(1, 1, *((n - 1) * a.stride + 1 for a in per_axis), dtype=torch.float64)
    dilated[..., :: per_axis[0].stride, :: per_axis[1].stride] = 1
    pads = []
    for a in reversed(per_axis):  # F.pad takes the last axis first
        before = a.dilation * (a.kernel_size - 1) - a.padding
        pads += [before, before + a.output_padding]
    y = F.conv2d(
        F.pad(dilated, pads),
        torch.ones(1, 1, *layer.kernel_size, dtype=torch.float64),
        dilation=layer.dilation,
    )
    assert np.array_equal(zero_insertion_overlap(layer, (n, n)), y[0, 0].numpy().astype(np.int64))


@st.composite
def resize_specs(draw):
    scale = draw(st.tuples(st.integers(1, 4), st.integers(1, 4)))
    kernel = draw(st.tuples(st.integers(1, 5), st.integers(1, 5)))
    dilation = draw(st.tuples(st.integers(1, 2), st.integers(1, 2)))
    pads = draw(st.tuples(*(st.tuples(st.integers(-2, 3), st.integers(-2, 3)) for _ in range(2))))
    sizes = draw(st.tuples(st.integers(1, 6), st.integers(1, 6)))
    return ResizeConv.make(scale, kernel, pads, dilation), sizes


@settings(max_examples=500)
@given(spec_sizes=resize_specs(), mode=st.sampled_from(["nearest", "bilinear"]))
def test_resize_conv_overlap_equals_torch(spec_sizes, mode):
    spec, sizes = spec_sizes
    try:
        out = spec.output_size(sizes)
    except ConfigError:
        assume(False)
    x = torch.ones(1, 1, *sizes, dtype=torch.float64)
    kw = {} if mode == "nearest" else {"align_corners": False}
    up = F.interpolate(x, scale_factor=spec.scale_factor, mode=mode, **kw)
    (th, bh), (tw, bw) = spec.padding
    y = F.conv2d(
        F.pad(up, [tw, bw, th, bh]),
        torch.ones(1, 1, *spec.kernel_size, dtype=torch.float64),
        dilation=spec.dilation,
    )[0, 0].numpy()
    counts = resize_conv_overlap(spec, sizes)
    assert counts.shape == out == y.shape
    assert np.allclose(counts, y, rtol=0, atol=1e-9)
    for axis in range(2):
        profile = resize_conv_profile(
            sizes[axis],
            spec.scale_factor[axis],
            spec.kernel_size[axis],
            spec.padding[axis],
            spec.dilation[axis],
        )
        assert counts.shape[axis] == len(profile)


@settings(max_examples=500)
@given(per_axis=st.lists(axes(), min_size=2, max_size=2), h=st.integers(1, 6), w=st.integers(1, 6))
def test_matching_resize_conv_has_the_size_and_is_even_inside(per_axis, h, w):
    layer = make_layer(per_axis)
    assume(valid_chain([layer], (h, w)))
    if max(layer.stride) == 1:  # nothing to upsample: no resize-conv, as in the designer
        with pytest.raises(ConfigError, match="nothing to upsample"):
            matching_resize_conv(layer)
        return
    spec = matching_resize_conv(layer)
    counts = replacement_overlap("resize-nearest", layer, (h, w))
    assert counts.shape == torch_counts([layer], (h, w)).shape
    # positions whose kernel window lies inside the upsampled image all get prod(k') taps
    inner = []
    for (before, _), s, k, d, n in zip(
        spec.padding, spec.scale_factor, spec.kernel_size, spec.dilation, (h, w), strict=True
    ):
        inner.append((max(before, 0), s * n + before - d * (k - 1)))
    (top, bottom), (left, right) = inner
    if top < bottom and left < right:
        assert np.all(counts[top:bottom, left:right] == math.prod(spec.kernel_size))


def test_replacement_overlaps_side_by_side():
    layer = TransposedConv.make(64, 32, 3, 2, 1)
    maps = replacement_overlaps(layer, 16)
    original = torch_counts([layer], (16, 16))
    assert list(maps) == ["conv-transpose", *METHODS]
    for name in METHODS:  # the exact equivalents compute the layer's own map
        assert maps[name].shape == original.shape
        assert np.array_equal(maps[name], original) == (name in EXACT_METHODS), name
    spec = matching_resize_conv(TransposedConv.make(1, 1, 4, 2, 1))
    assert spec.kernel_size == (3, 3) and spec.padding == ((1, 1), (1, 1))  # geometry notes
    # the designer's matched kernel k - s + 1, its padding split for the best alignment
    spec = matching_resize_conv(TransposedConv.make(1, 1, 3, 2, 1, 1))
    assert spec.kernel_size == (2, 2) and spec.padding == ((0, 1), (0, 1))


# ----------------------------------------------------------------------- summary and errors


def test_overlap_summary_is_json_and_agrees():
    layer = TransposedConv.make(64, 32, (3, 4), (2, 2), (1, 1))
    summary = overlap_summary(layer, (5, 6))
    text = json.dumps(summary, allow_nan=False)
    assert json.loads(text) == summary
    assert summary["overlap"] == torch_counts([layer], (5, 6)).tolist()
    stats = overlap_stats(layer, (5, 6))
    assert summary["overlap_ratio"] == stats.overlap_ratio
    assert summary["overlap_stats"]["period"] == list(stats.period)
    assert summary["overlap_profiles"] == [
        overlap_profile(a, n).tolist() for a, n in zip(layer.axes, (5, 6), strict=True)
    ]
    assert summary["overlap_stats"]["axes"][0]["phase_tables"][0] == [
        {"phase": r, "taps": list(t)} for r, t in enumerate(phase_table(layer.axes[0]))
    ]
    limited = overlap_summary(layer, (5, 6), max_cells=10)
    assert limited["overlap"] is None and limited["overlap_note"]
    assert limited["overlap_profiles"] == summary["overlap_profiles"]
    holes = overlap_summary(TransposedConv.make(1, 1, 1, 2), 4)
    assert holes["overlap_ratio"] is None and holes["overlap_stats"]["holes"]
    json.dumps(holes, allow_nan=False)
    huge = overlap_summary(TransposedConv.make(1, 1, 4, 2, 1), 5000)
    assert huge["overlap"] is None and huge["overlap_profiles"] is None
    assert huge["overlap_ratio"] == 1.0


def test_bad_input_raises_config_error():
    ok = TransposedConv.make(8, 4, 4, 2, 1)
    bad_calls = [
        lambda: stack_overlap([ok, TransposedConv.make(8, 4, 4, 2, 1)], 4),  # 4 -> 8 channels
        lambda: stack_overlap([ok, TransposedConv.make(4, 4, 4, 2, 1, ndim=1)], 4),
        lambda: stack_overlap([], 4),
        lambda: stack_overlap("not layers", 4),
        lambda: overlap_map("a layer", 4),
        lambda: overlap_map(ok, MAX_OVERLAP_SIDE),  # 8192 pixels per axis
        lambda: overlap_map(ok, 0),
        lambda: overlap_map(TransposedConv.make(1, 1, 3, 1, 5), 2),  # output < 1
        lambda: overlap_profile(Axis(3, 0, 0, 0, 1), 4),  # stride 0
        lambda: overlap_profile(Axis(3, 2, 0, 2, 1), 4),  # op >= max(s, d)
        lambda: overlap_profile("axis", 4),
        lambda: stack_overlap([TransposedConv.make(1, 1, 3, 1, 3)] * 3, 4),  # stage 2 empty
        lambda: overlap_stats([TransposedConv.make(1, 1, 2, 16)] * 6, 1),  # period 16**6
        lambda: replacement_overlap("resize-magic", ok, 4),
        lambda: ResizeConv.make(0, 3),
        lambda: ResizeConv.make(2, 3, padding=[(1, 2, 3), (0, 0)]),
        lambda: resize_conv_overlap(ResizeConv.make(1, 5, padding=-3), 2),
        lambda: resize_conv_overlap("spec", 2),
        lambda: matching_resize_conv(ok, kernel_size=0),
        lambda: overlap_summary(ok, 4, max_cells="all"),
        lambda: overlap_summary(ok, 4, max_cells=-1),
    ]
    for call in bad_calls:
        with pytest.raises(ConfigError) as info:
            call()
        assert info.value.parameter and str(info.value)
