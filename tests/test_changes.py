"""From a layer to a wanted output: every offered change checked by torch, none that torch allows
missed, ranked as the solver ranks; the off-by-one said with fixes that torch confirms."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_oracle import torch_output_size

from core import ConfigError
from core.geometry.changes import CHANGEABLE, changes_for, near_multiple
from core.geometry.layer import SPATIAL_NAMES, TransposedConv
from core.geometry.phases import even_overlap, taps_per_phase

BOUNDS = {"max_kernel": 6, "max_stride": 4, "max_padding": 6}
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def torch_out(layer: TransposedConv, size) -> tuple[int, ...] | None:
    sizes = (size,) * layer.ndim if isinstance(size, int) else tuple(size)
    return torch_output_size(layer.kwargs(), sizes)


@st.composite
def square_layers(draw) -> TransposedConv:
    s = draw(st.integers(1, 4))
    d = draw(st.integers(1, 2))
    k = draw(st.integers(1, 6))
    return TransposedConv.make(
        draw(st.integers(1, 3)),
        draw(st.integers(1, 3)),
        k,
        s,
        draw(st.integers(0, 3)),
        draw(st.integers(0, max(s, d) - 1)),
        dilation=d,
    )


@settings(max_examples=60)
@given(layer=square_layers(), n=st.integers(1, 12), wanted=st.integers(1, 40))
def test_every_change_gives_the_wanted_output_in_torch(layer, n, wanted):
    if torch_out(layer, n) is None:
        return  # torch refuses the starting point: the designer shows its error instead
    found = changes_for(layer, n, wanted, **BOUNDS)
    if torch_out(layer, n) == (wanted, wanted):
        assert found == []
    for change in found:
        assert torch_out(change.layer, n) == (wanted, wanted)
        assert change.output_size == (wanted, wanted)
        assert 1 <= len(change.changed) <= 2
        for name in SPATIAL_NAMES:
            differs = getattr(change.layer, name) != getattr(layer, name)
            assert differs == (name in change.changed), name
        assert change.layer.dilation == layer.dilation  # never changed
        assert (change.layer.in_channels, change.layer.out_channels) == (
            layer.in_channels,
            layer.out_channels,
        )
        axis = change.layer.axes[0]
        assert change.even_overlap == even_overlap(axis)
        assert change.holes == (0 in taps_per_phase(axis))
    keys = [c.rank_key for c in found]
    assert keys == sorted(keys)


@settings(max_examples=40)
@given(layer=square_layers(), n=st.integers(1, 9), wanted=st.integers(1, 30))
def test_nothing_torch_allows_is_missed(layer, n, wanted):
    """Brute force with torch (1D): every change of one or two of the four parameters within the
    bounds that torch maps n -> wanted is offered (a changed padding at most d(k - 1), as the
    solver)."""
    if torch_out(layer, n) is None or torch_out(layer, n) == (wanted, wanted):
        return
    a = layer.axes[0]
    d = a.dilation
    expected = set()
    for k, s, p in itertools.product(
        range(1, BOUNDS["max_kernel"] + 1),
        range(1, BOUNDS["max_stride"] + 1),
        range(0, BOUNDS["max_padding"] + 1),
    ):
        for op in range(max(s, d)):
            new = {"kernel_size": k, "stride": s, "padding": p, "output_padding": op}
            changed = {name for name in CHANGEABLE if new[name] != getattr(a, name)}
            if not 1 <= len(changed) <= 2 or ("padding" in changed and p > d * (k - 1)):
                continue
            kwargs = {"in_channels": 1, "out_channels": 1, "dilation": d, **new}
            if torch_output_size(kwargs, (n,)) == (wanted,):
                expected.add((k, s, p, op))
    found = {
        (c.layer.kernel_size[0], c.layer.stride[0], c.layer.padding[0], c.layer.output_padding[0])
        for c in changes_for(layer, n, wanted, **BOUNDS)
    }
    assert found == expected


def test_the_issues_example_ranks_even_overlap_first_and_offers_output_padding():
    layer = TransposedConv.make(64, 32, 3, stride=2, padding=1)
    found = changes_for(layer, 16, 32)
    assert found[0].instruction == "use kernel_size=4" and found[0].even_overlap
    only_op = [c for c in found if c.changed == ("output_padding",)]
    assert [c.instruction for c in only_op] == ["add output_padding=1"]
    assert not only_op[0].even_overlap  # k3 s2: 2 and 1 taps per phase
    assert found.index(only_op[0]) > max(i for i, c in enumerate(found) if c.even_overlap)
    for change in found:
        module = torch.nn.ConvTranspose2d(**change.layer.kwargs())
        assert module(torch.zeros(1, 64, 16, 16)).shape == (1, 32, 32, 32)


def test_per_axis_wanted_sizes():
    layer = TransposedConv.make(4, 4, (3, 4), stride=2, padding=1)
    found = changes_for(layer, (16, 9), (32, 20))
    assert found
    for change in found:
        assert torch_out(change.layer, (16, 9)) == (32, 20)
        assert len(change.changed) <= 2


def test_bad_wanted_sizes_name_the_parameter():
    layer = TransposedConv.make(4, 4, 3, stride=2, padding=1)
    for wanted in (0, -3, (32, 32, 32), "32", 1 << 20):
        with pytest.raises(ConfigError) as err:
            changes_for(layer, 16, wanted)
        assert err.value.parameter == "wanted"


@settings(max_examples=60)
@given(layer=square_layers(), n=st.integers(1, 16))
def test_an_off_by_one_is_noticed_exactly_when_torch_gives_stride_times_input_plus_or_minus_one(
    layer, n
):
    out = torch_out(layer, n)
    if out is None:
        return
    s = layer.stride[0]
    found = near_multiple(layer, n, **BOUNDS)
    if n >= 2 and abs(out[0] - s * n) == 1:
        assert found is not None
        assert found.target == (s * n, s * n)
        word = "one short of" if out[0] < s * n else "one past"
        assert f"{word} {s} × {n} = {s * n}" in found.message
        for fix in found.fixes:
            assert torch_out(fix.layer, n) == (s * n, s * n)
            assert fix.instruction in found.message
        assert len(found.fixes) <= 2
    else:
        assert found is None


def test_the_off_by_one_message_of_the_issue():
    layer = TransposedConv.make(64, 32, 3, stride=2, padding=1)
    found = near_multiple(layer, 16)
    assert found.message == (
        "ConvTranspose2d(k=3, s=2, p=1) gives 31 from 16, one short of 2 × 16 = 32: "
        "add output_padding=1, or use kernel_size=4 (even overlap)."
    )
    assert near_multiple(TransposedConv.make(64, 32, 4, stride=2, padding=1), 16) is None
