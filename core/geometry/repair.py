"""The nearest valid layer: when a value had to be clamped and the layer became invalid.

A link may ask for `op=9` where the app allows at most 7; 7 is still invalid with stride 2.
`make_valid` changes the parameter torch would complain about to the nearest value within its
bounds that torch accepts, given the other parameters, and says what it changed and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError
from core.geometry.layer import TransposedConv
from core.geometry.output_size import output_size

MAX_ROUNDS = 8  # parameters repaired one after another at most
# Repaired downwards first: groups that do not divide the channels become the largest divisor of
# both below them (1 always is one), never a larger group count than the one asked for.
DOWNWARD = frozenset({"groups"})


@dataclass(frozen=True)
class Repair:
    """One value changed: `parameter` (torch's name) on `axis` (None: not per axis), `old` ->
    `new`, and `reason`, core's message for the old value (the rule it broke)."""

    parameter: str
    axis: int | None
    old: int
    new: int
    reason: str


def _error(
    values: Mapping[str, Any], input_size: Sequence[int], axis: int | None = None
) -> ConfigError | None:
    """Core's objection to the layer on `input_size`, or to its axis `axis` alone (a 1D layer with
    that axis's parameters and the same channels), or None."""
    if axis is not None:
        values = {
            name: (value[axis],) if isinstance(value, tuple) else value
            for name, value in values.items()
        }
        values["ndim"] = 1
        input_size = (input_size[axis],)
    try:
        layer = TransposedConv.make(**values)
        output_size(layer, tuple(input_size))
    except ConfigError as err:
        return err
    return None


def _with(values: Mapping[str, Any], name: str, axis: int | None, value: int) -> dict[str, Any]:
    new = dict(values)
    if axis is None:
        new[name] = value
    else:
        per_axis = list(new[name])
        per_axis[axis] = value
        new[name] = tuple(per_axis)
    return new


def _nearest(
    values: dict[str, Any],
    input_size: Sequence[int],
    name: str,
    axis: int | None,
    low: int,
    high: int,
) -> int | None:
    """The value of `name` (on `axis`) nearest to the current one, within [low, high], for which
    core no longer objects to `name` (on that axis); the lower one on a tie. Parameters in
    DOWNWARD look below first: groups move to the largest valid value not above the asked one."""
    old = values[name] if axis is None else values[name][axis]
    if name in DOWNWARD:
        for candidate in range(min(old - 1, high), low - 1, -1):
            err = _error(_with(values, name, axis, candidate), input_size, axis)
            if err is None or err.parameter != name:
                return candidate
    for distance in range(1, max(old - low, high - old) + 1):
        for candidate in (old - distance, old + distance):
            if low <= candidate <= high:
                err = _error(_with(values, name, axis, candidate), input_size, axis)
                if err is None or err.parameter != name:
                    return candidate
    return None


def make_valid(
    values: Mapping[str, Any],
    input_size: Sequence[int],
    bounds: Mapping[str, tuple[int, int]],
) -> tuple[dict[str, Any], list[Repair]]:
    """`values` (keyword arguments of `TransposedConv.make`, per-axis ones as tuples) made valid on
    `input_size` by changing as little as possible.

    While torch would refuse the layer, the parameter core's error names gets, on the first axis
    at fault, the value nearest to its current one within `bounds[name]` (inclusive) that clears
    that objection (the lower one on a tie). Returns the values and the repairs made, in order;
    the values stay invalid when a parameter has no such value or is not in `bounds`.

    Example:
        >>> v = dict(in_channels=1, out_channels=1, kernel_size=(3, 3), stride=(2, 2),
        ...          padding=(1, 1), output_padding=(7, 7))
        >>> make_valid(v, (16, 16), {"output_padding": (0, 7)})[0]["output_padding"]
        (1, 1)
    """
    current = dict(values)
    repairs: list[Repair] = []
    for _ in range(MAX_ROUNDS):
        err = _error(current, input_size)
        if err is None or err.parameter not in bounds or err.parameter not in current:
            break
        name = err.parameter
        value = current[name]
        if isinstance(value, tuple):
            at_fault = [
                i
                for i in range(len(value))
                if (e := _error(current, input_size, i)) is not None and e.parameter == name
            ]
            axis = at_fault[0] if at_fault else None
            if axis is None:
                break
            old = value[axis]
        else:
            axis, old = None, value
        new = _nearest(current, input_size, name, axis, *bounds[name])
        if new is None:
            break
        current = _with(current, name, axis, new)
        repairs.append(Repair(name, axis, old, new, err.message))  # the first axis at fault
    return current, repairs
