"""Chains by their ends: every chain's sizes come out of torch, the best chain is the best there
is (a brute force over the sizes in between), the fewest layers are the fewest, and the generated
`nn.Sequential` runs in torch with the promised shape and is built from numbers only."""

from __future__ import annotations

import itertools

import pytest
import torch
from app_support import run_snippet
from hypothesis import given, settings
from hypothesis import strategies as st
from test_security import assert_generated_code_is_clean
from torch_oracle import torch_output_size

from core import ConfigError
from core.geometry.chains import (
    _key,
    chain_code,
    default_channels,
    explain_no_chain,
    solve_ends,
)
from core.geometry.solver import solve

BOUNDS = {"max_kernel": 5, "max_stride": 4, "max_dilation": 1}
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def step_kwargs(step) -> dict:
    return {
        "in_channels": 1,
        "out_channels": 1,
        "kernel_size": step.kernel_size,
        "stride": step.stride,
        "padding": step.padding,
        "output_padding": step.output_padding,
        "dilation": step.dilation,
    }


def chain_key(steps) -> tuple[int, ...]:
    keys = [_key(s.axis) for s in steps]
    return tuple(sum(column) for column in zip(*keys, strict=True))


@settings(max_examples=40)
@given(start=st.integers(1, 10), end=st.integers(1, 40), layers=st.integers(1, 3))
def test_every_chain_is_torchs_and_they_come_best_first(start, end, layers):
    chains = solve_ends(start, end, layers, **BOUNDS)
    for chain in chains:
        assert chain.sizes[0] == start and chain.sizes[-1] == end
        assert chain.layers == layers == len(chain.sizes) - 1
        for step, (n, m) in zip(chain.steps, itertools.pairwise(chain.sizes), strict=True):
            assert torch_output_size(step_kwargs(step), (n,)) == (m,)
            assert (m >= n) if end >= start else (m <= n)  # never moves back
            assert min(start, end) <= m <= max(start, end)
        assert chain.rank_key == chain_key(chain.steps)
    keys = [c.rank_key for c in chains]
    assert keys == sorted(keys)
    assert len({(c.sizes, c.steps) for c in chains}) == len(chains)


@settings(max_examples=25)
@given(start=st.integers(1, 8), end=st.integers(1, 30))
def test_the_best_two_layer_chain_is_the_best_by_brute_force(start, end):
    """Every size in between, every pair of configurations `solve` gives for the two steps: the
    smallest summed key is the first chain's."""
    best = None
    low, high = min(start, end), max(start, end)
    for middle in range(low, high + 1):  # between the ends: no step moves back
        first = solve(start, middle, **BOUNDS)
        second = solve(middle, end, **BOUNDS)
        for a, b in itertools.product(first, second):
            key = chain_key((a, b))
            best = key if best is None or key < best else best
    chains = solve_ends(start, end, 2, **BOUNDS)
    if best is None:
        assert chains == []
    else:
        assert chains[0].rank_key == best


@settings(max_examples=30)
@given(start=st.integers(1, 12), end=st.integers(1, 200))
def test_fewest_layers_are_the_fewest(start, end):
    chains = solve_ends(start, end, None, max_layers=6, **BOUNDS)
    if not chains:
        for layers in range(1, 7):
            assert solve_ends(start, end, layers, max_layers=6, **BOUNDS) == []
        return
    fewest = chains[0].layers
    assert all(c.layers == fewest for c in chains)
    for layers in range(1, fewest):
        assert solve_ends(start, end, layers, max_layers=6, **BOUNDS) == []


def test_the_issues_example_and_a_generator():
    (best, *_) = solve_ends(7, 28, 2)
    assert best.sizes == (7, 14, 28)
    assert [(s.kernel_size, s.stride, s.padding, s.output_padding) for s in best.steps] == [
        (4, 2, 1, 0)
    ] * 2
    dcgan = solve_ends(4, 64, 4)[0]
    assert dcgan.sizes == (4, 8, 16, 32, 64) and dcgan.even_overlap


@settings(max_examples=20)
@given(
    start=st.integers(1, 9),
    end=st.integers(1, 64),
    layers=st.integers(1, 4),
    channels=st.lists(st.integers(1, 5), min_size=5, max_size=5),
)
def test_the_generated_module_runs_in_torch_with_the_promised_shape(start, end, layers, channels):
    chains = solve_ends(start, end, layers, **BOUNDS)
    if not chains:
        return
    chain = chains[0]
    chosen = channels[: layers + 1]
    code = chain_code(chain, chosen)
    assert_generated_code_is_clean(code, f"chain {chain.sizes}")
    model = run_snippet(code)["model"]
    convs = [m for m in model if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(convs) == layers
    with torch.no_grad():
        y = model(torch.zeros(2, chosen[0], start, start))
    assert tuple(y.shape) == (2, chosen[-1], end, end)


def test_default_channels_halve_down_to_the_last():
    assert default_channels(64, 3, 3) == (64, 32, 16, 3)
    assert default_channels(64, 32, 3) == (64, 32, 32, 32)
    assert default_channels(8, 16, 2) == (8, 16, 16)


def test_bad_arguments_are_config_errors_naming_them():
    with pytest.raises(ConfigError) as err:
        solve_ends(0, 28)
    assert err.value.parameter == "start"
    with pytest.raises(ConfigError) as err:
        solve_ends(7, 28, 0)
    assert err.value.parameter == "layers"
    with pytest.raises(ConfigError) as err:
        chain_code(solve_ends(7, 28, 2)[0], (64, 32))
    assert err.value.parameter == "channels" and "3 numbers" in err.value.message
    with pytest.raises(ConfigError) as err:
        solve_ends(1, 4096, 6, max_kernel=16, max_stride=16, max_dilation=4, max_work=10_000)
    assert err.value.parameter == "search" and "lower the bounds" in err.value.message


def test_no_chain_is_explained():
    assert solve_ends(400, 4, 1, **BOUNDS) == []
    why = explain_no_chain(400, 4, 1, **BOUNDS)
    assert "shrinks only by cropping" in why
    assert solve_ends(2, 200, 1, **BOUNDS) == []
    assert "too few" in explain_no_chain(2, 200, 1, **BOUNDS)


def test_a_chain_asked_for_n_layers_spends_none_on_the_identity_while_all_resizing_ones_exist():
    """7 -> 28 in two layers: among chains with even overlap and no holes, every chain whose two
    layers both change the size ranks before one that keeps the size in a layer (7 -> 7 -> 28 or
    7 -> 28 -> 28 with a 1x1 layer); each keeps torch's sizes."""
    chains = solve_ends(7, 28, 2, max_kernel=4, max_stride=4, limit=50)
    clean = [chain for chain in chains if chain.rank_key[:2] == (0, 0)]
    keeps = [any(a == b for a, b in itertools.pairwise(chain.sizes)) for chain in clean]
    assert not keeps[0] and any(keeps)  # the identity chains exist, but not first
    first_identity = keeps.index(True)
    assert all(keeps[first_identity:]), [chain.sizes for chain in clean]
    for chain in clean:
        x = torch.zeros(1, 1, 7, 7)
        for i in range(chain.layers):
            x = torch.nn.ConvTranspose2d(**chain.layer(i, 1, 1).kwargs())(x)
            assert x.shape[-1] == chain.sizes[i + 1]
