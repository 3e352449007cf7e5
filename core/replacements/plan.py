"""Per-axis geometry of every replacement of a transposed convolution (no torch).

* sub-pixel: one Conv2d at the input's resolution computes all s_h*s_w output phases, a pixel
  shuffle interleaves them, a crop trims the borders (Shi et al. 2016);
* zero insertion: s - 1 zeros between input pixels, padding, a Conv2d with the flipped,
  regrouped kernel;
* resize-convolution (Odena, Dumoulin & Olah 2016): Upsample(s, nearest | bilinear | bicubic)
  then a stride-1 Conv2d, padded per axis so that the output size equals torch's exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from core.errors import ConfigError
from core.geometry.layer import Axis, TransposedConv

RESIZE_MODES = ("nearest", "bilinear", "bicubic")
# Square conv kernels offered after the upsampling, besides each mode's "matched" size.
RESIZE_KERNELS = (2, 3, 4, 5)
# Largest stride for which resize-convolutions are offered: beyond it an upsampling spreads one
# pixel over so many that the fit and its generated code grow with the stride, for no real use.
MAX_RESIZE_SCALE = 32
BICUBIC_A = -0.75  # torch's cubic convolution coefficient


def _cubic(x: float) -> float:
    x = abs(x)
    a = BICUBIC_A
    if x <= 1:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    if x < 2:
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return 0.0


# `upsample_taps` keeps every (mode, scale) it may be asked for: 3 modes x MAX_RESIZE_SCALE
# scales = 96 entries, 117 KB in all (`deep_sizeof`; the largest, bicubic x32, 4.2 KB), bounded
# by UPSAMPLE_TAPS_BYTES (tests/test_bounded_cache.py sums them all).
UPSAMPLE_TAPS_BYTES = 2**17


@lru_cache(maxsize=len(RESIZE_MODES) * MAX_RESIZE_SCALE)
def upsample_taps(mode: str, scale: int) -> tuple[int, tuple[float, ...]]:
    """How one interior input pixel i spreads over the upsampled pixels i*scale + a.

    Returns (a_first, weights): weights[m] is the weight of upsampled pixel i*scale + a_first + m
    (zero weights at either end trimmed). torch's interpolation with align_corners=False puts
    upsampled pixel u at input coordinate (u + 0.5)/scale - 0.5, so every mode is centred on
    a = (scale - 1)/2; nearest copies the pixel into a = 0 .. scale-1.

    Args:
        mode: one of RESIZE_MODES.
        scale: the upsampling factor, 1 to MAX_RESIZE_SCALE.

    Returns:
        (a_first, weights) as above.

    Raises:
        ConfigError: for another mode or scale (which also keeps the cache bounded).
    """
    if mode not in RESIZE_MODES:
        raise ConfigError("mode", f"mode must be one of {', '.join(RESIZE_MODES)}, got {mode!r}")
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= MAX_RESIZE_SCALE:
        raise ConfigError(
            "scale", f"scale must be an integer from 1 to {MAX_RESIZE_SCALE}, got {scale!r}"
        )
    if mode == "nearest":
        return 0, (1.0,) * scale
    radius = {"bilinear": 1, "bicubic": 2}[mode]
    centre = (scale - 1) / 2
    first = math.floor(centre - radius * scale)
    weights = []
    for a in range(first, math.ceil(centre + radius * scale) + 1):
        x = (a - centre) / scale
        weights.append(max(0.0, 1 - abs(x)) if mode == "bilinear" else _cubic(x))
    lo = next(i for i, w in enumerate(weights) if w != 0)
    hi = max(i for i, w in enumerate(weights) if w != 0)
    return first + lo, tuple(weights[lo : hi + 1])


@dataclass(frozen=True)
class ResizeAxis:
    """One axis of Upsample(scale) -> pad(before, after) -> Conv1d-like(kernel, dilation).

    `offset` is the alignment offset in output pixels (see `alignment_offset`); a negative
    pad crops.
    """

    scale: int
    kernel_size: int
    dilation: int
    pad_before: int
    pad_after: int
    offset: float


def alignment_offset(axis: Axis, kernel_size: int, pad_before: int) -> float:
    """Sub-pixel misalignment, in output pixels, of a resize-conv against the transposed conv.

    Definition: for an interior input pixel i, the centre of its footprint in the output (the
    centroid of the impulse response when every weight is 1) is i*s + c; c is -p + d(k-1)/2 for
    the transposed convolution and (s-1)/2 + pad_before - d(k'-1)/2 for Upsample(s) (nearest,
    bilinear or bicubic, all centred on (s-1)/2 with align_corners=False) followed by a Conv2d
    with kernel k', dilation d and pad_before. The offset is c_replacement - c_original, the
    same for every i: equivalently s times the difference of the continuous input coordinate on
    which each output pixel's receptive field is centred. 0 means the grids line up; +0.5 means
    the replacement's content sits half an output pixel further down (or right).
    """
    s, p, k, d = axis.stride, axis.padding, axis.kernel_size, axis.dilation
    return (s - 1) / 2 + pad_before - d * (kernel_size - 1) / 2 + p - d * (k - 1) / 2


def resize_axis(axis: Axis, kernel_size: int) -> ResizeAxis:
    """The padding that makes Upsample(s) + conv(k', dilation d) exactly torch's output size.

    Output of the replacement: s*n + pad_before + pad_after - d(k'-1); of the original:
    (n-1)s - 2p + d(k-1) + op + 1. So pad_before + pad_after = d(k-1) + d(k'-1) - s - 2p + op + 1
    for every n. The split is the one with the smallest alignment offset (ties: symmetric, then
    the smaller pad before).
    """
    s, p, k, op, d = (
        axis.stride,
        axis.padding,
        axis.kernel_size,
        axis.output_padding,
        axis.dilation,
    )
    total = d * (k - 1) + d * (kernel_size - 1) - s - 2 * p + op + 1
    ideal = d * (kernel_size - 1) / 2 + d * (k - 1) / 2 - p - (s - 1) / 2
    best = min(
        {math.floor(ideal), math.ceil(ideal)},
        key=lambda before: (abs(before - ideal), before != total - before, before),
    )
    return ResizeAxis(
        s, kernel_size, d, best, total - best, alignment_offset(axis, kernel_size, best)
    )


def matched_kernel(axis: Axis) -> int:
    """The conv kernel k' of the resize-conv that *is* a transposed convolution of the original's
    footprint: nearest Upsample(s) + conv(k', dilation d) reaches d(k'-1) + s output pixels per
    input pixel, the original d(k-1) + 1, so k' = k - (s-1)/d rounded up (k - s + 1 for d = 1),
    at least 1. The same k' serves bilinear and bicubic (their wider taps only add footprint).
    """
    span = axis.dilation * (axis.kernel_size - 1) + 1
    return max(1, -((axis.stride - span) // axis.dilation) + 1)


@dataclass(frozen=True)
class ResizeGrid:
    """Where the two operators of one axis put an input pixel's effective kernel.

    On an unbounded grid, input pixel i reaches output i*s + delta through the original with
    weight w[j], delta = j*d - p, and through the resize-conv with weight
    sum_j' matrix[delta - lo][j'] * w'[j']: the upsampling spread (`upsample_taps`) shifted by
    pad_before - j'*d'. Rows lo .. lo + rows - 1 cover every delta either operator reaches; the
    original's taps start at row `start` (step d), the spread of conv tap 0 at row `first`.
    """

    lo: int
    rows: int
    start: int
    first: int
    spread: tuple[float, ...]
    kernel_size: int
    dilation: int


def resize_grid(axis: Axis, mode: str, geometry: ResizeAxis) -> ResizeGrid:
    a_first, spread = upsample_taps(mode, geometry.scale)
    kp, dp, before = geometry.kernel_size, geometry.dilation, geometry.pad_before
    lo = min(-axis.padding, a_first + before - dp * (kp - 1))
    hi = max(
        axis.dilation * (axis.kernel_size - 1) - axis.padding, a_first + len(spread) - 1 + before
    )
    return ResizeGrid(lo, hi - lo + 1, -axis.padding - lo, a_first + before - lo, spread, kp, dp)


def resize_matrix(grid: ResizeGrid) -> list[list[float]]:
    """matrix[row][j']: the weight with which conv tap j' carries an input pixel to row `row`."""
    matrix = [[0.0] * grid.kernel_size for _ in range(grid.rows)]
    for jp in range(grid.kernel_size):
        for m, w in enumerate(grid.spread):
            matrix[grid.first + m - jp * grid.dilation][jp] += w
    return matrix


@dataclass(frozen=True)
class SubPixelAxis:
    """One axis of the sub-pixel equivalent.

    Tap j of the original lands j*d output pixels after its input pixel's i*s - p, i.e. in output
    phase (j*d) mod s, floor(j*d / s) input pixels later; the conv kernel holds tap j at
    position `reach - floor(j*d / s)` of phase (j*d) mod s. The conv pads `conv_padding` on both
    sides, the shuffled result is `crop_before`/`crop_after` pixels too long at either end.
    """

    stride: int
    kernel_size: int  # reach + 1
    reach: int  # floor(d(k-1) / s)
    conv_padding: int
    crop_before: int
    crop_after: int

    def conv_output(self, n: int) -> int:
        return n + 2 * self.conv_padding - self.reach


def subpixel_axis(axis: Axis) -> SubPixelAxis:
    s, p, k, op, d = (
        axis.stride,
        axis.padding,
        axis.kernel_size,
        axis.output_padding,
        axis.dilation,
    )
    reach = d * (k - 1) // s
    # Conv outputs needed: from floor(p/s) to ceil((p + out)/s) - 1, in phase-pixel units.
    pad_left = reach - p // s
    pad_right = -((p - d * (k - 1) - op - 1) // s) - 1
    pad = max(0, pad_left, pad_right)
    before = p + (pad - reach) * s
    after = (pad + 1) * s + p - d * (k - 1) - op - 1
    return SubPixelAxis(s, reach + 1, reach, pad, before, after)


@dataclass(frozen=True)
class ZeroInsertionAxis:
    """One axis of the zero-insertion equivalent: (n-1)s + 1 samples after inserting zeros, then
    d(k-1) - p before and d(k-1) - p + op after; the symmetric non-negative part is the conv's
    own padding, the rest (`extra_*`, negative = crop) a separate pad."""

    conv_padding: int
    extra_before: int
    extra_after: int


def zero_insertion_axis(axis: Axis) -> ZeroInsertionAxis:
    before = axis.dilation * (axis.kernel_size - 1) - axis.padding
    after = before + axis.output_padding
    common = max(0, min(before, after))
    return ZeroInsertionAxis(common, before - common, after - common)


def resize_note(layer: TransposedConv) -> str | None:
    """Why no resize-convolution is offered for this 2D layer, or None.

    Args:
        layer: a 2D layer.

    Returns:
        The reason (every stride 1, or a stride beyond MAX_RESIZE_SCALE), or None.
    """
    if all(s == 1 for s in layer.stride):
        return "no resize-convolution: with stride 1 upsampling changes nothing"
    if max(layer.stride) > MAX_RESIZE_SCALE:
        return (
            f"no resize-convolution: they are offered for strides up to {MAX_RESIZE_SCALE}; "
            "the exact equivalents remain"
        )
    return None


def resize_geometry(
    layer: TransposedConv, mode: str, kernel_size: Sequence[int] | None = None
) -> tuple[ResizeAxis, ResizeAxis]:
    """Per-axis geometry (H, W) of the resize-conv with conv kernel `kernel_size` (default: the
    mode's matched size, see `matched_kernel`)."""
    if mode not in RESIZE_MODES:
        raise ConfigError("mode", f"mode must be one of {', '.join(RESIZE_MODES)}, got {mode!r}")
    if max(layer.stride) > MAX_RESIZE_SCALE:
        raise ConfigError(
            "stride",
            f"stride {max(layer.stride)} is beyond the resize-convolutions offered (strides up to "
            f"{MAX_RESIZE_SCALE}): use the subpixel or zero-insertion equivalent",
        )
    if kernel_size is None:
        kernel_size = tuple(matched_kernel(a) for a in layer.axes)
    return tuple(resize_axis(a, k) for a, k in zip(layer.axes, kernel_size, strict=True))
