"""Every sensible replacement of a ConvTranspose2d: its geometry, costs, risks and code.

Two exact equivalents (their outputs equal the original's, borders included):
  * sub-pixel: one Conv2d at the input's resolution computes all s_h*s_w output phases, a pixel
    shuffle interleaves them, a crop trims the borders (Shi et al. 2016);
  * zero insertion: s - 1 zeros between input pixels, padding, a Conv2d with the flipped,
    regrouped kernel.
And the resize-convolutions (Odena, Dumoulin & Olah 2016): Upsample(s, nearest | bilinear |
bicubic) then a stride-1 Conv2d, for several kernel sizes, padded per axis so that the output
size equals torch's exactly, with the original's dilation and groups.

Plain Python (no torch): the app calls `list_replacements` on every widget change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from core import codegen
from core.errors import ConfigError
from core.layer import Axis, TransposedConv
from core.output_size import input_tuple, output_size
from core.solver import taps_per_phase

RESIZE_MODES = ("nearest", "bilinear", "bicubic")
METHODS = ("subpixel", "zero-insertion", *(f"resize-{m}" for m in RESIZE_MODES))
# Square conv kernels offered after the upsampling, besides each mode's "matched" size.
RESIZE_KERNELS = (2, 3, 4, 5)
# Largest stride for which resize-convolutions are offered: beyond it an upsampling spreads one
# pixel over so many that the fit and its generated code grow with the stride, for no real use.
MAX_RESIZE_SCALE = 32
BYTES_PER_VALUE = 4  # float32
BICUBIC_A = -0.75  # torch's cubic convolution coefficient


# ---------------------------------------------------------------------------------------------
# Upsampling taps


def _cubic(x: float) -> float:
    x = abs(x)
    a = BICUBIC_A
    if x <= 1:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    if x < 2:
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return 0.0


@lru_cache(maxsize=256)
def upsample_taps(mode: str, scale: int) -> tuple[int, tuple[float, ...]]:
    """How one interior input pixel i spreads over the upsampled pixels i*scale + a.

    Returns (a_first, weights): weights[m] is the weight of upsampled pixel i*scale + a_first + m
    (zero weights at either end trimmed). torch's interpolation with align_corners=False puts
    upsampled pixel u at input coordinate (u + 0.5)/scale - 0.5, so every mode is centred on
    a = (scale - 1)/2; nearest copies the pixel into a = 0 .. scale-1.
    """
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


# ---------------------------------------------------------------------------------------------
# Per-axis geometry


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


# ---------------------------------------------------------------------------------------------
# The replacement record


@dataclass(frozen=True)
class Replacement:
    """One way to replace the layer, for one input size (batch 1).

    params: learnable numbers of the replacement module (weights + biases).
    macs: multiply-adds of its convolutions for one input, counted as torch's FlopCounterMode
      counts them (/2): every tap of every computed output, zeros included; interpolation,
      padding and shuffles are not counted.
    peak_memory: bytes (float32) of the largest tensor its forward pass creates (intermediates
      and output; the input not counted).
    alignment_offset: per axis (H, W), in output pixels; see `alignment_offset`. 0 for exact.
    checkerboard_risk / checkerboard_reason: whether it can produce checkerboard artifacts and
      why, in one sentence.
    code: self-contained snippet binding the module to `layer`; weight_code: the same, followed
      by carrying the weights of an existing nn.ConvTranspose2d named `original` into it.
    """

    name: str
    method: str
    exact: bool
    params: int
    macs: int
    peak_memory: int
    alignment_offset: tuple[float, float]
    checkerboard_risk: bool
    checkerboard_reason: str
    even_overlap: bool
    output_size: tuple[int, int]
    kernel_size: tuple[int, int]  # of its Conv2d
    padding: tuple[int, int, int, int]  # (left, right, top, bottom) around its Conv2d's input
    code: str
    weight_code: str

    @property
    def aligned(self) -> bool:
        return all(o == 0 for o in self.alignment_offset)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict (tuples as lists)."""
        return {
            "name": self.name,
            "method": self.method,
            "exact": self.exact,
            "params": self.params,
            "macs": self.macs,
            "peak_memory": self.peak_memory,
            "alignment_offset": list(self.alignment_offset),
            "aligned": self.aligned,
            "checkerboard_risk": self.checkerboard_risk,
            "checkerboard_reason": self.checkerboard_reason,
            "even_overlap": self.even_overlap,
            "output_size": list(self.output_size),
            "kernel_size": list(self.kernel_size),
            "padding": list(self.padding),
            "code": self.code,
            "weight_code": self.weight_code,
        }


def _xy(values: Sequence[int]) -> str:
    return f"{values[0]}" if values[0] == values[1] else f"({values[0]}, {values[1]})"


def _exact_risk(layer: TransposedConv) -> tuple[bool, str, bool]:
    """(risk, reason, even_overlap) of anything that reproduces the original operator."""
    phases = [taps_per_phase(a) for a in layer.axes]
    even = all(len(set(c)) == 1 for c in phases)
    if all(s == 1 for s in layer.stride):
        return (
            False,
            (
                "No: with stride 1 on both axes this is an ordinary convolution, so every output "
                "pixel gets the same kernel taps."
            ),
            True,
        )
    if not even:
        counts = "; ".join(f"{name} {c}" for name, c in zip("HW", phases, strict=True))
        return (
            True,
            (
                f"Yes: it reproduces the original, whose kernel overlaps unevenly (taps per output "
                f"phase {counts}), so even uniform weights print a checkerboard."
            ),
            False,
        )
    n = math.prod(layer.stride)
    return (
        True,
        (
            f"Yes, if trained into it: the overlap is even, but each of the {n} output phases has "
            "its own weights, which can learn a checkerboard."
        ),
        True,
    )


def _resize_reason(mode: str) -> str:
    return (
        f"No: {mode} upsampling spreads every input pixel evenly before a stride-1 convolution, "
        "so every output phase sees the same kernel and a constant input stays constant away "
        "from the borders."
    )


def _weight_view(layer: TransposedConv) -> dict[str, int]:
    g = layer.groups
    kh, kw = layer.kernel_size
    return {
        "groups": g,
        "in_group": layer.in_channels // g,
        "out_group": layer.out_channels // g,
        "out": layer.out_channels,
        "kh": kh,
        "kw": kw,
    }


def _subpixel(
    layer: TransposedConv,
    sizes: tuple[int, int],
    out: tuple[int, int],
    risk: tuple[bool, str, bool],
    show: bool = True,
) -> Replacement:
    ax = [subpixel_axis(a) for a in layer.axes]
    s = layer.stride
    channels = layer.out_channels * s[0] * s[1]
    in_group = layer.in_channels // layer.groups
    kernel = (ax[0].kernel_size, ax[1].kernel_size)
    conv_out = [a.conv_output(n) for a, n in zip(ax, sizes, strict=True)]
    crop = (ax[1].crop_before, ax[1].crop_after, ax[0].crop_before, ax[0].crop_after)
    conv = codegen.conv2d_call(
        layer.in_channels,
        channels,
        kernel,
        (ax[0].conv_padding, ax[1].conv_padding),
        (1, 1),
        layer.groups,
        layer.bias,
    )
    code = codegen.subpixel_code(
        layer.torch_repr(),
        conv,
        s,
        crop,
        layer.in_channels,
        sizes if show else None,
        layer.out_channels,
        out if show else None,
    )
    weight_code = code + codegen.subpixel_weight_code(
        **_weight_view(layer),
        stride=s,
        dilation=layer.dilation,
        reach=(ax[0].reach, ax[1].reach),
        bias=layer.bias,
        sequential=s[0] == s[1] and not any(crop),
    )
    return Replacement(
        name=f"sub-pixel Conv2d {kernel[0]}x{kernel[1]}"
        + ("" if s == (1, 1) else f" + PixelShuffle({_xy(s)})"),
        method="subpixel",
        exact=True,
        params=channels * in_group * kernel[0] * kernel[1] + (channels if layer.bias else 0),
        macs=channels * in_group * kernel[0] * kernel[1] * conv_out[0] * conv_out[1],
        peak_memory=BYTES_PER_VALUE * channels * conv_out[0] * conv_out[1],
        alignment_offset=(0.0, 0.0),
        checkerboard_risk=risk[0],
        checkerboard_reason=risk[1],
        even_overlap=risk[2],
        output_size=out,
        kernel_size=kernel,
        padding=(ax[1].conv_padding,) * 2 + (ax[0].conv_padding,) * 2,
        code=code,
        weight_code=weight_code,
    )


def _zero_insertion(
    layer: TransposedConv,
    sizes: tuple[int, int],
    out: tuple[int, int],
    risk: tuple[bool, str, bool],
    show: bool = True,
) -> Replacement:
    ax = [zero_insertion_axis(a) for a in layer.axes]
    kh, kw = layer.kernel_size
    in_group = layer.in_channels // layer.groups
    extra = (ax[1].extra_before, ax[1].extra_after, ax[0].extra_before, ax[0].extra_after)
    inserted = [(n - 1) * s + 1 for n, s in zip(sizes, layer.stride, strict=True)]
    tensors = [layer.in_channels * inserted[0] * inserted[1], layer.out_channels * out[0] * out[1]]
    if any(extra):
        tensors.append(
            layer.in_channels
            * (inserted[0] + extra[2] + extra[3])
            * (inserted[1] + extra[0] + extra[1])
        )
    conv = codegen.conv2d_call(
        layer.in_channels,
        layer.out_channels,
        layer.kernel_size,
        (ax[0].conv_padding, ax[1].conv_padding),
        layer.dilation,
        layer.groups,
        layer.bias,
    )
    code = codegen.zero_insertion_code(
        layer.torch_repr(),
        conv,
        layer.stride,
        extra,
        layer.in_channels,
        sizes if show else None,
        layer.out_channels,
        out if show else None,
    )
    weight_code = code + codegen.zero_insertion_weight_code(**_weight_view(layer), bias=layer.bias)
    return Replacement(
        name=f"zero insertion + Conv2d {kh}x{kw}",
        method="zero-insertion",
        exact=True,
        params=layer.out_channels * in_group * kh * kw + (layer.out_channels if layer.bias else 0),
        macs=layer.out_channels * in_group * kh * kw * out[0] * out[1],
        peak_memory=BYTES_PER_VALUE * max(tensors),
        alignment_offset=(0.0, 0.0),
        checkerboard_risk=risk[0],
        checkerboard_reason=risk[1],
        even_overlap=risk[2],
        output_size=out,
        kernel_size=(kh, kw),
        padding=(
            ax[1].conv_padding + extra[0],
            ax[1].conv_padding + extra[1],
            ax[0].conv_padding + extra[2],
            ax[0].conv_padding + extra[3],
        ),
        code=code,
        weight_code=weight_code,
    )


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


def _resize(
    layer: TransposedConv,
    mode: str,
    kernel: tuple[int, int],
    sizes: tuple[int, int],
    out: tuple[int, int],
    show: bool = True,
) -> Replacement:
    geo = resize_geometry(layer, mode, kernel)
    s = layer.stride
    pads = (geo[1].pad_before, geo[1].pad_after, geo[0].pad_before, geo[0].pad_after)
    symmetric = pads[0] == pads[1] >= 0 and pads[2] == pads[3] >= 0
    up = (sizes[0] * s[0], sizes[1] * s[1])
    in_group = layer.in_channels // layer.groups
    tensors = [layer.in_channels * up[0] * up[1], layer.out_channels * out[0] * out[1]]
    if not symmetric:
        padded = (up[0] + pads[2] + pads[3]) * (up[1] + pads[0] + pads[1])
        tensors.append(layer.in_channels * padded)
    conv = codegen.conv2d_call(
        layer.in_channels,
        layer.out_channels,
        kernel,
        (pads[2], pads[0]) if symmetric else (0, 0),
        layer.dilation,
        layer.groups,
        layer.bias,
    )
    code = codegen.resize_code(
        layer.torch_repr(),
        mode,
        s,
        None if symmetric else pads,
        conv,
        layer.in_channels,
        sizes if show else None,
        layer.out_channels,
        out if show else None,
    )
    grids = [resize_grid(a, mode, g) for a, g in zip(layer.axes, geo, strict=True)]
    weight_code = code + codegen.resize_weight_code(
        **_weight_view(layer), dilation=layer.dilation, bias=layer.bias, grids=grids
    )
    return Replacement(
        name=f"{mode} x{_xy(s)} + Conv2d {kernel[0]}x{kernel[1]}",
        method=f"resize-{mode}",
        exact=False,
        params=layer.out_channels * in_group * kernel[0] * kernel[1]
        + (layer.out_channels if layer.bias else 0),
        macs=layer.out_channels * in_group * kernel[0] * kernel[1] * out[0] * out[1],
        peak_memory=BYTES_PER_VALUE * max(tensors),
        alignment_offset=(geo[0].offset, geo[1].offset),
        checkerboard_risk=False,
        checkerboard_reason=_resize_reason(mode),
        even_overlap=True,
        output_size=out,
        kernel_size=kernel,
        padding=pads,
        code=code,
        weight_code=weight_code,
    )


def _rank(r: Replacement) -> tuple:
    """Aligned first, then even overlap, no checkerboard risk, small kernel, symmetric padding."""
    misalignment = sum(abs(o) for o in r.alignment_offset)
    left, right, top, bottom = r.padding
    return (
        misalignment,
        not r.even_overlap,
        r.checkerboard_risk,
        r.kernel_size[0] * r.kernel_size[1],
        (left, top) != (right, bottom),
        METHODS.index(r.method),
        r.kernel_size,
    )


def _check_2d(layer: Any) -> TransposedConv:
    if any(cls.__name__.startswith("_ConvTransposeNd") for cls in type(layer).__mro__):
        layer = TransposedConv.from_module(layer)  # a torch module, read without importing torch
    if not isinstance(layer, TransposedConv):
        raise ConfigError(
            "layer",
            f"layer must be a core.TransposedConv (see TransposedConv.make) or an "
            f"nn.ConvTranspose2d, got {type(layer).__name__}",
        )
    if layer.ndim != 2:
        raise ConfigError(
            "ndim",
            f"replacements are computed for 2D layers (ConvTranspose2d) only; this layer "
            f"has {layer.ndim} spatial axes",
        )
    return layer


@lru_cache(maxsize=128)
def _cached(
    layer: TransposedConv, sizes: tuple[int, int], show: bool = True
) -> tuple[Replacement, ...]:
    out = output_size(layer, sizes)
    risk = _exact_risk(layer)
    found = [
        _subpixel(layer, sizes, out, risk, show),
        _zero_insertion(layer, sizes, out, risk, show),
    ]
    matched = tuple(matched_kernel(a) for a in layer.axes)
    if resize_note(layer) is None:
        for mode in RESIZE_MODES:
            kernels = dict.fromkeys([matched, *((k, k) for k in RESIZE_KERNELS)])
            found.extend(_resize(layer, mode, k, sizes, out, show) for k in kernels)
    return tuple(sorted(found, key=_rank))


def smallest_input(layer: TransposedConv) -> tuple[int, ...]:
    """The smallest input size, per axis, for which the layer's output is not empty."""
    return tuple(
        max(
            1, 1 - (a.dilation * (a.kernel_size - 1) + a.output_padding - 2 * a.padding) // a.stride
        )
        for a in layer.axes
    )


def best_replacement(
    layer: TransposedConv, method: str, input_size: int | Sequence[int] | None = None
) -> Replacement | None:
    """The best-ranked replacement of `method` for a 2D layer, or None where that method offers
    none (`resize_note` says why).

    Args:
        layer: a `TransposedConv` (2D) or an `nn.ConvTranspose2d`.
        method: one of METHODS.
        input_size: the layer's input size; None where it is not known: the geometry of a
            replacement does not depend on it, and its code then states no shapes (the costs and
            `output_size` of the record are those of the smallest valid input).

    Returns:
        The `Replacement` ranked first among those of `method`, or None.

    Example:
        >>> layer = TransposedConv.make(64, 32, 4, stride=2, padding=1)
        >>> best_replacement(layer, "resize-nearest").name
        'nearest x2 + Conv2d 3x3'
    """
    layer = _check_2d(layer)
    if method not in METHODS:
        raise ConfigError("method", f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if input_size is None:
        found = _cached(layer, smallest_input(layer), False)
    else:
        found = _cached(layer, input_tuple(layer, input_size))
    return next((r for r in found if r.method == method), None)


def resize_note(layer: TransposedConv) -> str | None:
    """Why `list_replacements` offers no resize-convolution for this 2D layer, or None."""
    if all(s == 1 for s in layer.stride):
        return "no resize-convolution: with stride 1 upsampling changes nothing"
    if max(layer.stride) > MAX_RESIZE_SCALE:
        return (
            f"no resize-convolution: they are offered for strides up to {MAX_RESIZE_SCALE}; "
            "the exact equivalents remain"
        )
    return None


def list_replacements(layer: TransposedConv, input_size: int | Sequence[int]) -> list[Replacement]:
    """Every sensible replacement of a 2D `layer` (a TransposedConv or an nn.ConvTranspose2d)
    for `input_size`, best first.

    Ranking: aligned (alignment offset 0) first, then even overlap and no checkerboard risk, then
    small conv kernels, then symmetric padding. Resize-convolutions are offered for nearest,
    bilinear and bicubic upsampling with square kernels 2..5 and the matched kernel
    (`matched_kernel`); none when every stride is 1 (upsampling by 1 changes nothing) or a
    stride exceeds MAX_RESIZE_SCALE (`resize_note` says which). Every
    entry's output size equals torch's for `input_size`. ConfigError for a 1D/3D layer or an
    input size torch refuses.
    """
    layer = _check_2d(layer)
    sizes = input_tuple(layer, input_size)
    return list(_cached(layer, sizes))


def original_costs(layer: TransposedConv, input_size: int | Sequence[int]) -> dict[str, int]:
    """params, macs and peak_memory of the original ConvTranspose2d, counted as for a Replacement
    (macs as FlopCounterMode: every input pixel times every tap)."""
    layer = _check_2d(layer)
    sizes = input_tuple(layer, input_size)
    out = output_size(layer, sizes)
    taps = layer.in_channels * (layer.out_channels // layer.groups) * math.prod(layer.kernel_size)
    return {
        "params": taps + (layer.out_channels if layer.bias else 0),
        "macs": taps * sizes[0] * sizes[1],
        "peak_memory": BYTES_PER_VALUE * layer.out_channels * out[0] * out[1],
    }
