"""Output size of a transposed convolution, the arithmetic shown step by step, and its inverse.

Per axis: out = (in - 1)*s - 2p + d(k - 1) + op + 1   (torch's formula, see nn.ConvTranspose2d).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass

from core.errors import ConfigError
from core.geometry.layer import MAX_DIM, Axis, TransposedConv, as_tuple

AXIS_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def input_tuple(layer: TransposedConv, input_size: int | Sequence[int]) -> tuple[int, ...]:
    """Validate a spatial input size (an int or one per axis; each at least 1)."""
    sizes = as_tuple("input_size", input_size, layer.ndim)
    for n in sizes:
        if n < 1:
            raise ConfigError("input_size", f"input_size must be at least 1 on every axis, got {n}")
        if n > MAX_DIM:
            raise ConfigError("input_size", f"input_size {n} is too large (at most {MAX_DIM})")
    return sizes


def axis_output(axis: Axis, n: int) -> int:
    """Output length along one axis, without validation (may be < 1)."""
    k, s, p, op, d = astuple(axis)
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def output_size(layer: TransposedConv, input_size: int | Sequence[int]) -> tuple[int, ...]:
    """Spatial output size, exactly as torch computes it; ConfigError where torch would fail.

    Per axis: out = (in - 1)*s - 2p + d(k - 1) + op + 1 (see the module docstring).

    Args:
        layer: the layer (any ndim).
        input_size: the spatial input size: an int for every axis, or one per axis.

    Returns:
        The output size, one int per axis.

    Raises:
        ConfigError: for an input size that is not an int (or one per axis) of at least 1, or
            (parameter "padding") where the padding crops the whole output away, as torch would
            refuse.

    Example:
        >>> layer = TransposedConv.make(8, 4, kernel_size=4, stride=2, padding=1)
        >>> output_size(layer, 16), output_size(layer, (16, 8))
        ((32, 32), (32, 16))
    """
    sizes = input_tuple(layer, input_size)
    out = tuple(axis_output(a, n) for a, n in zip(layer.axes, sizes, strict=True))
    for axis, n, o, name in zip(layer.axes, sizes, out, AXIS_NAMES[layer.ndim], strict=True):
        if o < 1:
            most = (
                axis_output(
                    Axis(axis.kernel_size, axis.stride, 0, axis.output_padding, axis.dilation), n
                )
                - 1
            ) // 2
            fix = f"use padding at most {most}" if most >= 0 else "use a larger kernel_size"
            raise ConfigError(
                "padding",
                f"output size along {name} would be {o} (input {n}): padding {axis.padding} "
                f"crops away everything; {fix} or a larger input",
            )
    return out


@dataclass(frozen=True)
class Term:
    """One named term of the output-size sum."""

    label: str  # e.g. "(in - 1)*s"
    expression: str  # e.g. "(16 - 1)*2"
    value: int


@dataclass(frozen=True)
class AxisSteps:
    """The output-size arithmetic for one axis, ready to print or render."""

    axis: str
    input: int
    terms: tuple[Term, ...]
    output: int

    @property
    def formula(self) -> str:
        return "out = (in - 1)*s - 2p + d(k - 1) + op + 1"

    @property
    def substituted(self) -> str:
        text = " + ".join(t.expression for t in self.terms).replace("+ -", "- ")
        return f"{text} = {self.output}"

    def as_dict(self) -> dict:
        return {
            "axis": self.axis,
            "input": self.input,
            "formula": self.formula,
            "substituted": self.substituted,
            "terms": [
                {"label": t.label, "expression": t.expression, "value": t.value} for t in self.terms
            ],
            "output": self.output,
        }


def output_steps(layer: TransposedConv, input_size: int | Sequence[int]) -> list[AxisSteps]:
    """The arithmetic of `output_size`, one `AxisSteps` per axis, each term named.

    What the app and the CLI print to show where the output size comes from.

    Args:
        layer: the layer.
        input_size: the spatial input size: an int for every axis, or one per axis.

    Returns:
        One `AxisSteps` per axis (H, W for 2D): the input, the terms of the sum and the output.

    Raises:
        ConfigError: as `output_size`.

    Example:
        >>> layer = TransposedConv.make(8, 4, kernel_size=4, stride=2, padding=1)
        >>> [step.substituted for step in output_steps(layer, (16, 8))]
        ['(16 - 1)*2 - 2*1 + 1*(4 - 1) + 0 + 1 = 32', '(8 - 1)*2 - 2*1 + 1*(4 - 1) + 0 + 1 = 16']
    """
    out = output_size(layer, input_size)
    sizes = input_tuple(layer, input_size)
    steps = []
    for name, a, n, o in zip(AXIS_NAMES[layer.ndim], layer.axes, sizes, out, strict=True):
        k, s, p, op, d = (a.kernel_size, a.stride, a.padding, a.output_padding, a.dilation)
        terms = (
            Term("(in - 1)*s", f"({n} - 1)*{s}", (n - 1) * s),
            Term("-2p", f"-2*{p}", -2 * p),
            Term("d(k - 1)", f"{d}*({k} - 1)", d * (k - 1)),
            Term("+op", f"{op}", op),
            Term("+1", "1", 1),
        )
        assert sum(t.value for t in terms) == o
        steps.append(AxisSteps(name, n, terms, o))
    return steps


def input_size_for(layer: TransposedConv, output: int | Sequence[int]) -> tuple[int, ...] | None:
    """The input size that gives `output` with this layer, or None if no input does.

    Unique when it exists: the output grows by s >= 1 per input pixel. An output below 1 has
    none (torch refuses such layers).

    Args:
        layer: the layer.
        output: the wanted spatial output size: an int for every axis, or one per axis.

    Returns:
        The input size, one int per axis, or None where no input size gives `output`.

    Raises:
        ConfigError: for an output size that is not an int or one int per axis.

    Example:
        >>> layer = TransposedConv.make(8, 4, kernel_size=4, stride=2, padding=1)
        >>> input_size_for(layer, (32, 16)), input_size_for(layer, 33)
        ((16, 8), None)
    """
    wanted = as_tuple("output_size", output, layer.ndim)
    found = []
    for a, o in zip(layer.axes, wanted, strict=True):
        if o < 1:
            return None
        numerator = o - 1 - a.output_padding - a.dilation * (a.kernel_size - 1) + 2 * a.padding
        if numerator < 0 or numerator % a.stride:
            return None
        found.append(numerator // a.stride + 1)
    return tuple(found)


def inputs_for_output(axis: Axis, output: int) -> list[tuple[int, int]]:
    """All (input, output_padding) pairs that reach `output` on one axis when, as with torch's
    `output_size=` call argument, output_padding is free in [0, max(s, d))."""
    pairs = []
    for op in range(max(axis.stride, axis.dilation)):
        base = output - 1 - op - axis.dilation * (axis.kernel_size - 1) + 2 * axis.padding
        if base >= 0 and base % axis.stride == 0:
            pairs.append((base // axis.stride + 1, op))
    return pairs
