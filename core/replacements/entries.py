"""Each replacement method's catalog entries: the `Replacement` records its builder makes for
one layer and input size, with geometry, costs, risks and code.

A method's record in `core.replacements.registry` names its builder here: `subpixel_entries`,
`zero_insertion_entries`, `resize_entries`. `core.replacements.catalog` gathers and ranks what
they make. Plain Python (no torch).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.geometry.layer import TransposedConv
from core.geometry.phases import taps_per_phase
from core.replacements import codegen
from core.replacements.plan import (
    RESIZE_KERNELS,
    matched_kernel,
    resize_geometry,
    resize_grid,
    resize_note,
    subpixel_axis,
    zero_insertion_axis,
)

if TYPE_CHECKING:  # the registry imports this module: its record type is for annotations only
    from core.replacements.registry import Method

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


def subpixel_entries(
    method: Method, layer: TransposedConv, sizes: tuple[int, int], out: tuple[int, int], show: bool
) -> tuple[Replacement, ...]:
    """The sub-pixel equivalent: one Conv2d at the input's resolution, a pixel shuffle, a crop.

    Args:
        method: its registry record (name, label, exactness).
        layer: a 2D layer.
        sizes: the input size (H, W) the costs are counted for.
        out: the layer's output size for `sizes`.
        show: whether the code states the shapes (False where the input size is not known).

    Returns:
        One entry.
    """
    risk = _exact_risk(layer)
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
    entry = Replacement(
        name=f"{method.label} Conv2d {kernel[0]}x{kernel[1]}"
        + ("" if s == (1, 1) else f" + PixelShuffle({_xy(s)})"),
        method=method.name,
        exact=method.exact,
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
    return (entry,)


def zero_insertion_entries(
    method: Method, layer: TransposedConv, sizes: tuple[int, int], out: tuple[int, int], show: bool
) -> tuple[Replacement, ...]:
    """The zero-insertion equivalent: zeros between the input pixels, a pad, a Conv2d.

    Args:
        method: its registry record (name, label, exactness).
        layer: a 2D layer.
        sizes: the input size (H, W) the costs are counted for.
        out: the layer's output size for `sizes`.
        show: whether the code states the shapes (False where the input size is not known).

    Returns:
        One entry.
    """
    risk = _exact_risk(layer)
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
    entry = Replacement(
        name=f"{method.label} + Conv2d {kh}x{kw}",
        method=method.name,
        exact=method.exact,
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
    return (entry,)


def resize_entries(
    method: Method, layer: TransposedConv, sizes: tuple[int, int], out: tuple[int, int], show: bool
) -> tuple[Replacement, ...]:
    """The resize-convolutions of `method.resize_mode`: Upsample(stride) + [ZeroPad2d] + Conv2d,
    with the matched kernel (`matched_kernel`) and the square kernels RESIZE_KERNELS; none where
    `resize_note` says why.

    Args:
        method: its registry record (name, label, resize mode, exactness).
        layer: a 2D layer.
        sizes: the input size (H, W) the costs are counted for.
        out: the layer's output size for `sizes`.
        show: whether the code states the shapes (False where the input size is not known).

    Returns:
        One entry per distinct kernel, or none.
    """
    if resize_note(layer) is not None:
        return ()
    matched = tuple(matched_kernel(a) for a in layer.axes)
    kernels = dict.fromkeys([matched, *((k, k) for k in RESIZE_KERNELS)])
    return tuple(_resize(method, layer, k, sizes, out, show) for k in kernels)


def _resize(
    method: Method,
    layer: TransposedConv,
    kernel: tuple[int, int],
    sizes: tuple[int, int],
    out: tuple[int, int],
    show: bool,
) -> Replacement:
    mode = method.resize_mode  # one of plan.RESIZE_MODES (tests/test_registry.py)
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
        name=f"{method.label} x{_xy(s)} + Conv2d {kernel[0]}x{kernel[1]}",
        method=method.name,
        exact=method.exact,
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
