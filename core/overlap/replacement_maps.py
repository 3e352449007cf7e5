"""Overlap maps of the replacements, each built the way the replacement runs.

The exact equivalents (zero insertion, sub-pixel) give the layer's own map; a resize-convolution
(Upsample + Conv) gives an even map in the interior. Each method's record in
`core.replacements.registry` names its map here. numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.geometry.layer import Axis, TransposedConv, as_tuple
from core.geometry.output_size import AXIS_NAMES
from core.overlap.counts import (
    Counts,
    axis_layer,
    check_cells,
    check_layer,
    check_side,
    ones_correlate,
    outer,
    overlap_map,
    pad_or_crop,
    stack_sizes,
)
from core.replacements import registry
from core.replacements.plan import matched_kernel, resize_axis


def zero_insertion_profile(axis: Axis, n: int) -> Counts:
    """Counts of the exact equivalent 'zero insertion + Conv' along one axis, built as it runs:
    s - 1 zeros between inputs, pad d(k-1) - p before and d(k-1) - p + op after (negative: crop),
    then an all-ones dilated kernel. Identical to `overlap_profile(axis, n)`."""
    layer = axis_layer(axis)
    sizes = stack_sizes([layer], n)
    k, s, p, op, d = astuple(axis)
    dilated = np.zeros((n - 1) * s + 1, dtype=np.int64)
    dilated[::s] = 1
    padded = pad_or_crop(dilated, d * (k - 1) - p, d * (k - 1) - p + op)
    return ones_correlate(padded, k, d, sizes[-1][0])


def subpixel_profile(axis: Axis, n: int) -> Counts:
    """Counts of the exact equivalent 'Conv at input resolution + PixelShuffle' along one axis.

    Output position o sits at q = o + p before the crop; phase q % s is a small convolution at the
    input's resolution with only the taps j*d congruent to it mod s (tap j reads input
    q//s - (j*d - phase)//s); the phases are interleaved, then cropped. Identical to
    `overlap_profile(axis, n)`.
    """
    layer = axis_layer(axis)
    out = stack_sizes([layer], n)[-1][0]
    k, s, p, d = axis.kernel_size, axis.stride, axis.padding, axis.dilation
    q = np.arange(p, p + out)
    phase, t = q % s, q // s
    counts = np.zeros(out, dtype=np.int64)
    taps = np.arange(k, dtype=np.int64) * d
    for r in np.unique(phase):
        offsets = np.sort((taps[taps % s == r] - r) // s)
        where = phase == r
        # inputs t - offset must lie in [0, n): offsets in (t - n, t]
        counts[where] = np.searchsorted(offsets, t[where], "right") - np.searchsorted(
            offsets, t[where] - n, "right"
        )
    return counts


@dataclass(frozen=True)
class ResizeConv:
    """Upsample(scale_factor) + pad/crop (before, after per axis) + Conv(kernel_size, dilation).

    Output size per axis: s*n + before + after - d*(k - 1). Any interpolation that keeps a
    constant image constant (nearest, bilinear, bicubic) gives the same overlap counts.
    """

    scale_factor: tuple[int, ...]
    kernel_size: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]  # (before, after) per axis; negative crops
    dilation: tuple[int, ...]

    @classmethod
    def make(
        cls,
        scale_factor: int | Sequence[int],
        kernel_size: int | Sequence[int],
        padding: int | Sequence[int] | Sequence[tuple[int, int]] = 0,
        dilation: int | Sequence[int] = 1,
        ndim: int = 2,
    ) -> ResizeConv:
        """Validated spec; padding is an int, one int per axis (symmetric) or (before, after)
        pairs per axis."""
        if ndim not in (1, 2, 3):
            raise ConfigError("ndim", f"ndim must be 1, 2 or 3, got {ndim!r}")
        scale = as_tuple("scale_factor", scale_factor, ndim)
        kernel = as_tuple("kernel_size", kernel_size, ndim)
        dil = as_tuple("dilation", dilation, ndim)
        for name, values in (("scale_factor", scale), ("kernel_size", kernel), ("dilation", dil)):
            if min(values) < 1:
                raise ConfigError(name, f"{name} must be at least 1 on every axis, got {values}")
        if (
            isinstance(padding, Sequence)
            and not isinstance(padding, (str, bytes))
            and any(isinstance(v, Sequence) for v in padding)
        ):
            if len(padding) != ndim or any(
                not isinstance(v, Sequence) or len(v) != 2 for v in padding
            ):
                raise ConfigError(
                    "padding",
                    f"padding pairs must be {ndim} (before, after) pairs, got {padding!r}",
                )
            pads = tuple(
                (as_tuple("padding", v[0], 1)[0], as_tuple("padding", v[1], 1)[0]) for v in padding
            )
        else:
            pads = tuple((v, v) for v in as_tuple("padding", padding, ndim))
        return cls(scale, kernel, pads, dil)

    @property
    def ndim(self) -> int:
        return len(self.scale_factor)

    def output_size(self, input_size: int | Sequence[int]) -> tuple[int, ...]:
        """Spatial output size for `input_size`; ConfigError where nothing would be left."""
        sizes = as_tuple("input_size", input_size, self.ndim)
        out = []
        for n, s, k, (before, after), d, name in zip(
            sizes,
            self.scale_factor,
            self.kernel_size,
            self.padding,
            self.dilation,
            AXIS_NAMES[self.ndim],
            strict=True,
        ):
            if n < 1:
                raise ConfigError("input_size", f"input_size must be at least 1, got {n}")
            if s * n + min(before, 0) + min(after, 0) < 1:
                raise ConfigError(
                    "padding",
                    f"padding {(before, after)} crops all {s * n} upsampled pixels along {name} "
                    f"(F.pad crops before it pads): crop less",
                )
            o = s * n + before + after - d * (k - 1)
            if o < 1:
                raise ConfigError(
                    "padding",
                    f"the resize-convolution's output along {name} would be {o}: crop less or "
                    f"use a smaller kernel_size",
                )
            out.append(o)
        return tuple(out)


def matching_resize_conv(
    layer: TransposedConv, kernel_size: int | Sequence[int] | None = None
) -> ResizeConv:
    """Upsample(s) + Conv(k') with the padding that gives exactly the layer's output size.

    The geometry is `core.replacements`' (the same resize-conv the designer lists): by default
    the matched kernel k' (`matched_kernel`), the layer's dilation carried over, and the padding
    total d(k - 1) + d(k' - 1) - s - 2p + op + 1 split for the best grid alignment (negative:
    crop), so the overlap page and the replacement table always show the same layer.
    """
    layer = check_layer(layer)
    if max(layer.stride) == 1:
        raise ConfigError(
            "stride",
            "with stride 1 on every axis there is nothing to upsample, so no resize-convolution "
            "replaces this layer: it is an ordinary convolution (use a stride of 2 or more)",
        )
    if kernel_size is None:
        kernel = tuple(matched_kernel(a) for a in layer.axes)
    else:
        kernel = as_tuple("kernel_size", kernel_size, layer.ndim)
        if min(kernel) < 1:
            raise ConfigError("kernel_size", f"kernel_size must be at least 1, got {kernel}")
    axes = [resize_axis(a, k) for a, k in zip(layer.axes, kernel, strict=True)]
    pads = tuple((g.pad_before, g.pad_after) for g in axes)
    return ResizeConv(layer.stride, kernel, pads, layer.dilation)


def resize_conv_profile(
    n: int, scale: int, kernel_size: int, padding: tuple[int, int] = (0, 0), dilation: int = 1
) -> Counts:
    """Counts of Upsample(scale) + pad + Conv(kernel_size) along one axis: how many conv taps land
    on the upsampled image at each output position. Constant (= kernel_size) in the interior."""
    spec = ResizeConv.make(scale, kernel_size, [padding], dilation, ndim=1)
    out = spec.output_size(n)[0]
    check_side(out, "the axis")
    upsampled = np.ones(n * scale, dtype=np.int64)
    return ones_correlate(pad_or_crop(upsampled, *padding), kernel_size, dilation, out)


def resize_conv_overlap(spec: ResizeConv, input_size: int | Sequence[int]) -> Counts:
    """Overlap counts of a resize-convolution (outer product of `resize_conv_profile`s)."""
    if not isinstance(spec, ResizeConv):
        raise ConfigError("spec", f"spec must be a ResizeConv, got {type(spec).__name__}")
    out = spec.output_size(input_size)
    sizes = as_tuple("input_size", input_size, spec.ndim)
    for o, name in zip(out, AXIS_NAMES[spec.ndim], strict=True):
        check_side(o, name)
    check_cells(out)
    return outer(
        [
            resize_conv_profile(n, s, k, pad, d)
            for n, s, k, pad, d in zip(
                sizes, spec.scale_factor, spec.kernel_size, spec.padding, spec.dilation, strict=True
            )
        ]
    )


def zero_insertion_overlap(
    layer: TransposedConv,
    input_size: int | Sequence[int],
    kernel_size: int | Sequence[int] | None = None,
) -> Counts:
    """Overlap map of the zero-insertion + Conv equivalent, built as it runs (= the layer's).

    Args:
        layer: the layer replaced.
        input_size: its input size.
        kernel_size: not used: the equivalent's kernel is the layer's (the argument every
            method's map takes, see `replacement_overlap`).

    Returns:
        The counts, of the layer's output size.
    """
    return _replacement_map(layer, input_size, zero_insertion_profile)


def subpixel_overlap(
    layer: TransposedConv,
    input_size: int | Sequence[int],
    kernel_size: int | Sequence[int] | None = None,
) -> Counts:
    """Overlap map of the sub-pixel (Conv + PixelShuffle) equivalent; equals the layer's.

    Args:
        layer: the layer replaced.
        input_size: its input size.
        kernel_size: not used: the equivalent's kernel follows from the layer (the argument
            every method's map takes, see `replacement_overlap`).

    Returns:
        The counts, of the layer's output size.
    """
    return _replacement_map(layer, input_size, subpixel_profile)


def resize_overlap(
    layer: TransposedConv,
    input_size: int | Sequence[int],
    kernel_size: int | Sequence[int] | None = None,
) -> Counts:
    """Overlap map of the resize-convolution that replaces `layer` (any interpolation mode: all
    keep a constant image constant, so they count alike).

    Args:
        layer: the layer replaced.
        input_size: its input size.
        kernel_size: the conv kernel (None: the matched kernel, see `matching_resize_conv`).

    Returns:
        The counts, of the layer's output size; even in the interior.
    """
    return resize_conv_overlap(matching_resize_conv(layer, kernel_size), input_size)


def _replacement_map(layer: TransposedConv, input_size: Any, profile: Any) -> Counts:
    layer = check_layer(layer)
    sizes = stack_sizes([layer], input_size)
    check_cells(sizes[-1])
    return outer([profile(a, n) for a, n in zip(layer.axes, sizes[0], strict=True)])


def replacement_overlap(
    method: str,
    layer: TransposedConv,
    input_size: int | Sequence[int],
    kernel_size: int | Sequence[int] | None = None,
) -> Counts:
    """Overlap map of one replacement of `layer`, built as its record in
    `core.replacements.registry` says.

    Args:
        method: one of core.replacements.registry.METHODS.
        layer: the layer replaced.
        input_size: its input size.
        kernel_size: the conv kernel of a resize method (None: `matching_resize_conv`'s); the
            exact methods' maps follow the layer.

    Returns:
        The counts, of the layer's output size: the layer's own map for an exact method, an even
        interior for a resize method.
    """
    return registry.method(method).overlap_map(layer, input_size, kernel_size)


def replacement_overlaps(
    layer: TransposedConv,
    input_size: int | Sequence[int],
    kernel_size: int | Sequence[int] | None = None,
) -> dict[str, Counts]:
    """The layer's map ("conv-transpose") and every replacement's, for side-by-side display.

    Args:
        layer: the layer.
        input_size: its input size.
        kernel_size: the resize methods' conv kernel (None: the matched kernel).

    Returns:
        The maps by name: "conv-transpose", then the registry's methods in order.
    """
    maps = {"conv-transpose": overlap_map(layer, input_size)}
    for method in registry.RECORDS:
        maps[method.name] = method.overlap_map(layer, input_size, kernel_size)
    return maps
