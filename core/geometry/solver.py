"""The inverse problem: the ConvTranspose configurations that reach a wanted output size.

`solve(n, m)` lists every (kernel, stride, padding, output_padding, dilation) taking n to m
pixels, `solve_chain([4, 8, 16, ...])` those that build a chain with one layer repeated, ranked:
even overlap and no output_padding first.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from core.errors import ConfigError
from core.geometry.layer import Axis
from core.geometry.output_size import axis_output
from core.geometry.phases import even_overlap, taps_per_phase

MAX_KERNEL = 16
MAX_STRIDE = 16
MAX_DILATION = 4
MAX_SIZE = 1 << 16


@dataclass(frozen=True)
class Solution:
    """One per-axis configuration that maps the input size(s) to the wanted output size(s)."""

    kernel_size: int
    stride: int
    padding: int
    output_padding: int
    dilation: int
    even_overlap: bool
    notes: str

    @property
    def axis(self) -> Axis:
        return Axis(self.kernel_size, self.stride, self.padding, self.output_padding, self.dilation)

    def rank_key(self) -> tuple:
        """Sort key: even overlap, no holes, no output_padding, no dilation, about 2 taps per
        phase, small."""
        return (
            not self.even_overlap,
            0 in taps_per_phase(self.axis),  # holes: pixels that no tap reaches
            self.output_padding != 0,
            self.dilation != 1,
            abs(self.kernel_size - 2 * self.stride),
            self.kernel_size,
            self.padding,
        )

    def as_dict(self) -> dict:
        return asdict(self)


def _check_size(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, f"{name} must be an integer, got {value!r}")
    if not 1 <= value <= MAX_SIZE:
        raise ConfigError(name, f"{name} must be between 1 and {MAX_SIZE}, got {value}")
    return value


def _check_bound(name: str, value: int, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise ConfigError(name, f"{name} must be an integer between 1 and {limit}, got {value!r}")
    return value


def _notes(axis: Axis) -> str:
    phases = taps_per_phase(axis)
    if even_overlap(axis):
        return f"even overlap: {phases[0]} tap(s) per output phase"
    if 0 in phases:
        return (
            f"holes (taps per phase {phases}): some output pixels get no kernel tap at all, "
            "only the bias"
        )
    return f"uneven overlap (taps per phase {phases}): checkerboard-prone"


def _candidates(n: int, m: int, max_kernel: int, max_stride: int, max_dilation: int):
    for s in range(1, max_stride + 1):
        for k in range(1, max_kernel + 1):
            for d in range(1, (max_dilation if k > 1 else 1) + 1):
                rest = (n - 1) * s + d * (k - 1) + 1 - m  # = 2p - op
                for op in range(max(s, d)):
                    if (rest + op) % 2 or not 0 <= (rest + op) // 2 <= d * (k - 1):
                        continue
                    axis = Axis(k, s, (rest + op) // 2, op, d)
                    assert axis_output(axis, n) == m
                    yield axis


def _checked_chain(
    sizes: Sequence[int], max_kernel: int, max_stride: int, max_dilation: int
) -> tuple[list[int], tuple[int, int, int]]:
    """The chain's sizes and the (kernel, stride, dilation) bounds, validated, or ConfigError."""
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) < 2:
        raise ConfigError("sizes", f"give at least two sizes (input, output), got {sizes!r}")
    if len(sizes) > 64:
        raise ConfigError("sizes", f"a chain has at most 64 sizes, got {len(sizes)}")
    return [_check_size(f"sizes[{i}]", v) for i, v in enumerate(sizes)], (
        _check_bound("max_kernel", max_kernel, MAX_KERNEL),
        _check_bound("max_stride", max_stride, MAX_STRIDE),
        _check_bound("max_dilation", max_dilation, MAX_DILATION),
    )


def explain_no_solution(
    sizes: Sequence[int], *, max_kernel: int = 8, max_stride: int = 8, max_dilation: int = 3
) -> str:
    """Why `solve_chain(sizes, ...)` found nothing: the first step no layer within the bounds
    makes, or the first step that shares no layer with the steps before it."""
    sizes, bounds = _checked_chain(sizes, max_kernel, max_stride, max_dilation)
    common: set[Axis] | None = None
    for n, m in itertools.pairwise(sizes):
        found = set(_candidates(n, m, *bounds))
        if not found:
            shrink = (
                " (a transposed convolution shrinks only by cropping with padding, at most "
                "dilation*(kernel_size - 1) per side)"
                if m <= n
                else ""
            )
            return f"no layer within the bounds maps {n} → {m}{shrink}: raise the bounds"
        if common is not None and not common & found:
            return (
                f"each step has layers, but none that makes {n} → {m} also makes the steps "
                "before it: use a different layer for that step (solve the steps one by one)"
            )
        common = found if common is None else common & found
    return "every step has a layer, and they agree"


def solve(
    input_size: int,
    output_size: int,
    *,
    max_kernel: int = 8,
    max_stride: int = 8,
    max_dilation: int = 3,
) -> list[Solution]:
    """Every (k, s, p, op, d) within bounds that maps `input_size` to `output_size`, best first.

    The inverse of `output_size` for one axis: which layers make the size you need. Ranked as
    `Solution.rank_key` says: even overlap (no checkerboard from the geometry) first.

    Args:
        input_size: the input side, 1 to MAX_SIZE.
        output_size: the wanted output side, 1 to MAX_SIZE.
        max_kernel: the largest kernel_size tried (at most MAX_KERNEL).
        max_stride: the largest stride tried (at most MAX_STRIDE).
        max_dilation: the largest dilation tried (at most MAX_DILATION).

    Returns:
        The `Solution`s, best first; empty where none within the bounds exists
        (`explain_no_solution` says why).

    Raises:
        ConfigError: for a size or a bound out of its range.

    Example:
        >>> best = solve(16, 32)[0]
        >>> best.kernel_size, best.stride, best.padding, best.output_padding, best.notes
        (4, 2, 1, 0, 'even overlap: 2 tap(s) per output phase')
    """
    return solve_chain(
        [input_size, output_size],
        max_kernel=max_kernel,
        max_stride=max_stride,
        max_dilation=max_dilation,
    )


def solve_chain(
    sizes: Sequence[int],
    *,
    max_kernel: int = 8,
    max_stride: int = 8,
    max_dilation: int = 3,
) -> list[Solution]:
    """Configurations that, repeated as one layer per step, take sizes[0] -> sizes[1] -> ... .

    `solve_chain([4, 8, 16, 32, 64])` answers "which single ConvTranspose config, stacked four
    times, builds a 64x64 image from 4x4".

    Args:
        sizes: the sides along the chain, input first (2 to 64 of them, each 1 to MAX_SIZE).
        max_kernel: the largest kernel_size tried (at most MAX_KERNEL).
        max_stride: the largest stride tried (at most MAX_STRIDE).
        max_dilation: the largest dilation tried (at most MAX_DILATION).

    Returns:
        The `Solution`s that make every step, ranked as `solve`'s; empty where none does
        (`explain_no_solution` says why).

    Raises:
        ConfigError: for fewer than two sizes, or a size or a bound out of its range.

    Example:
        >>> best = solve_chain([4, 8, 16, 32, 64])[0]
        >>> best.kernel_size, best.stride, best.padding, best.even_overlap
        (4, 2, 1, True)
    """
    sizes, bounds = _checked_chain(sizes, max_kernel, max_stride, max_dilation)
    common: set[Axis] | None = None
    for n, m in itertools.pairwise(sizes):
        found = set(_candidates(n, m, *bounds))
        common = found if common is None else common & found
    solutions = [
        Solution(
            a.kernel_size,
            a.stride,
            a.padding,
            a.output_padding,
            a.dilation,
            even_overlap(a),
            _notes(a),
        )
        for a in common or ()
    ]
    return sorted(solutions, key=Solution.rank_key)
