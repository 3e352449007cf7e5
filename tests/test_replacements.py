"""`core.replacements`: every generated snippet runs, matches torch's output size, costs what torch
counts, lines up where it says, and the exact ones reproduce the original to float64 precision."""

from __future__ import annotations

import itertools
import json
import math

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode, flop_registry

from core import ConfigError, TransposedConv, list_replacements, output_size
from core.replacements.catalog import original_costs
from core.replacements.registry import EXACT_METHODS

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@st.composite
def layers(draw, max_channels: int = 2, max_size: int = 6):
    """A valid 2D TransposedConv (groups, dilation, asymmetric k/s/p/op) and an input size."""
    groups = draw(st.integers(1, 3))

    def pair(low: int, high: int) -> tuple[int, int]:
        return draw(st.tuples(st.integers(low, high), st.integers(low, high)))

    stride, dilation = pair(1, 4), pair(1, 3)
    output_padding = tuple(
        draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation, strict=True)
    )
    layer = TransposedConv.make(
        in_channels=groups * draw(st.integers(1, max_channels)),
        out_channels=groups * draw(st.integers(1, max_channels)),
        kernel_size=pair(1, 5),
        stride=stride,
        padding=pair(0, 4),
        output_padding=output_padding,
        groups=groups,
        bias=draw(st.booleans()),
        dilation=dilation,
    )
    sizes = pair(1, max_size)
    try:
        output_size(layer, sizes)
    except ConfigError:
        assume(False)
    return layer, sizes


def torch_layer(layer: TransposedConv) -> nn.ConvTranspose2d:
    torch.manual_seed(0)
    return nn.ConvTranspose2d(**layer.kwargs()).double()


def run_snippet(code: str, **names) -> nn.Module:
    namespace = dict(names)
    exec(code, namespace)  # our own generated code, as a user would paste it
    return namespace["layer"]


class CostMode(TorchDispatchMode):
    """Counts FLOPs as torch's FlopCounterMode does (its own formulas, `flop_registry`) and
    records the largest tensor any aten op returns (the peak intermediate of a forward).

    FlopCounterMode itself decomposes some ops first, which costs ~30 ms per call; same counts.
    """

    def __init__(self) -> None:
        super().__init__()
        self.numel = 0
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func._overloadpacket in flop_registry:
            self.flops += flop_registry[func._overloadpacket](*args, **kwargs, out_val=out)
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self.numel = max(self.numel, t.numel())
        return out


def measured_costs(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, int, int, int]:
    """(output, params, MACs = FLOPs / 2 as torch counts them, peak bytes in float32)."""
    with CostMode() as costs:
        y = module(x)
    params = sum(p.numel() for p in module.parameters())
    return y, params, costs.flops // 2, 4 * costs.numel


def test_cost_mode_counts_like_flop_counter_mode():
    layer = TransposedConv.make(4, 6, (3, 5), (2, 3), (1, 4), (1, 2), groups=2, dilation=(1, 2))
    x = torch.randn(1, 4, 5, 4)
    for r in list_replacements(layer, (5, 4)):
        module = run_snippet(r.code)
        with FlopCounterMode(display=False) as reference:
            module(x)
        assert measured_costs(module, x)[2] * 2 == reference.get_total_flops() > 0


@settings(max_examples=1000)
@given(layers())
def test_every_snippet_runs_with_torch_output_size_and_costs(case):
    layer, sizes = case
    original = nn.ConvTranspose2d(**layer.kwargs())
    x = torch.randn(1, layer.in_channels, *sizes)
    expected, params, macs, peak = measured_costs(original, x)
    assert original_costs(layer, sizes) == {"params": params, "macs": macs, "peak_memory": peak}
    found = list_replacements(layer, sizes)
    for r in found:
        module = run_snippet(r.code)
        y, params, macs, peak = measured_costs(module, x)
        assert y.shape == expected.shape, (r.name, r.code)
        assert tuple(y.shape[2:]) == r.output_size
        assert (r.params, r.macs, r.peak_memory) == (params, macs, peak), r.name
    assert len({r.name for r in found}) == len(found)
    assert set(EXACT_METHODS) <= {r.method for r in found}


@settings(max_examples=1000)
@given(layers())
def test_exact_weight_snippets_equal_the_original_in_float64(case):
    layer, sizes = case
    original = torch_layer(layer)
    x = torch.randn(2, layer.in_channels, *sizes, dtype=torch.float64)
    expected = original(x)
    exact = [r for r in list_replacements(layer, sizes) if r.exact]
    assert len(exact) == 2
    for r in exact:
        module = run_snippet(r.weight_code, original=original)
        y = module(x)
        assert y.shape == expected.shape
        assert torch.allclose(y, expected, rtol=0, atol=1e-9), r.name
        assert r.alignment_offset == (0.0, 0.0)


def centroid(y: torch.Tensor) -> tuple[float, float]:
    """Centre of mass (H, W) of a response summed over batch and channels."""
    mass = y.sum(dim=(0, 1))
    total = mass.sum().item()
    rows = torch.arange(mass.shape[0], dtype=mass.dtype)
    cols = torch.arange(mass.shape[1], dtype=mass.dtype)
    return ((mass.sum(1) * rows).sum().item() / total, (mass.sum(0) * cols).sum().item() / total)


@settings(max_examples=300)
@given(layers(max_channels=1))
def test_alignment_offset_is_the_shift_of_the_impulse_response_centroid(case):
    """All-ones weights, one interior impulse: centroid(replacement) - centroid(original)."""
    layer, _ = case
    resize = [r for r in list_replacements(layer, case[1]) if not r.exact]
    assume(resize)
    margin = [
        math.ceil((d * 6 + 2 * p + 8 * s + 8) / s)
        for d, p, s in zip(layer.dilation, layer.padding, layer.stride, strict=True)
    ]
    sizes = (2 * margin[0] + 1, 2 * margin[1] + 1)
    x = torch.zeros(1, layer.in_channels, *sizes, dtype=torch.float64)
    x[:, :, margin[0], margin[1]] = 1.0
    original = torch_layer(layer)
    original.apply(_ones)
    base = centroid(original(x))
    for r in resize:
        shifted = centroid(run_snippet(r.code).double().apply(_ones)(x))
        offset = tuple(a - b for a, b in zip(shifted, base, strict=True))
        assert offset == pytest.approx(r.alignment_offset, abs=1e-9), (r.name, offset)


def _ones(module: nn.Module) -> None:
    """All-ones weights and zero bias for every (transposed) convolution."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.ones_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


@settings(max_examples=300)
@given(layers())
def test_ranking_puts_aligned_artifact_free_candidates_first(case):
    layer, sizes = case
    found = list_replacements(layer, sizes)
    misalignment = [sum(abs(o) for o in r.alignment_offset) for r in found]
    assert misalignment == sorted(misalignment)
    for before, after in itertools.pairwise(found):
        if sum(map(abs, before.alignment_offset)) == sum(map(abs, after.alignment_offset)):
            assert (before.checkerboard_risk, not before.even_overlap) <= (
                after.checkerboard_risk,
                not after.even_overlap,
            )
    for r in found:
        assert r.checkerboard_reason.startswith("Yes" if r.checkerboard_risk else "No")
        assert r.checkerboard_reason.count(". ") == 0  # one sentence
        if not r.exact:
            assert not r.checkerboard_risk
        elif any(s > 1 for s in layer.stride):
            assert r.checkerboard_risk  # it reproduces the original's free per-phase weights


def test_the_typical_generator_block_gets_the_classic_resize_conv_and_a_tight_subpixel():
    """k4 s2 p1: Upsample(2) + Conv2d(3) with the conv's own symmetric padding lines up with it
    (geometry notes); the sub-pixel conv holds exactly ceil(k/s)^2 taps per phase."""
    layer = TransposedConv.make(64, 32, kernel_size=4, stride=2, padding=1)
    found = list_replacements(layer, (16, 16))
    nearest = next(r for r in found if r.method == "resize-nearest" and r.kernel_size == (3, 3))
    assert nearest.aligned and "ZeroPad2d" not in nearest.code
    x = torch.zeros(1, 64, 16, 16)
    assert run_snippet(nearest.code)(x).shape == nn.ConvTranspose2d(**layer.kwargs())(x).shape
    assert found[0].aligned and not found[0].checkerboard_risk
    subpixel = next(r for r in found if r.method == "subpixel")
    assert subpixel.kernel_size == tuple(
        -(-k // s) for k, s in zip(layer.kernel_size, layer.stride, strict=True)
    )


@settings(max_examples=150)
@given(layers())
def test_as_dict_is_json_safe_with_the_cli_keys(case):
    layer, sizes = case
    for r in list_replacements(layer, sizes):
        d = json.loads(json.dumps(r.as_dict()))
        assert {
            "name",
            "exact",
            "code",
            "params",
            "macs",
            "peak_memory",
            "alignment_offset",
            "checkerboard_risk",
            "checkerboard_reason",
            "weight_code",
        } <= d.keys()
        assert d["exact"] is r.exact and d["code"] == r.code
        compile(r.code, r.name, "exec")
        assert r.weight_code.startswith(r.code) and "original" not in r.code


def test_stride_one_layers_get_only_the_exact_equivalents():
    layer = TransposedConv.make(3, 5, kernel_size=3, padding=1)
    found = list_replacements(layer, 8)
    assert {r.method for r in found} == set(EXACT_METHODS)
    assert not any(r.checkerboard_risk for r in found)


def test_a_torch_module_is_read_as_its_configuration():
    module = nn.ConvTranspose2d(4, 6, (3, 4), stride=(2, 1), padding=(1, 0), groups=2)
    assert list_replacements(module, (5, 7)) == list_replacements(
        TransposedConv.from_module(module), (5, 7)
    )


def test_strides_beyond_the_resize_cap_get_the_exact_equivalents_and_a_reason():
    from core.replacements.plan import MAX_RESIZE_SCALE, resize_geometry, resize_note

    layer = TransposedConv.make(1, 1, 3, stride=(2, MAX_RESIZE_SCALE + 1))
    assert {r.method for r in list_replacements(layer, 4)} == set(EXACT_METHODS)
    assert "strides up to" in resize_note(layer)
    with pytest.raises(ConfigError) as info:
        resize_geometry(layer, "bilinear")
    assert info.value.parameter == "stride" and "subpixel" in str(info.value)
    capped = TransposedConv.make(1, 1, 3, stride=MAX_RESIZE_SCALE)
    assert resize_note(capped) is None
    assert any(not r.exact for r in list_replacements(capped, 2))


@pytest.mark.parametrize(
    ("layer", "input_size", "parameter"),
    [
        (TransposedConv.make(2, 2, 3, 2, ndim=1), 4, "ndim"),
        (TransposedConv.make(2, 2, 3, 2, ndim=3), 4, "ndim"),
        ("nn.ConvTranspose2d(2, 2, 3)", 4, "layer"),
        (TransposedConv.make(2, 2, 3, 2), 0, "input_size"),
        (TransposedConv.make(2, 2, 3, 2), (4, 4, 4), "input_size"),
        (TransposedConv.make(2, 2, 3, 1, padding=4), 1, "padding"),
    ],
)
def test_bad_input_raises_config_error(layer, input_size, parameter):
    with pytest.raises(ConfigError) as info:
        list_replacements(layer, input_size)
    assert info.value.parameter == parameter
