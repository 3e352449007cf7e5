"""The nearest valid layer after clamping: torch accepts what comes out, within the bounds, and a
layer torch already accepts is left alone."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_oracle import torch_output_size

from core.geometry.repair import make_valid
from ui import caps
from ui.state import FIELDS, LayerConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Small bounds, like the app's but quicker to search.
BOUNDS = {
    "in_channels": (1, 12),
    "out_channels": (1, 12),
    "groups": (1, 12),
    "kernel_size": (1, 6),
    "stride": (1, 4),
    "padding": (0, 9),
    "output_padding": (0, 5),
    "dilation": (1, 3),
}
PER_AXIS = ("kernel_size", "stride", "padding", "output_padding", "dilation")


@st.composite
def values_within_bounds(draw) -> dict:
    values = {}
    for name, (low, high) in BOUNDS.items():
        if name in PER_AXIS:
            values[name] = (draw(st.integers(low, high)), draw(st.integers(low, high)))
        else:
            values[name] = draw(st.integers(low, high))
    return values


@settings(max_examples=80)
@given(values=values_within_bounds(), size=st.tuples(st.integers(1, 6), st.integers(1, 6)))
def test_repaired_layers_are_accepted_by_torch(values, size):
    before = torch_output_size(values, size)
    fixed, repairs = make_valid(values, size, BOUNDS)
    after = torch_output_size(fixed, size)
    assert after is not None, (values, fixed, repairs)  # every value in bounds: always repairable
    if before is not None:
        assert fixed == values and repairs == []
    for name, (low, high) in BOUNDS.items():
        for v in fixed[name] if name in PER_AXIS else (fixed[name],):
            assert low <= v <= high
    changed = {name for name in BOUNDS if fixed[name] != values[name]}
    assert changed == {r.parameter for r in repairs}
    for r in repairs:
        assert r.reason and r.old != r.new


@settings(max_examples=60)
@given(
    name=st.sampled_from(sorted(FIELDS)),
    over=st.integers(1, 10_000),
    stride=st.integers(1, caps.MAX_STRIDE),
)
def test_a_link_value_above_the_limit_never_opens_an_invalid_layer(name, over, stride):
    """One value above its limit, the others the defaults (and a stride): the link's layer is one
    torch accepts, and the notice names the value."""
    spec = FIELDS[name]
    query = {spec.url: str(spec.maximum + over), "s": str(stride)}
    if name == "stride":
        query = {spec.url: str(spec.maximum + over)}
    cfg, notices = LayerConfig.from_query(query)
    out = torch_output_size(cfg.layer().kwargs(), cfg.input_size)
    assert out is not None
    assert any(f"`{spec.url}={spec.maximum + over}`" in n for n in notices)
    assert all("invalid literal" not in n for n in notices)


@settings(max_examples=60)
@given(
    cin=st.integers(1, 12),
    cout=st.integers(1, 12),
    groups=st.integers(1, 12),
)
def test_groups_are_repaired_to_the_largest_divisor_of_both_channel_counts_not_above(
    cin, cout, groups
):
    values = dict(
        in_channels=cin, out_channels=cout, kernel_size=(3, 3), stride=(2, 2), groups=groups
    )
    fixed, _ = make_valid(values, (8, 8), BOUNDS)
    divisors = [g for g in range(1, groups + 1) if cin % g == 0 and cout % g == 0]
    assert fixed["groups"] == max(divisors)  # torch's rule: groups divides both counts
    assert torch_output_size(fixed, (8, 8)) is not None
