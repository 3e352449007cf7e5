"""Kernel overlap: how many (input pixel, kernel tap) pairs land on each output pixel.

A transposed convolution scatters every input pixel through its kernel onto the output; where
the kernel size is not a multiple of the stride, neighbouring output pixels receive different
numbers of contributions and the output carries a periodic pattern: the checkerboard (Odena,
Dumoulin & Olah 2016, "Deconvolution and Checkerboard Artifacts").

Definitions used throughout (counts are for one channel, all-ones input, all-ones kernel):

- Along one axis, output position o (0 = first output pixel) receives tap j of input i when
  i*s + j*d - p == o, so
      count(o) = #{j in [0, k) : (o + p - j*d) % s == 0 and 0 <= (o + p - j*d)/s < n}.
  This equals torch's `conv_transpose1d(ones(n), ones(k), stride=s, padding=p, ...)`.
- The nD map is the outer product of the per-axis profiles (input and kernel are outer products
  of ones, so the scatter separates). A stack of layers is the transposed convolution of the
  previous map through an all-ones kernel; it separates too, so it is computed per axis.
- *Interior*: the output positions whose whole receptive window, d*(k - 1) + 1 positions wide at
  the layer's (zero-inserted) input, lies inside the previous layer's interior (the whole input for
  the first layer). Per axis and per layer: [s*a + d*(k - 1) - p, s*b - p] clipped to the output,
  where [a, b] is the previous interior. Interior counts equal those of an infinitely large input:
  no border, no padding crop touches them.
- *Pattern*: the infinite-input counts, periodic with period dividing the product of the strides;
  `period` is its smallest period and `pattern[o % period]` is the count at interior position o.
  The interior max/min ratio is computed from the pattern, so it is quotable for any input size.

numpy only (no torch), so the CLI and pages that only draw maps stay fast.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.geometry.layer import Axis, TransposedConv
from core.geometry.output_size import AXIS_NAMES, axis_output, input_tuple, output_size

MAX_OVERLAP_SIDE = 4096  # output pixels per axis for profiles and maps
MAX_OVERLAP_CELLS = 1 << 24  # cells of one map (int64: 128 MiB at most)
MAX_STACK = 32  # layers in one stack
MAX_PERIOD = 1 << 20  # product of the strides of a stack along one axis (the pattern's length)
_MAX_PATTERN_WORK = 1 << 27  # element operations spent building one axis pattern
Counts = np.ndarray  # int64 counts


def axis_layer(axis: Axis) -> TransposedConv:
    """A 1D layer with the axis's numbers: validates the axis exactly as torch would."""
    if not isinstance(axis, Axis):
        raise ConfigError(
            "axis", f"axis must be a core.geometry.layer.Axis, got {type(axis).__name__}"
        )
    return TransposedConv.make(
        1,
        1,
        axis.kernel_size,
        axis.stride,
        axis.padding,
        axis.output_padding,
        dilation=axis.dilation,
        ndim=1,
    )


def check_side(out: int, name: str, what: str = "output") -> None:
    if out > MAX_OVERLAP_SIDE:
        raise ConfigError(
            "input_size",
            f"the {what} would be {out} pixels along {name}; overlap profiles and maps are "
            f"capped at {MAX_OVERLAP_SIDE} pixels per axis to bound memory: use a smaller "
            f"input_size (the pattern is periodic, a small input shows it)",
        )


def check_cells(shape: Sequence[int]) -> None:
    cells = math.prod(shape)
    if cells > MAX_OVERLAP_CELLS:
        dims = " x ".join(map(str, shape))
        raise ConfigError(
            "input_size",
            f"the overlap map would be {dims} = {cells} cells; maps are capped at "
            f"{MAX_OVERLAP_CELLS} cells to bound memory: use a smaller input_size",
        )


def check_layer(layer: Any, where: str = "layer") -> TransposedConv:
    if not isinstance(layer, TransposedConv):
        raise ConfigError(
            "layer",
            f"{where} must be a core.TransposedConv (use TransposedConv.make(...) or "
            f"TransposedConv.from_module(module)), got {type(layer).__name__}",
        )
    layer.validate()
    return layer


def _check_stack(layers: Any) -> list[TransposedConv]:
    """Validate a stack: 1..MAX_STACK layers, one ndim, channels that chain as in nn.Sequential."""
    if isinstance(layers, TransposedConv):
        layers = [layers]
    if not isinstance(layers, Sequence) or isinstance(layers, (str, bytes)):
        raise ConfigError("layers", f"layers must be a list of TransposedConv, got {layers!r}")
    if not 1 <= len(layers) <= MAX_STACK:
        raise ConfigError(
            "layers",
            f"a stack needs 1 to {MAX_STACK} layers, got {len(layers)}: add or remove layers",
        )
    checked = [check_layer(layer, f"layer {i + 1}") for i, layer in enumerate(layers)]
    for i, (prev, nxt) in enumerate(itertools.pairwise(checked)):
        if nxt.ndim != prev.ndim:
            raise ConfigError(
                "ndim",
                f"layer {i + 2} has {nxt.ndim} spatial axes but layer {i + 1} has "
                f"{prev.ndim}: use ConvTranspose{prev.ndim}d throughout the stack",
            )
        if nxt.in_channels != prev.out_channels:
            raise ConfigError(
                "in_channels",
                f"layer {i + 2} takes in_channels={nxt.in_channels} but layer {i + 1} gives "
                f"out_channels={prev.out_channels}: the shapes do not chain; set layer "
                f"{i + 2}'s in_channels to {prev.out_channels}",
            )
    return checked


def stack_sizes(layers: Sequence[TransposedConv], input_size: Any) -> list[tuple[int, ...]]:
    """Spatial sizes before and after every layer; ConfigError where a stage is invalid/too big."""
    sizes = [input_tuple(layers[0], input_size)]
    names = AXIS_NAMES[layers[0].ndim]
    for i, layer in enumerate(layers):
        try:
            out = output_size(layer, sizes[-1])
        except ConfigError as e:
            if len(layers) == 1:
                raise
            raise ConfigError(e.parameter, f"layer {i + 1}: {e.message}") from None
        for o, name in zip(out, names, strict=True):
            check_side(o, name, "output" if i == len(layers) - 1 else f"output of layer {i + 1}")
        sizes.append(out)
    return sizes


def ones_correlate(signal: np.ndarray, kernel_size: int, dilation: int, length: int) -> Counts:
    """y[o] = sum_{m < k} signal[o + m*d] for o < length (zeros past the end): a convolution
    with an all-ones dilated kernel, by running sums along the d residue classes, O(len)."""
    need = length + (kernel_size - 1) * dilation
    rows = -(-need // dilation)
    padded = np.zeros(rows * dilation, dtype=np.int64)
    take = min(len(signal), need)
    padded[:take] = signal[:take]
    sums = np.zeros((rows + 1, dilation), dtype=np.int64)
    np.cumsum(padded.reshape(rows, dilation), axis=0, out=sums[1:])
    o = np.arange(length)
    row, col = o // dilation, o % dilation
    return sums[row + kernel_size, col] - sums[row, col]


def pad_or_crop(signal: np.ndarray, before: int, after: int) -> np.ndarray:
    """Zero-pad (positive) or crop (negative) a 1D array at each end, like F.pad."""
    start = max(-before, 0)
    stop = len(signal) - max(-after, 0)
    core = signal[start : max(stop, start)]
    return np.concatenate(
        [np.zeros(max(before, 0), np.int64), core, np.zeros(max(after, 0), np.int64)]
    )


def _scatter(values: np.ndarray, axis: Axis) -> Counts:
    """Transposed convolution of `values` with an all-ones kernel along one axis (no checks).

    out[o] = sum_m u[t0 + o + m*d], m < k, where u holds values[i] at i*s (zeros between) and
    t0 = p - (k - 1)*d; only the window of u the output reads is built, so a large padding
    costs nothing.
    """
    k, s, p, d = axis.kernel_size, axis.stride, axis.padding, axis.dilation
    n = len(values)
    out = axis_output(axis, n)
    t0 = p - (k - 1) * d
    window = out + (k - 1) * d
    first = max(0, -(-t0 // s))  # first input whose position i*s is inside the window
    last = min(n - 1, (t0 + window - 1) // s)
    u = np.zeros(window, dtype=np.int64)
    if first <= last:
        i = np.arange(first, last + 1)
        u[i * s - t0] = values[first : last + 1]
    return ones_correlate(u, k, d, out)


def overlap_profile(axis: Axis, n: int) -> Counts:
    """Overlap counts along one axis for an input of `n` pixels (int64, border effects included).

    Equal to torch's `conv_transpose1d(ones(1, 1, n), ones(1, 1, k), stride=s, padding=p,
    output_padding=op, dilation=d)`.

    Args:
        axis: one axis of a layer (`TransposedConv.axes`).
        n: the input pixels along it.

    Returns:
        The counts, one per output pixel along the axis.

    Raises:
        ConfigError: for an invalid axis or size, or an output over 4096 pixels.

    Example:
        >>> k3 = TransposedConv.make(1, 1, kernel_size=3, stride=2, padding=1, output_padding=1)
        >>> overlap_profile(k3.axes[0], 4).tolist()  # k3 s2: 1, 2, 1, 2: uneven
        [1, 2, 1, 2, 1, 2, 1, 1]
    """
    sizes = stack_sizes([axis_layer(axis)], n)
    return _scatter(np.ones(sizes[0][0], dtype=np.int64), axis)


def outer(profiles: Sequence[np.ndarray]) -> Counts:
    if len(profiles) == 1:
        return profiles[0].copy()
    return reduce(np.multiply.outer, profiles)


def _stack_profiles(layers: Sequence[TransposedConv], sizes: list[tuple[int, ...]]) -> list[list]:
    """Per stage, per axis, the profile after that stage (sizes already validated)."""
    current = [np.ones(n, dtype=np.int64) for n in sizes[0]]
    stages = []
    for layer in layers:
        current = [_scatter(x, a) for x, a in zip(current, layer.axes, strict=True)]
        stages.append(current)
    return stages


def overlap_map(layer: TransposedConv, input_size: int | Sequence[int]) -> Counts:
    """Overlap counts of one layer for `input_size`: an int64 array of the output's spatial shape.

    Equal to torch's `conv_transposeNd(ones(1, 1, *input), ones(1, 1, *kernel), ...)` with the
    layer's stride, padding, output_padding and dilation (one channel). Any ndim; computed per
    axis and combined by an outer product. Outputs are capped at 4096 pixels per axis and 2^24
    cells (ConfigError beyond).

    Args:
        layer: the layer (a `TransposedConv`).
        input_size: its spatial input size: an int for every axis, or one per axis.

    Returns:
        The counts: how many (input pixel, kernel tap) pairs land on each output pixel.

    Raises:
        ConfigError: for an input size the layer refuses, or an output over the caps.

    Example:
        >>> k4 = TransposedConv.make(1, 1, kernel_size=4, stride=2, padding=1)
        >>> print(overlap_map(k4, 3))  # even inside: 4 everywhere away from the borders
        [[1 2 2 2 2 1]
         [2 4 4 4 4 2]
         [2 4 4 4 4 2]
         [2 4 4 4 4 2]
         [2 4 4 4 4 2]
         [1 2 2 2 2 1]]
    """
    return stack_overlap([check_layer(layer)], input_size)


def stack_overlap(layers: Sequence[TransposedConv], input_size: int | Sequence[int]) -> Counts:
    """Overlap counts of layers applied one after another to `input_size` (the first's input).

    The all-ones input goes through every layer with all-ones kernels (one channel): the map of a
    generator's upsampling path, where the patterns of the stages multiply. Channels must chain
    (layer i's out_channels == layer i+1's in_channels), as they must for nn.Sequential.

    Args:
        layers: the layers in order (1 to MAX_STACK, all of one ndim).
        input_size: the first layer's spatial input size: an int, or one per axis.

    Returns:
        The counts, of the last layer's output size.

    Raises:
        ConfigError: for layers that do not chain, an input size a layer refuses, or an output
            over the caps.

    Example:
        >>> k3 = TransposedConv.make(1, 1, kernel_size=3, stride=2, padding=1, output_padding=1)
        >>> stack_overlap([k3, k3], 2)[1].tolist()  # two k3 s2 stages: the patterns multiply
        [3, 9, 6, 9, 3, 6, 3, 3]
    """
    layers = _check_stack(layers)
    sizes = stack_sizes(layers, input_size)
    check_cells(sizes[-1])
    return outer(_stack_profiles(layers, sizes)[-1])


def stack_stage_maps(
    layers: Sequence[TransposedConv], input_size: int | Sequence[int]
) -> list[Counts]:
    """The overlap map after each layer of a stack (so a page can show the pattern compound)."""
    layers = _check_stack(layers)
    sizes = stack_sizes(layers, input_size)
    check_cells((sum(math.prod(s) for s in sizes[1:]),))
    return [outer(profiles) for profiles in _stack_profiles(layers, sizes)]


def phase_table(axis: Axis) -> tuple[tuple[int, ...], ...]:
    """For each output phase r in [0, s): the kernel taps j that serve positions o % s == r.

    Tap j reaches output o when (o + p - j*d) is a multiple of s (o counted from the first output
    pixel, away from the borders). Unequal tap counts across phases are the checkerboard.
    """
    axis_layer(axis)
    k, s, p, d = axis.kernel_size, axis.stride, axis.padding, axis.dilation
    phases = (np.arange(k, dtype=np.int64) * d - p) % s
    order = np.argsort(phases, kind="stable")
    bounds = np.searchsorted(phases[order], np.arange(s + 1))
    return tuple(tuple(int(j) for j in order[bounds[r] : bounds[r + 1]]) for r in range(s))


def _axis_pattern(axes: Sequence[Axis]) -> Counts:
    """Infinite-input counts of a per-axis stack over one period of prod(s): entry r is the count
    at every interior output position o with o % prod(s) == r. Built on the circle, O(period)."""
    pattern = np.ones(1, dtype=np.int64)
    for axis in axes:
        k, s, p, d = axis.kernel_size, axis.stride, axis.padding, axis.dilation
        length = len(pattern) * s
        if length > MAX_PERIOD:
            raise ConfigError(
                "stride",
                f"the overlap pattern of this stack repeats only every {length} pixels or more "
                f"(the product of the strides); statistics are computed for periods up to "
                f"{MAX_PERIOD}: use fewer layers or smaller strides",
            )
        # tap j puts input i at i*s + j*d - p: on the circle, taps[r] = #{j : (j*d - p) % L == r}
        taps = np.bincount((np.arange(k, dtype=np.int64) * d - p) % length, minlength=length)
        upsampled = np.zeros(length, dtype=np.int64)
        upsampled[::s] = pattern
        nz_taps, nz_in = np.flatnonzero(taps), np.flatnonzero(upsampled)
        if min(len(nz_taps), len(nz_in)) * length > _MAX_PATTERN_WORK:
            raise ConfigError(
                "kernel_size",
                f"the overlap pattern of this stack is too costly to compute (period {length}, "
                f"kernel {k}): use smaller kernels or strides",
            )
        result = np.zeros(length, dtype=np.int64)
        if len(nz_taps) <= len(nz_in):
            for r in nz_taps:
                result += taps[r] * np.roll(upsampled, r)
        else:
            for q in nz_in:
                result += upsampled[q] * np.roll(taps, q)
        pattern = result
    return pattern


def _smallest_period(pattern: np.ndarray) -> int:
    """Smallest P dividing len(pattern) with pattern == roll(pattern, P)."""
    length = len(pattern)
    divisors = sorted(
        {q for i in range(1, math.isqrt(length) + 1) if length % i == 0 for q in (i, length // i)}
    )
    for p in divisors:
        if np.array_equal(pattern, np.roll(pattern, p)):
            return p
    return length  # pragma: no cover - length itself always matches


def _axis_interior(axes: Sequence[Axis], n: int) -> tuple[int, int]:
    """Half-open interior [start, stop) along one axis of a stack for an input of n pixels;
    (0, 0) when no output pixel is free of border effects."""
    first, last = 0, n - 1
    size = n
    for axis in axes:
        size = axis_output(axis, size)
        k, s, p, d = axis.kernel_size, axis.stride, axis.padding, axis.dilation
        first = max(0, s * first + (k - 1) * d - p)
        last = min(size - 1, s * last - p)
        if first > last:
            return (0, 0)
    return (first, last + 1)


@dataclass(frozen=True)
class AxisOverlap:
    """The overlap numbers of one spatial axis (of one layer or a stack)."""

    axis: str  # "H", "W", "L" or "D"
    output: int  # output pixels along this axis
    interior: tuple[int, int]  # half-open [start, stop) of the interior; (0, 0) when empty
    period: int  # smallest period of the interior pattern, in output pixels
    pattern: tuple[int, ...]  # pattern[o % period] = count at interior position o
    phase_tables: tuple[tuple[tuple[int, ...], ...], ...]  # [layer][phase r] -> taps j

    @property
    def interior_max(self) -> int:
        return max(self.pattern)

    @property
    def interior_min(self) -> int:
        return min(self.pattern)

    @property
    def ratio(self) -> float:
        """Interior max/min along this axis; inf where some phase receives nothing."""
        low = self.interior_min
        return self.interior_max / low if low else math.inf


@dataclass(frozen=True)
class OverlapStats:
    """Numbers a user can quote about the overlap of a layer or stack for one input size.

    `interior_max`/`interior_min` are over the interior pattern (the counts far from every
    border); in nD they are the products of the per-axis ones, because the map is the outer
    product of the axes. `overlap_ratio` = max/min (1.0: even, no checkerboard; inf: some interior
    pixels receive no contribution at all).
    """

    input_size: tuple[int, ...]
    output_size: tuple[int, ...]
    axes: tuple[AxisOverlap, ...]

    @property
    def interior_max(self) -> int:
        return math.prod(a.interior_max for a in self.axes)

    @property
    def interior_min(self) -> int:
        return math.prod(a.interior_min for a in self.axes)

    @property
    def overlap_ratio(self) -> float:
        low = self.interior_min
        return self.interior_max / low if low else math.inf

    @property
    def even(self) -> bool:
        return self.interior_max == self.interior_min

    @property
    def period(self) -> tuple[int, ...]:
        return tuple(a.period for a in self.axes)

    @property
    def interior(self) -> tuple[tuple[int, int], ...]:
        return tuple(a.interior for a in self.axes)

    @property
    def has_interior(self) -> bool:
        """Whether this input is large enough for some output pixel to be free of border
        effects. The interior numbers are the layer's own either way: what it prints away from
        the borders of a large enough input."""
        return all(stop > start for start, stop in self.interior)

    @property
    def phase_tables(self) -> tuple[tuple[tuple[tuple[int, ...], ...], ...], ...]:
        """[layer][axis][phase] -> taps; for one layer use `phase_tables[0]`."""
        count = len(self.axes[0].phase_tables)
        return tuple(tuple(a.phase_tables[i] for a in self.axes) for i in range(count))

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe: the ratio is None where it is infinite (see `holes`); a pattern or phase
        table longer than 4096 entries is None (kept out of reports)."""
        ratio = self.overlap_ratio

        def listed(table: tuple) -> list | None:
            if len(table) > MAX_OVERLAP_SIDE or sum(map(len, table)) > MAX_OVERLAP_SIDE:
                return None
            return [{"phase": r, "taps": list(taps)} for r, taps in enumerate(table)]

        return {
            "input_size": list(self.input_size),
            "output_size": list(self.output_size),
            "interior_max": self.interior_max,
            "interior_min": self.interior_min,
            "overlap_ratio": None if math.isinf(ratio) else ratio,
            "has_interior": self.has_interior,
            "holes": self.interior_min == 0,
            "even": self.even,
            "period": list(self.period),
            "axes": [
                {
                    "axis": a.axis,
                    "output": a.output,
                    "interior": list(a.interior),
                    "period": a.period,
                    "pattern": list(a.pattern) if a.period <= MAX_OVERLAP_SIDE else None,
                    "interior_max": a.interior_max,
                    "interior_min": a.interior_min,
                    "phase_tables": [listed(table) for table in a.phase_tables],
                }
                for a in self.axes
            ],
        }


def overlap_stats(
    layers: TransposedConv | Sequence[TransposedConv], input_size: int | Sequence[int]
) -> OverlapStats:
    """Interior max/min, ratio, period and phase tables of one layer or a stack for an input.

    Needs no map: the pattern is built on one period and the interior by arithmetic, so it works
    for outputs of any size.

    Args:
        layers: one layer, or several applied one after another (as `stack_overlap`).
        input_size: the (first) layer's spatial input size: an int, or one per axis.

    Returns:
        An `OverlapStats`: interior max and min, `overlap_ratio`, period, interior, pattern and
        phase tables per axis; `as_dict()` for JSON.

    Raises:
        ConfigError: for layers that do not chain, an input size a layer refuses, or (stacks) a
            product of strides over 2^20.

    Example:
        >>> k3 = TransposedConv.make(1, 1, kernel_size=3, stride=2, padding=1, output_padding=1)
        >>> stats = overlap_stats(k3, 8)
        >>> stats.output_size, stats.interior_max, stats.interior_min, stats.period
        ((16, 16), 4, 1, (2, 2))
        >>> stats.axes[0].phase_tables[0]  # even outputs get tap 1, odd ones taps 0 and 2
        ((1,), (0, 2))
    """
    layers = _check_stack(layers)
    sizes = [input_tuple(layers[0], input_size)]
    for i, layer in enumerate(layers):
        try:
            sizes.append(output_size(layer, sizes[-1]))
        except ConfigError as e:
            if len(layers) == 1:
                raise
            raise ConfigError(e.parameter, f"layer {i + 1}: {e.message}") from None
    per_axis = []
    names = AXIS_NAMES[layers[0].ndim]
    for index, name in enumerate(names):
        axes = [layer.axes[index] for layer in layers]
        pattern = _axis_pattern(axes)
        period = _smallest_period(pattern)
        per_axis.append(
            AxisOverlap(
                axis=name,
                output=sizes[-1][index],
                interior=_axis_interior(axes, sizes[0][index]),
                period=period,
                pattern=tuple(int(v) for v in pattern[:period]),
                phase_tables=tuple(phase_table(a) for a in axes),
            )
        )
    return OverlapStats(sizes[0], sizes[-1], tuple(per_axis))


def overlap_ratio(layers: TransposedConv | Sequence[TransposedConv]) -> float:
    """Interior max/min overlap of a layer or stack (1.0 even; inf where pixels get nothing).

    A property of the layers alone: the counts far from every border, for any input size.

    Args:
        layers: one layer, or several applied one after another (as `stack_overlap`).

    Returns:
        max/min of the interior counts: 1.0 for even overlap (no checkerboard from the
        geometry), inf where some interior pixels receive no contribution at all.

    Raises:
        ConfigError: for layers that do not chain, or a product of strides over 2^20.

    Example:
        >>> k3 = TransposedConv.make(1, 1, kernel_size=3, stride=2, padding=1, output_padding=1)
        >>> k4 = TransposedConv.make(1, 1, kernel_size=4, stride=2, padding=1)
        >>> overlap_ratio(k3), overlap_ratio(k4), overlap_ratio([k3, k3])
        (4.0, 1.0, 9.0)
    """
    layers = _check_stack(layers)
    high = low = 1
    for index in range(layers[0].ndim):
        pattern = _axis_pattern([layer.axes[index] for layer in layers])
        high, low = high * int(pattern.max()), low * int(pattern.min())
    return high / low if low else math.inf


def overlap_summary(
    layer: TransposedConv, input_size: int | Sequence[int], max_cells: int | None = None
) -> dict[str, Any]:
    """JSON-safe overlap report of one layer, for the CLI and pages.

    Keys: `overlap` (the counts as nested lists: a list of lists in 2D; None where the map has more
    than `max_cells` cells or exceeds the map caps), `overlap_profiles` (per-axis counts, None
    beyond 4096 pixels per axis), `overlap_ratio` (interior max/min, None when infinite),
    `overlap_stats` (`OverlapStats.as_dict()`: period, interior, pattern, phase tables) and
    `overlap_note` (why a map was left out, else None).

    Args:
        layer: the layer.
        input_size: its spatial input size: an int for every axis, or one per axis.
        max_cells: list the map only up to this many cells (None: up to the map caps).

    Returns:
        The report, a dict of plain lists and numbers (keys above).

    Raises:
        ConfigError: for an input size the layer refuses, or a max_cells that is not an int >= 0.

    Example:
        >>> k3 = TransposedConv.make(1, 1, kernel_size=3, stride=2, padding=1, output_padding=1)
        >>> summary = overlap_summary(k3, 4, max_cells=10)
        >>> summary["overlap_ratio"], summary["overlap_profiles"][0]
        (4.0, [1, 2, 1, 2, 1, 2, 1, 1])
        >>> summary["overlap"], summary["overlap_note"]
        (None, 'overlap map has 64 cells (more than 10): only per-axis profiles')
    """
    layer = check_layer(layer)
    if max_cells is not None and (
        isinstance(max_cells, bool) or not isinstance(max_cells, int) or max_cells < 0
    ):
        raise ConfigError("max_cells", f"max_cells must be None or an int >= 0, got {max_cells!r}")
    stats = overlap_stats(layer, input_size)
    out = stats.output_size
    note = None
    profiles = None
    counts = None
    if max(out) > MAX_OVERLAP_SIDE:
        note = (
            f"output {' x '.join(map(str, out))} exceeds {MAX_OVERLAP_SIDE} pixels per axis: "
            f"counts not listed"
        )
    else:
        profiles = [
            _scatter(np.ones(n, dtype=np.int64), a)
            for n, a in zip(stats.input_size, layer.axes, strict=True)
        ]
        cells = math.prod(out)
        limit = MAX_OVERLAP_CELLS if max_cells is None else min(max_cells, MAX_OVERLAP_CELLS)
        if cells <= limit:
            counts = outer(profiles).tolist()
        else:
            note = f"overlap map has {cells} cells (more than {limit}): only per-axis profiles"
    stats_dict = stats.as_dict()
    return {
        "overlap": counts,
        "overlap_profiles": None if profiles is None else [p.tolist() for p in profiles],
        "overlap_ratio": stats_dict["overlap_ratio"],
        "overlap_stats": stats_dict,
        "overlap_note": note,
    }
