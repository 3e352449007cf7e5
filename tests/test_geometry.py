"""Sizes and accept/refuse decisions of core agree with torch's ConvTranspose{1,2,3}d."""

from __future__ import annotations

import ast

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_oracle import torch_output_size

from core import ConfigError, TransposedConv, input_size_for, output_size, output_steps
from core.geometry.output_size import inputs_for_output


@st.composite
def configs(draw, valid_only: bool = False):
    """Random torch arguments, mostly valid, with invalid values mixed in unless valid_only."""
    ndim = draw(st.integers(1, 3))
    lo = 1 if valid_only else -1

    def per_axis(low: int, high: int, one_for_all: bool = True):
        """An int, one value per axis, or (as torch allows but for kernel_size) a 1-tuple."""
        if one_for_all and draw(st.integers(0, 9)) == 0:
            return (draw(st.integers(low, high)),)
        values = draw(st.lists(st.integers(low, high), min_size=ndim, max_size=ndim))
        return values[0] if draw(st.booleans()) and len(set(values)) == 1 else tuple(values)

    groups = draw(st.integers(1 if valid_only else 0, 3))
    g = max(groups, 1)
    kwargs = {
        "in_channels": g * draw(st.integers(1, 2))
        + (0 if valid_only else draw(st.sampled_from([0, 0, 0, 1]))),
        "out_channels": g * draw(st.integers(1, 2)),
        "kernel_size": per_axis(lo + (1 if valid_only else 0), 5, one_for_all=not valid_only),
        "stride": per_axis(lo + (1 if valid_only else 0), 4),
        "padding": per_axis(0 if valid_only else -1, 4),
        "output_padding": per_axis(0 if valid_only else -1, 3),
        "dilation": per_axis(lo + (1 if valid_only else 0), 3),
        "groups": groups,
        "bias": draw(st.booleans()),
    }
    input_size = tuple(draw(st.lists(st.integers(1, 6), min_size=ndim, max_size=ndim)))
    return kwargs, input_size


def core_output_size(kwargs: dict, input_size: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        layer = TransposedConv.make(**kwargs, ndim=len(input_size))
        return output_size(layer, input_size)
    except ConfigError as e:
        assert e.parameter in str(e) or e.parameter == "input_size" or e.parameter == "padding"
        return None


@settings(max_examples=2500)
@given(configs())
def test_accept_refuse_and_size_agree_with_torch(case):
    kwargs, input_size = case
    expected = torch_output_size(kwargs, input_size)
    dilation = (
        kwargs["dilation"] if isinstance(kwargs["dilation"], tuple) else (kwargs["dilation"],)
    )
    if min(dilation) < 1:
        # torch's grouped path skips its dilation check for 1-tap kernels and accepts dilation 0;
        # everywhere else torch refuses it, and so does core, always.
        expected = None
    assert core_output_size(kwargs, input_size) == expected


@settings(max_examples=600)
@given(configs(valid_only=True))
def test_steps_sum_to_output_and_name_every_term(case):
    kwargs, input_size = case
    expected = torch_output_size(kwargs, input_size)
    if expected is None:
        assert core_output_size(kwargs, input_size) is None
        return
    layer = TransposedConv.make(**kwargs, ndim=len(input_size))
    steps = output_steps(layer, input_size)
    assert tuple(s.output for s in steps) == expected
    for step in steps:
        assert [t.label for t in step.terms] == ["(in - 1)*s", "-2p", "d(k - 1)", "+op", "+1"]
        assert sum(t.value for t in step.terms) == step.output
        assert step.substituted.endswith(f"= {step.output}")


@settings(max_examples=600)
@given(configs(valid_only=True))
def test_input_size_for_inverts_output_size(case):
    kwargs, input_size = case
    expected = torch_output_size(kwargs, input_size)
    if expected is None:
        assert core_output_size(kwargs, input_size) is None
        return
    layer = TransposedConv.make(**kwargs, ndim=len(input_size))
    assert input_size_for(layer, expected) == input_size
    # And every (input, output_padding) pair that torch's output_size= argument could pick works.
    for axis, out in zip(layer.axes, expected, strict=True):
        for n, op in inputs_for_output(axis, out):
            args = {
                **kwargs,
                "kernel_size": axis.kernel_size,
                "stride": axis.stride,
                "padding": axis.padding,
                "output_padding": op,
                "dilation": axis.dilation,
            }
            assert torch_output_size(args, (n,)) == (out,)


@pytest.mark.parametrize("output", [0, -1, -7])
def test_no_input_gives_an_output_below_one(output):
    layer = TransposedConv.make(1, 1, 3, padding=2, ndim=1)
    assert input_size_for(layer, output) is None
    assert input_size_for(layer, 1) == (3,) and output_size(layer, 3) == (1,)


def test_messages_name_parameter_rule_and_fix():
    with pytest.raises(ConfigError) as e:
        TransposedConv.make(8, 8, 3, stride=2, output_padding=2)
    assert e.value.parameter == "output_padding"
    assert str(e.value) == (
        "output_padding 2 must be smaller than stride 2 or dilation 1: use 0 or 1"
    )
    with pytest.raises(ConfigError, match=r"in_channels 6 must be divisible by groups 4: use"):
        TransposedConv.make(6, 8, 3, groups=4)
    with pytest.raises(ConfigError, match=r"kernel_size has 3 values but the layer has 2"):
        TransposedConv.make(6, 8, (3, 3, 3))
    with pytest.raises(
        ConfigError, match=r"stride must be an int or 2 ints \(one per axis\), got 2.0"
    ):
        TransposedConv.make(6, 8, 3, stride=2.0)
    with pytest.raises(ConfigError, match=r"use padding at most"):
        output_size(TransposedConv.make(1, 1, 3, padding=3), 1)


@pytest.mark.parametrize("bad", [True, "3", None, 1e9, [3, "x"], 2**40])
def test_wrong_types_are_refused_by_name(bad):
    with pytest.raises(ConfigError) as e:
        TransposedConv.make(1, 1, bad)
    assert e.value.parameter == "kernel_size"


def test_from_module_round_trips_torch_layers():
    from torch import nn

    module = nn.ConvTranspose2d(
        6,
        4,
        (3, 5),
        stride=(2, 1),
        padding=(1, 2),
        output_padding=(1, 0),
        groups=2,
        bias=False,
        dilation=(1, 2),
    )
    layer = TransposedConv.from_module(module)
    assert nn.ConvTranspose2d(**layer.kwargs()).__repr__() == module.__repr__()
    rebuilt = eval(layer.torch_repr(), {"nn": nn})  # our own generated text, not user input
    assert repr(rebuilt) == repr(module)


@settings(max_examples=200, deadline=None)
@given(in_channels=st.integers(1, 96), out_channels=st.integers(1, 96), groups=st.integers(2, 40))
def test_every_groups_value_a_refusal_offers_is_one_torch_accepts(
    in_channels, out_channels, groups
):
    """A groups value that does not divide both channel counts is refused; each value the
    message offers instead builds in torch with these channels."""
    if in_channels % groups == 0 and out_channels % groups == 0:
        return
    with pytest.raises(ConfigError) as info:
        TransposedConv.make(in_channels, out_channels, 3, groups=groups)
    assert info.value.parameter == "groups"
    offered = ast.literal_eval(info.value.message.split("use groups in ")[1].split("]")[0] + "]")
    assert (offered and 1 in offered) or len(offered) == 6
    for g in offered:
        torch.nn.ConvTranspose2d(in_channels, out_channels, 3, groups=g)
        TransposedConv.make(in_channels, out_channels, 3, groups=g)
