"""Chains by their ends: from one size to another in N layers, the sizes in between chosen here.

`solve_ends(7, 28, layers=2)` answers "7 × 7 to 28 × 28 in two ConvTranspose2d layers": it
enumerates the intermediate sizes itself (each layer keeps or grows the size, none overshoots
the end), gives each step its best configuration and ranks whole chains by the sum of their
layers' rank keys, compared term by term: the solver's (even overlap first, holes last, no
output_padding, no dilation, about two taps per phase, small kernels), with "the layer's output
is exactly stride × its input" and the stride squared (summed: smallest for equal strides) after
the first four, so 4 -> 8 -> 16 -> 32 -> 64 comes before chains that creep up with stride-1
layers or grow unevenly. `layers=None` asks for the fewest layers that
make it. `chain_code(chain, channels)` writes the whole module as `nn.Sequential` code, built
only from numbers.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from core.bounded_cache import memoize
from core.errors import ConfigError
from core.geometry.layer import Axis, TransposedConv
from core.geometry.phases import even_overlap, taps_per_phase
from core.geometry.solver import MAX_DILATION, MAX_KERNEL, MAX_SIZE, MAX_STRIDE, Solution, _notes

MAX_LAYERS = 16  # hard ceiling of core; the app caps lower
MAX_CHAINS = 50  # chains returned at most
# Candidate moves looked at before a search gives up (about a second of one CPU core); the app
# passes its own limit.
DEFAULT_MAX_WORK = 1_000_000


@dataclass(frozen=True)
class Chain:
    """Sizes from the start to the end, and the configuration of each step (per axis, square)."""

    sizes: tuple[int, ...]
    steps: tuple[Solution, ...]
    # Summed over the steps: uneven overlap, holes, layers that keep the size, output_padding,
    # dilation, not exactly stride × input, stride², |k - 2s|, kernel_size, padding.
    rank_key: tuple[int, ...]

    @property
    def layers(self) -> int:
        return len(self.steps)

    @property
    def even_overlap(self) -> bool:
        return all(s.even_overlap for s in self.steps)

    @property
    def output_paddings(self) -> int:
        """How many layers need output_padding."""
        return sum(s.output_padding != 0 for s in self.steps)

    def layer(self, i: int, in_channels: int, out_channels: int) -> TransposedConv:
        """Step i as a 2D layer with these channels."""
        s = self.steps[i]
        return TransposedConv.make(
            in_channels,
            out_channels,
            s.kernel_size,
            s.stride,
            s.padding,
            s.output_padding,
            dilation=s.dilation,
        )


KEY_BITS = 16  # per term of an encoded key: sums over MAX_LAYERS layers stay below 2**16
KEY_TERMS = 10


def _encode(key: tuple[int, ...]) -> int:
    """A key as one int whose order is the key's order, and whose sums are the keys' sums (each
    term gets KEY_BITS bits, more than any sum over MAX_LAYERS layers needs)."""
    code = 0
    for term in key:
        code = (code << KEY_BITS) | term
    return code


def _decode(code: int) -> tuple[int, ...]:
    mask = (1 << KEY_BITS) - 1
    return tuple((code >> (KEY_BITS * i)) & mask for i in reversed(range(KEY_TERMS)))


def _key(axis: Axis) -> tuple[int, ...]:
    """One step's rank key: the solver's (`Solution.rank_key`: uneven overlap, holes,
    output_padding, dilation, then about 2 taps per phase and small), with three terms added.
    "The layer keeps the size" (stride 1 and d(k - 1) + op + 1 - 2p = 1, such as a 1x1 layer)
    right after holes: a chain asked for N layers is about N resizing steps, so one that spends
    a layer on the identity comes after every chain whose layers all resize. "The output is not
    exactly stride × input" after dilation, so that chains of clean multiples (4 -> 8 -> 16 ->
    32 -> 64) come before chains that creep up a pixel at a time; then the stride squared, whose
    sum over a chain is smallest when the strides are equal (2, 2 before 4, 1)."""
    k, s, p, op, d = axis.kernel_size, axis.stride, axis.padding, axis.output_padding, axis.dilation
    taps = taps_per_phase(axis)
    return (
        int(len(set(taps)) != 1),  # uneven overlap
        int(0 in taps),  # holes
        int(s == 1 and d * (k - 1) + op + 1 - 2 * p == 1),  # keeps the size: not a resizing step
        int(op != 0),
        int(d != 1),
        int(d * (k - 1) + op + 1 - 2 * p != s),  # not exactly stride x input
        s * s,  # summed over a chain: smallest for equal strides (2, 2 before 4, 1)
        abs(k - 2 * s),
        k,
        p,
    )


def _solution(axis: Axis) -> Solution:
    return Solution(
        axis.kernel_size,
        axis.stride,
        axis.padding,
        axis.output_padding,
        axis.dilation,
        even_overlap(axis),
        _notes(axis),
    )


# The per-stride move tables by bounds, bounded by bytes (`deep_sizeof`): from 46 KB (kernel and
# stride up to 8) to 630 KB (the solver's largest bounds, 16, 16 and dilation 4).
CLASSES_CACHE_BYTES = 4 * 2**20
# Whole answers of `solve_ends_shared` (up to MAX_CHAINS chains each, tens of KB), by question.
CHAINS_CACHE_BYTES = 4 * 2**20


@memoize(CLASSES_CACHE_BYTES)
def _classes(
    max_kernel: int, max_stride: int, max_dilation: int
) -> tuple[tuple[int, int, int, dict[int, tuple[int, Axis]]], ...]:
    """Per stride: (stride, lowest c, highest c, {c: (key, axis)}) where out = (in - 1)*stride + c,
    with the best configuration of each (stride, c) within the bounds (padding at most the
    kernel's extent, as the solver)."""
    per_stride = []
    for s in range(1, max_stride + 1):
        best: dict[int, tuple[int, Axis]] = {}
        for k in range(1, max_kernel + 1):
            for d in range(1, (max_dilation if k > 1 else 1) + 1):
                for p in range(d * (k - 1) + 1):
                    for op in range(max(s, d)):
                        axis = Axis(k, s, p, op, d)
                        c = d * (k - 1) + op + 1 - 2 * p
                        key = _encode(_key(axis))
                        if c not in best or key < best[c][0]:
                            best[c] = (key, axis)
        per_stride.append((s, min(best), max(best), best))
    return tuple(per_stride)


def _check(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(name, f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def _backward(
    start: int, end: int, steps: int, classes: tuple, max_work: int, fewest: bool = False
) -> list[dict[int, list[tuple[int, int, Axis]]]]:
    """back[r]: the sizes that reach `end` in exactly r more steps, each with its moves
    (next size, key, axis); sizes stay between start and end, never moving back. Raises
    ConfigError once more than `max_work` candidate moves were looked at. `fewest`: stop at the
    first r from which `start` reaches `end`."""
    low, high = min(start, end), max(start, end)
    work = 0
    grows = end >= start
    back: list[dict[int, list]] = [{end: []}]
    for _ in range(steps):
        if fewest and start in back[-1] and len(back) > 1:
            break
        here: dict[int, list] = {}
        for m in back[-1]:
            lo_n, hi_n = (low, m) if grows else (m, high)
            for s, c_low, c_high, best in classes:
                # n - 1 = (m - c) / s for some c in [c_low, c_high]
                first = max(lo_n - 1, -((c_high - m) // s))
                last = min(hi_n - 1, (m - c_low) // s)
                work += max(0, last - first + 1)
                for n1 in range(first, last + 1):
                    found = best.get(m - n1 * s)
                    if found is not None:
                        here.setdefault(n1 + 1, []).append((m, *found))
            if work > max_work:
                raise ConfigError(
                    "search",
                    f"this search looks at more than {max_work:,} candidate layers: lower the "
                    "bounds (kernel_size, stride, dilation) or the number of layers, or bring "
                    "the two sizes closer",
                )
        back.append(here)
    return back


def solve_ends(
    start: int,
    end: int,
    layers: int | None = None,
    *,
    max_kernel: int = 8,
    max_stride: int = 8,
    max_dilation: int = 1,
    max_layers: int = 8,
    limit: int = 20,
    max_work: int = DEFAULT_MAX_WORK,
) -> list[Chain]:
    """Chains of `layers` ConvTranspose layers (None: the fewest that work, up to `max_layers`)
    taking `start` px to `end` px per axis, best first, at most `limit`.

    Every size in between lies between the ends and no layer moves back (a chain that grows
    only grows). Each step gets its best configuration for that step within the bounds; chains
    are ranked by the sum of their steps' solver keys, compared in order (`Chain.rank_key`).

    Args:
        start, end: the sizes at the two ends (px, per axis).
        layers: how many layers; None for the fewest that work, up to `max_layers`.
        max_kernel, max_stride, max_dilation: bounds of every layer searched.
        max_layers: the most layers tried when `layers` is None.
        limit: the most chains returned.
        max_work: the most candidate layers one search looks at (a ConfigError past it).

    Returns:
        The chains, best first; empty when no chain of that length exists within the bounds
        (`explain_no_chain` says why).

    Raises:
        ConfigError: for sizes or bounds out of range, or a search over `max_work`.

    Example:
        >>> [c.sizes for c in solve_ends(7, 28, 2)][:1]
        [(7, 14, 28)]
    """
    start = _check("start", start, 1, MAX_SIZE)
    end = _check("end", end, 1, MAX_SIZE)
    max_layers = _check("max_layers", max_layers, 1, MAX_LAYERS)
    if layers is not None:
        layers = _check("layers", layers, 1, max_layers)
    limit = _check("limit", limit, 1, MAX_CHAINS)
    classes = _classes(
        _check("max_kernel", max_kernel, 1, MAX_KERNEL),
        _check("max_stride", max_stride, 1, MAX_STRIDE),
        _check("max_dilation", max_dilation, 1, MAX_DILATION),
    )
    max_work = _check("max_work", max_work, 1, 1 << 40)
    back = _backward(start, end, layers or max_layers, classes, max_work, layers is None)
    if layers is None:
        layers = next((r for r in range(1, len(back)) if start in back[r]), None)
        if layers is None:
            return []
    if start not in back[layers]:
        return []
    return _best_chains(start, layers, back, limit)


@memoize(CHAINS_CACHE_BYTES)
def solve_ends_shared(start: int, end: int, layers: int | None, **bounds: int) -> tuple[Chain, ...]:
    """`solve_ends`, kept per question and shared by every caller (a page's rerun that changes
    only the channels is instant), within `CHAINS_CACHE_BYTES`.

    Args:
        start: the input size.
        end: the output size.
        layers: the number of layers, or None for the fewest that make it.
        **bounds: `solve_ends`'s keyword arguments (max_kernel, ..., max_work).

    Returns:
        The chains, best first, as a tuple (shared: not to be changed).
    """
    return tuple(solve_ends(start, end, layers, **bounds))


def _best_chains(start: int, layers: int, back: list[dict], limit: int) -> list[Chain]:
    """The `limit` best chains through the moves of `back`, by best-first search: the heap holds
    partial chains ordered by their key so far plus the best key of the rest (exact, so chains
    come out best first). Keys are `_encode`d ints: their sums and order are the keys'."""
    # best[r][n]: the smallest key of the remaining r steps from size n. Every move of back[r]
    # leads to a size of back[r - 1], so each has a best rest.
    best: list[dict[int, int]] = [{m: 0 for m in back[0]}]
    for r in range(1, layers + 1):
        rest = best[r - 1]
        best.append(
            {n: min(key + rest[m] for m, key, _axis in moves) for n, moves in back[r].items()}
        )
    tie = itertools.count()  # equal keys: first pushed, first out (Axis has no order)
    heap: list = [(best[layers][start], 0, next(tie), (start,), ())]
    done: list[Chain] = []
    while heap and len(done) < limit:
        _bound, so_far, _tie, sizes, axes = heapq.heappop(heap)
        r = layers - len(axes)
        if r == 0:
            steps = tuple(_solution(a) for a in axes)
            done.append(Chain(sizes, steps, _decode(so_far)))
            continue
        rest = best[r - 1]
        for m, key, axis in back[r][sizes[-1]]:
            new = so_far + key
            heapq.heappush(heap, (new + rest[m], new, next(tie), (*sizes, m), (*axes, axis)))
    return done


def explain_no_chain(
    start: int,
    end: int,
    layers: int | None = None,
    *,
    max_kernel: int = 8,
    max_stride: int = 8,
    max_dilation: int = 1,
    max_layers: int = 8,
) -> str:
    """Why `solve_ends` found nothing, and what would work (in words, for a message)."""
    bounds = {"max_kernel": max_kernel, "max_stride": max_stride, "max_dilation": max_dilation}
    shrink = (
        " (a transposed convolution shrinks only by cropping with padding, at most "
        "dilation*(kernel_size - 1) per side)"
        if end < start
        else ""
    )
    fewest = solve_ends(start, end, None, max_layers=MAX_LAYERS, limit=1, **bounds)
    if not fewest:
        return (
            f"no chain of up to {MAX_LAYERS} layers within the bounds maps {start} → {end}"
            f"{shrink}: raise the bounds"
        )
    needed = fewest[0].layers
    if layers is not None and needed > layers:
        return f"{layers} layer(s) are too few within the bounds: the fewest that work are {needed}"
    if layers is None and needed > max_layers:
        return f"it takes {needed} layers within the bounds, more than the {max_layers} allowed"
    return (
        f"{start} → {end} takes at least {needed} layer(s), but not exactly {layers} within the "
        "bounds (each layer keeps or grows the size, never past the end): try another count"
    )


def default_channels(first: int, last: int, layers: int) -> tuple[int, ...]:
    """Channel counts for a chain: `first` in, halving at each layer but never below `last`, and
    `last` out (e.g. 64 -> 32 -> 16 -> 3 for 64, 3 and three layers)."""
    _check("first", first, 1, 1 << 20)
    _check("last", last, 1, 1 << 20)
    _check("layers", layers, 1, MAX_LAYERS)
    middle = [max(last, first >> i, 1) for i in range(1, layers)]
    return (first, *middle, last)


def chain_code(chain: Chain, channels: Sequence[int], *, activation: bool = True) -> str:
    """The chain as a self-contained `nn.Sequential` (`model = ...`), one ConvTranspose2d per step
    with `channels[i] -> channels[i + 1]`, an `nn.ReLU()` between layers when `activation`.

    Built only from numbers: each layer is `core`'s own `TransposedConv.torch_repr()`.

    Args:
        chain: a chain from `solve_ends`.
        channels: one channel count per size of the chain (len(chain.sizes) values).
        activation: put an `nn.ReLU()` between the layers.

    Returns:
        The Python source, importing torch and binding the module to `model`.

    Raises:
        ConfigError: for a channel list of the wrong length or a channel count below 1.

    Example:
        >>> chain = solve_ends(7, 28, 2)[0]
        >>> "nn.ConvTranspose2d(16, 8, kernel_size=4, stride=2, padding=1)" in chain_code(
        ...     chain, [32, 16, 8])
        True
    """
    if len(channels) != chain.layers + 1:
        raise ConfigError(
            "channels",
            f"channels needs {chain.layers + 1} numbers for {chain.layers} layer(s): the input's, "
            f"then each layer's output, got {len(channels)}",
        )
    for i, c in enumerate(channels):
        _check(f"channels[{i}]", c, 1, 1 << 20)
    lines = [
        "import torch.nn as nn",
        "",
        f"# {' -> '.join(map(str, chain.sizes))} px per axis, {chain.layers} layer(s)",
        "model = nn.Sequential(",
    ]
    for i in range(chain.layers):
        layer = chain.layer(i, channels[i], channels[i + 1])
        n, m = chain.sizes[i], chain.sizes[i + 1]
        lines.append(f"    {layer.torch_repr()},  # {n} -> {m}")
        if activation and i < chain.layers - 1:
            lines.append("    nn.ReLU(),")
    lines.append(")")
    return "\n".join(lines) + "\n"
