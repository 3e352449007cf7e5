"""The inverse solver: every answer is checked by torch, and nothing torch allows is missed."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_oracle import torch_output_size

from core import ConfigError
from core.geometry.layer import Axis
from core.geometry.phases import even_overlap, taps_per_phase
from core.geometry.solver import solve, solve_chain
from core.overlap.counts import phase_table

BOUNDS = {"max_kernel": 5, "max_stride": 4, "max_dilation": 2}


def torch_maps(sol, sizes) -> bool:
    kwargs = {
        "in_channels": 1,
        "out_channels": 1,
        "kernel_size": sol.kernel_size,
        "stride": sol.stride,
        "padding": sol.padding,
        "output_padding": sol.output_padding,
        "dilation": sol.dilation,
    }
    return all(torch_output_size(kwargs, (n,)) == (m,) for n, m in itertools.pairwise(sizes))


@settings(max_examples=40)
@given(st.integers(1, 12), st.integers(1, 40))
def test_solve_is_sound_and_complete_against_torch(n, m):
    found = {
        (s.kernel_size, s.stride, s.padding, s.output_padding, s.dilation)
        for s in solve(n, m, **BOUNDS)
    }
    # Brute force over every config in the bounds, torch deciding (p <= d(k-1) by design).
    expected = set()
    for k, s, d in itertools.product(range(1, 6), range(1, 5), range(1, 3)):
        if k == 1 and d > 1:
            continue  # dilation is meaningless for a 1-tap kernel; solve reports d = 1
        for p, op in itertools.product(range(d * (k - 1) + 1), range(max(s, d))):
            kwargs = {
                "in_channels": 1,
                "out_channels": 1,
                "kernel_size": k,
                "stride": s,
                "padding": p,
                "output_padding": op,
                "dilation": d,
            }
            if torch_output_size(kwargs, (n,)) == (m,):
                expected.add((k, s, p, op, d))
    assert found == expected


@settings(max_examples=60)
@given(st.lists(st.integers(1, 24), min_size=2, max_size=5))
def test_chain_answers_work_at_every_step(sizes):
    for sol in solve_chain(sizes, **BOUNDS):
        assert torch_maps(sol, sizes)


def test_ranking_puts_even_overlap_and_no_output_padding_first():
    ranked = solve_chain([4, 8, 16, 32, 64])
    assert (ranked[0].kernel_size, ranked[0].stride, ranked[0].padding) == (4, 2, 1)
    flags = [(not s.even_overlap, s.output_padding != 0) for s in ranked]
    assert flags == sorted(flags)
    assert all(torch_maps(s, [4, 8, 16, 32, 64]) for s in ranked)


@pytest.mark.parametrize(("n", "m"), [(7, 28), (16, 32), (1, 4), (5, 9)])
def test_common_requests_have_answers(n, m):
    found = solve(n, m)
    assert found and all(torch_maps(s, [n, m]) for s in found)


def test_even_overlap_matches_torch_interior_counts():
    import torch
    import torch.nn.functional as F

    for k, s, d in itertools.product(range(1, 7), range(1, 5), range(1, 4)):
        axis = Axis(k, s, 0, 0, d)
        ones = F.conv_transpose1d(torch.ones(1, 1, 40), torch.ones(1, 1, k), stride=s, dilation=d)
        interior = ones[0, 0, d * (k - 1) : 39 * s + 1].tolist()
        assert even_overlap(axis) == (len(set(interior)) == 1), (k, s, d, interior)
        assert set(taps_per_phase(axis)) == {int(v) for v in interior}


@settings(max_examples=300)
@given(
    st.integers(1, 7), st.integers(1, 5), st.integers(0, 6), st.integers(1, 3), st.integers(1, 6)
)
def test_taps_per_phase_counts_output_positions_mod_stride(k, s, p, d, extra):
    """Phase r is every output position o with o % s == r, padding included, as in torch."""
    import torch
    import torch.nn.functional as F

    axis = Axis(k, s, p, 0, d)
    n = d * k + extra  # long enough for an interior
    if p > d * (k - 1):
        return  # torch crops past the kernel's reach; no interior to compare
    counts = F.conv_transpose1d(
        torch.ones(1, 1, n), torch.ones(1, 1, k), stride=s, padding=p, dilation=d
    )[0, 0].tolist()
    phases = taps_per_phase(axis)
    lo, hi = d * (k - 1) - p, (n - 1) * s - p  # outputs every tap can reach
    assert lo <= hi
    for o in range(lo, hi + 1):
        assert counts[o] == phases[o % s], (o, counts, phases)
    assert phases == [len(t) for t in phase_table(axis)]


@pytest.mark.parametrize(
    ("args", "parameter"),
    [
        (([5],), "sizes"),
        (([0, 4],), "sizes[0]"),
        (([4, 2**20],), "sizes[1]"),
        (("48",), "sizes"),
        (([4, True],), "sizes[1]"),
    ],
)
def test_bad_requests_are_refused_by_name(args, parameter):
    with pytest.raises(ConfigError) as e:
        solve_chain(*args)
    assert e.value.parameter == parameter


def test_bounds_are_checked():
    with pytest.raises(ConfigError, match="max_kernel must be an integer between 1 and 16"):
        solve(4, 8, max_kernel=100)


def test_an_empty_answer_says_which_step_fails():
    from core.geometry.solver import explain_no_solution

    assert solve_chain([4, 8, 17, 32]) == []
    assert "8 → 17" in explain_no_solution([4, 8, 17, 32])
    assert solve_chain([64, 4], max_kernel=2, max_stride=2, max_dilation=1) == []
    why = explain_no_solution([64, 4], max_kernel=2, max_stride=2, max_dilation=1)
    assert "64 → 4" in why and "shrinks only by cropping" in why
    assert solve(8, 6, max_kernel=3, max_stride=1, max_dilation=1)  # padding does shrink
    with pytest.raises(ConfigError):
        explain_no_solution([4, "8"])


def test_layers_with_holes_are_named_and_ranked_after_the_others():
    found = solve(4, 8, max_kernel=4, max_stride=8)
    holes = [s for s in found if 0 in taps_per_phase(s.axis)]
    assert holes and all("holes" in s.notes for s in holes)
    first_hole = found.index(holes[0])
    assert all(0 in taps_per_phase(s.axis) for s in found[first_hole:])  # holes come last
