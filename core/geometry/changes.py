"""From the layer you have to the output size you need: the changes of one or two parameters.

`changes_for(layer, input_size, wanted)` lists every change of at most two of output_padding,
kernel_size, padding and stride (dilation and the channels stay) that makes `layer` give
`wanted` from `input_size`, ranked as the solver ranks a configuration (even overlap first,
holes last, then no output_padding), then by how few parameters change. `near_multiple(layer,
input_size)` notices an output one short of or one past stride × input (2n - 1, 2n + 1, ...),
the classic off-by-one, and says how to fix it in one sentence.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

from core.errors import ConfigError
from core.geometry.layer import SPATIAL_NAMES, Axis, TransposedConv, as_tuple
from core.geometry.output_size import AXIS_NAMES, axis_output, input_tuple, output_size
from core.geometry.phases import even_overlap, taps_per_phase

# The parameters a change may touch, in the order they are named.
CHANGEABLE = ("output_padding", "kernel_size", "padding", "stride")
MAX_CHANGED = 2
SHORT = {"kernel_size": "k", "stride": "s", "padding": "p", "output_padding": "op", "dilation": "d"}
MAX_WANTED = 1 << 16  # the solver's MAX_SIZE
MAX_PER_AXIS = 64  # options kept per axis before axes are combined (non-square layers)


def _axis_key(axis: Axis) -> tuple[int, ...]:
    """The solver's ranking of one axis (`core.geometry.solver.Solution.rank_key`), as ints."""
    return (
        int(not even_overlap(axis)),
        int(0 in taps_per_phase(axis)),
        int(axis.output_padding != 0),
        int(axis.dilation != 1),
        abs(axis.kernel_size - 2 * axis.stride),
        axis.kernel_size,
        axis.padding,
    )


@dataclass(frozen=True)
class Change:
    """One way to reach the wanted output: the new layer and what differs from the old one."""

    layer: TransposedConv
    changed: tuple[str, ...]  # parameter names, in CHANGEABLE order
    output_size: tuple[int, ...]
    even_overlap: bool  # every axis
    holes: bool  # some axis has output pixels no kernel tap reaches
    rank_key: tuple[int, ...]
    before: TransposedConv

    def values(self, name: str, layer: TransposedConv | None = None) -> str:
        """`name`'s value as torch takes it: '4', or '(4, 3)' where the axes differ."""
        value = getattr(layer or self.layer, name)
        return str(value[0]) if len(set(value)) == 1 else str(tuple(value))

    @property
    def assignments(self) -> str:
        """'kernel_size=4, padding=2': the new values of the changed parameters."""
        return ", ".join(f"{name}={self.values(name)}" for name in self.changed)

    @property
    def instruction(self) -> str:
        """What to do, in words: 'add output_padding=1', 'use kernel_size=4, padding=2'."""
        if self.changed == ("output_padding",) and not any(self.before.output_padding):
            return f"add output_padding={self.values('output_padding')}"
        if self.changed == ("output_padding",) and not any(self.layer.output_padding):
            return "remove output_padding"
        return f"use {self.assignments}"

    @property
    def description(self) -> str:
        """'kernel_size 3 → 4, padding 1 → 2': every change, old value to new."""
        return ", ".join(
            f"{name} {self.values(name, self.before)} → {self.values(name)}"
            for name in self.changed
        )

    @property
    def overlap_note(self) -> str:
        if self.holes:
            return "holes: some output pixels get no kernel tap"
        return "even overlap" if self.even_overlap else "uneven overlap: checkerboard-prone"


def _wanted(layer: TransposedConv, wanted: int | Sequence[int]) -> tuple[int, ...]:
    sizes = as_tuple("wanted", wanted, layer.ndim)
    for m in sizes:
        if not 1 <= m <= MAX_WANTED:
            raise ConfigError("wanted", f"the wanted output must be 1 to {MAX_WANTED} px, got {m}")
    return sizes


def _bound(name: str, value: int, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 1 << 10:
        raise ConfigError(name, f"{name} must be an integer from {low} to {1 << 10}, got {value!r}")
    return value


def _axis_options(
    axis: Axis, n: int, m: int, max_kernel: int, max_stride: int, max_padding: int
) -> list[tuple[Axis, frozenset[str]]]:
    """Every axis within the bounds giving n -> m with at most MAX_CHANGED parameters changed
    (dilation kept); the unchanged axis too where it already gives m."""
    found = []
    d = axis.dilation
    strides = sorted({axis.stride, *range(1, max_stride + 1)})
    kernels = sorted({axis.kernel_size, *range(1, max_kernel + 1)})
    for s in strides:
        for k in kernels:
            for op in range(max(s, d)):
                twice_p = (n - 1) * s + d * (k - 1) + op + 1 - m
                if twice_p < 0 or twice_p % 2:
                    continue
                p = twice_p // 2
                new = Axis(k, s, p, op, d)
                changed = frozenset(
                    name for name in CHANGEABLE if getattr(new, name) != getattr(axis, name)
                )
                if len(changed) > MAX_CHANGED:
                    continue
                if "padding" in changed and p > min(d * (k - 1), max_padding):
                    continue  # as the solver: crop at most the kernel's extent
                assert axis_output(new, n) == m
                found.append((new, changed))
    return found


def changes_for(
    layer: TransposedConv,
    input_size: int | Sequence[int],
    wanted: int | Sequence[int],
    *,
    max_kernel: int = 16,
    max_stride: int = 8,
    max_padding: int = 32,
) -> list[Change]:
    """The changes of one or two parameters that make `layer` give `wanted` from `input_size`.

    Args:
        layer: the layer you have (any ndim).
        input_size: its input size, an int or one per axis.
        wanted: the output size you need, an int or one per axis.
        max_kernel, max_stride, max_padding: bounds for new values (the app passes its limits).

    Returns:
        Every `Change` touching at most two of output_padding, kernel_size, padding, stride (the
        same ones on every axis), best first: even overlap, no holes, no output_padding, then
        fewer parameters changed, about two taps per phase, small kernels and padding. Empty
        when the layer gives `wanted` already or no such change exists within the bounds.

    Example:
        >>> layer = TransposedConv.make(64, 32, 3, stride=2, padding=1)
        >>> [c.instruction for c in changes_for(layer, 16, 32)][:2]
        ['use kernel_size=4', 'use kernel_size=2, padding=0']
    """
    sizes = input_tuple(layer, input_size)
    targets = _wanted(layer, wanted)
    bounds = (
        _bound("max_kernel", max_kernel, 1),
        _bound("max_stride", max_stride, 1),
        _bound("max_padding", max_padding, 0),
    )
    if output_size(layer, sizes) == targets:
        return []
    per_axis = [
        _axis_options(a, n, m, *bounds) for a, n, m in zip(layer.axes, sizes, targets, strict=True)
    ]
    symmetric = len({(a, n, m) for a, n, m in zip(layer.axes, sizes, targets, strict=True)}) == 1
    if symmetric:
        combos = [((axis,) * layer.ndim, changed) for axis, changed in per_axis[0]]
    else:
        trimmed = [
            sorted(options, key=lambda o: (len(o[1]), _axis_key(o[0])))[:MAX_PER_AXIS]
            for options in per_axis
        ]
        combos = []
        for picks in itertools.product(*trimmed):
            changed = frozenset().union(*(c for _, c in picks))
            if len(changed) <= MAX_CHANGED:
                combos.append((tuple(a for a, _ in picks), changed))
    found: dict[TransposedConv, Change] = {}
    for axes, changed in combos:
        if not changed:
            continue
        new = replace(
            layer,
            **{name: tuple(getattr(a, name) for a in axes) for name in SPATIAL_NAMES},
        )
        new.validate()
        keys = [_axis_key(a) for a in axes]
        total = [sum(column) for column in zip(*keys, strict=True)]
        rank = (*total[:4], len(changed), *total[4:], *(a.stride for a in axes))
        found[new] = Change(
            layer=new,
            changed=tuple(name for name in CHANGEABLE if name in changed),
            output_size=output_size(new, sizes),
            even_overlap=all(even_overlap(a) for a in axes),
            holes=any(0 in taps_per_phase(a) for a in axes),
            rank_key=rank,
            before=layer,
        )
    return sorted(found.values(), key=lambda c: c.rank_key)


def short_repr(layer: TransposedConv) -> str:
    """'ConvTranspose2d(k=3, s=2, p=1)': the geometry only, defaults left out."""
    parts = []
    for name in SPATIAL_NAMES:
        value = getattr(layer, name)
        default = 0 if name in ("padding", "output_padding") else 1
        if name == "kernel_size" or any(v != default for v in value):
            text = str(value[0]) if len(set(value)) == 1 else str(tuple(value))
            parts.append(f"{SHORT[name]}={text}")
    return f"ConvTranspose{layer.ndim}d({', '.join(parts)})"


@dataclass(frozen=True)
class NearMultiple:
    """An output one short of or one past stride × input on some axis, and the fixes."""

    layer: TransposedConv
    input_size: tuple[int, ...]
    output_size: tuple[int, ...]
    target: tuple[int, ...]  # stride × input on the flagged axes, the output elsewhere
    offsets: tuple[int, ...]  # output - target per axis: -1, 0 or +1
    fixes: tuple[Change, ...]  # best first; the best one adding output_padding first if any

    @property
    def message(self) -> str:
        """One sentence: what the layer gives, what it is near, how to fix it."""
        names = AXIS_NAMES[self.layer.ndim]
        flagged = [i for i, o in enumerate(self.offsets) if o]
        words = {-1: "one short of", 1: "one past"}
        strides = self.layer.stride
        same = len({(self.input_size[i], self.output_size[i], strides[i]) for i in flagged}) == 1
        if same and len(flagged) == len(names):
            i = flagged[0]
            near = (
                f"gives {self.output_size[i]} from {self.input_size[i]}, "
                f"{words[self.offsets[i]]} {strides[i]} × {self.input_size[i]} = {self.target[i]}"
            )
        else:
            near = (
                f"gives {' × '.join(map(str, self.output_size))} from "
                f"{' × '.join(map(str, self.input_size))}: "
                + "; ".join(
                    f"{names[i]} is {words[self.offsets[i]]} {strides[i]} × "
                    f"{self.input_size[i]} = {self.target[i]}"
                    for i in flagged
                )
            )
        sentence = f"{short_repr(self.layer)} {near}"
        if not self.fixes:
            return sentence + "."
        options = [
            f"{fix.instruction}" + ("" if fix.changed == ("output_padding",) else f" ({_tag(fix)})")
            for fix in self.fixes
        ]
        return f"{sentence}: {', or '.join(options)}."


def _tag(change: Change) -> str:
    return change.overlap_note.split(":")[0]


def near_multiple(
    layer: TransposedConv,
    input_size: int | Sequence[int],
    *,
    max_kernel: int = 16,
    max_stride: int = 8,
    max_padding: int = 32,
) -> NearMultiple | None:
    """The off-by-one of a layer whose output is stride × input ± 1 on some axis, or None.

    Inputs of 1 px are left out (every size is a multiple of 1). `fixes` holds at most two
    changes reaching stride × input: the best that only sets output_padding (what people
    expect), and the best of all where it differs.

    Args:
        layer: the layer on screen.
        input_size: its input size (an int or one per axis).
        max_kernel, max_stride, max_padding: bounds of the fixes searched.

    Returns:
        A `NearMultiple` (the output, the multiple it misses per axis, the fixes), or None
        where no axis is one off a multiple of its input.

    Example:
        >>> from core.geometry.layer import TransposedConv
        >>> near = near_multiple(TransposedConv.make(64, 32, 3, stride=2, padding=1), 16)
        >>> near.output_size, near.target, near.offsets
        ((31, 31), (32, 32), (-1, -1))
    """
    sizes = input_tuple(layer, input_size)
    out = output_size(layer, sizes)
    offsets = tuple(
        o - s * n if n >= 2 and abs(o - s * n) == 1 else 0
        for o, s, n in zip(out, layer.stride, sizes, strict=True)
    )
    if not any(offsets):
        return None
    target = tuple(o - off for o, off in zip(out, offsets, strict=True))
    found = changes_for(
        layer,
        sizes,
        target,
        max_kernel=max_kernel,
        max_stride=max_stride,
        max_padding=max_padding,
    )
    fixes: list[Change] = []
    only_op = [c for c in found if c.changed == ("output_padding",)]
    if only_op:
        fixes.append(only_op[0])
    if found and found[0] not in fixes:
        fixes.append(found[0])
    return NearMultiple(layer, sizes, out, target, offsets, tuple(fixes))
