"""Taps per output phase: which kernel taps each output position receives, per axis.

Along one axis, output position o gets tap j of some input pixel when (o + p - j*d) % s == 0:
the s phases o % s each receive a fixed set of taps in the interior. Equal counts mean even
overlap; unequal counts print a checkerboard even with uniform weights (Odena et al. 2016).
"""

from __future__ import annotations

from core.geometry.layer import Axis


def taps_per_phase(axis: Axis) -> list[int]:
    """Kernel taps that serve each output phase (position mod stride) away from the borders.

    Output o receives tap j when (o + p - j*d) is a multiple of s, so phase r = o mod s is served
    by the taps with (j*d - p) mod s == r (the same phases as `core.overlap.counts.phase_table`).
    Unequal counts are the checkerboard.
    """
    counts = [0] * axis.stride
    for j in range(axis.kernel_size):
        counts[(j * axis.dilation - axis.padding) % axis.stride] += 1
    return counts


def even_overlap(axis: Axis) -> bool:
    """True when every output phase gets the same number of kernel taps (no checkerboard)."""
    return len(set(taps_per_phase(axis))) == 1
