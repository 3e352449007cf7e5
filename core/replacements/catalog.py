"""Every sensible replacement of a ConvTranspose2d for one input size: geometry, costs, risks, code.

`list_replacements(layer, input_size)` is what the designer table shows, best first;
`best_replacement(layer, method)` the first of one method. Plain Python (no torch): the app
calls it on every widget change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from core.errors import ConfigError
from core.geometry.layer import TransposedConv
from core.geometry.output_size import input_tuple, output_size
from core.geometry.phases import taps_per_phase
from core.replacements import codegen
from core.replacements.plan import (
    MAX_RESIZE_SCALE,
    RESIZE_KERNELS,
    RESIZE_MODES,
    matched_kernel,
    resize_geometry,
    resize_grid,
    subpixel_axis,
    zero_insertion_axis,
)
from core.replacements.registry import METHODS

BYTES_PER_VALUE = 4  # float32


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
