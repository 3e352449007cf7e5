"""Every sensible replacement of a ConvTranspose2d for one input size: geometry, costs, risks, code.

`list_replacements(layer, input_size)` is what the designer table shows, best first;
`best_replacement(layer, method)` the first of one method. Each method's entries come from its
record in `core.replacements.registry` (the builders are in `core.replacements.entries`); here
they are gathered and ranked. Plain Python (no torch): the app calls it on every widget change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from core.bounded_cache import memoize
from core.errors import ConfigError
from core.geometry.layer import TransposedConv
from core.geometry.output_size import input_tuple, output_size
from core.replacements import registry
from core.replacements.entries import BYTES_PER_VALUE, Replacement


def _rank(r: Replacement) -> tuple:
    """Aligned first, then even overlap, no checkerboard risk, small kernel, symmetric padding,
    then the registry's order of the methods."""
    misalignment = sum(abs(o) for o in r.alignment_offset)
    left, right, top, bottom = r.padding
    return (
        misalignment,
        not r.even_overlap,
        r.checkerboard_risk,
        r.kernel_size[0] * r.kernel_size[1],
        (left, top) != (right, bottom),
        registry.METHODS.index(r.method),
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


# The ranked entries per (layer, input size), shared by every caller, bounded by bytes
# (`deep_sizeof`): one layer's entries hold 50-100 KB (their code texts), so about a hundred
# layers' worth stay, least recently used out first.
CATALOG_CACHE_BYTES = 8 * 2**20


@memoize(CATALOG_CACHE_BYTES)
def _cached(
    layer: TransposedConv, sizes: tuple[int, int], show: bool = True
) -> tuple[Replacement, ...]:
    out = output_size(layer, sizes)
    found = [entry for m in registry.RECORDS for entry in m.entries(layer, sizes, out, show)]
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
    none (`core.replacements.plan.resize_note` says why).

    Args:
        layer: a `TransposedConv` (2D) or an `nn.ConvTranspose2d`.
        method: one of core.replacements.registry.METHODS.
        input_size: the layer's input size; None where it is not known: the geometry of a
            replacement does not depend on it, and its code then states no shapes (the costs and
            `output_size` of the record are those of the smallest valid input).

    Returns:
        The `Replacement` ranked first among those of `method`, or None.

    Raises:
        ConfigError: for a 1D/3D layer, an unknown method or an input size torch refuses.

    Example:
        >>> layer = TransposedConv.make(64, 32, 4, stride=2, padding=1)
        >>> best_replacement(layer, "resize-nearest").name
        'nearest x2 + Conv2d 3x3'
    """
    layer = _check_2d(layer)
    registry.method(method)  # ConfigError for an unknown method
    if input_size is None:
        found = _cached(layer, smallest_input(layer), False)
    else:
        found = _cached(layer, input_tuple(layer, input_size))
    return next((r for r in found if r.method == method), None)


def list_replacements(layer: TransposedConv, input_size: int | Sequence[int]) -> list[Replacement]:
    """Every sensible replacement of a 2D `layer` (a TransposedConv or an nn.ConvTranspose2d)
    for `input_size`, best first.

    Ranking: aligned (alignment offset 0) first, then even overlap and no checkerboard risk, then
    small conv kernels, then symmetric padding, then the registry's method order. Every method of
    `core.replacements.registry` adds its entries: the exact equivalents one each, each resize
    method its upsampling with square kernels 2..5 and the matched kernel (`matched_kernel`), none
    when every stride is 1 (upsampling by 1 changes nothing) or a stride exceeds
    MAX_RESIZE_SCALE (`core.replacements.plan.resize_note` says which). Every entry's output size
    equals torch's for `input_size`.

    Args:
        layer: a `TransposedConv` (2D) or an `nn.ConvTranspose2d`.
        input_size: the layer's spatial input size (an int or (H, W)), for which the costs
            (params, macs, peak_memory) and the code's shapes are given.

    Returns:
        The `Replacement`s (name, method, exactness, costs, overlap, code), best first.

    Raises:
        ConfigError: for a 1D/3D layer or an input size torch refuses.

    Example:
        >>> layer = TransposedConv.make(64, 32, 4, stride=2, padding=1)
        >>> options = list_replacements(layer, 16)
        >>> [(r.name, r.exact) for r in options[:2]]
        [('nearest x2 + Conv2d 3x3', False), ('bilinear x2 + Conv2d 3x3', False)]
        >>> next(r.name for r in options if r.exact)
        'sub-pixel Conv2d 2x2 + PixelShuffle(2)'
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
