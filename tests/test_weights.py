"""`core.replacements.weights`: exact replacements equal the original, resize fits are honest least
squares that recover true resize-convs, and fused layers equal the Upsample + Conv2d they came
from."""

from __future__ import annotations

import contextlib
import copy
import io
import math

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from core import (
    ConfigError,
    TransposedConv,
    fuse_resize_conv,
    output_size,
    replace_conv_transpose,
)
from core.replacements import registry, weights
from core.replacements.catalog import list_replacements
from core.replacements.registry import EXACT_METHODS, METHODS

RESIZE = tuple(m for m in METHODS if m not in EXACT_METHODS)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@st.composite
def conv_transposes(
    draw, max_size: int = 6, max_kernel: int = 5, max_dilation: int = 3, max_padding: int = 4
):
    """A random float64 nn.ConvTranspose2d torch accepts (groups, dilation, asymmetric k/s/p/op)
    and an input size it accepts."""
    groups = draw(st.integers(1, 3))

    def pair(low: int, high: int) -> tuple[int, int]:
        return draw(st.tuples(st.integers(low, high), st.integers(low, high)))

    stride, dilation = pair(1, 4), pair(1, max_dilation)
    config = TransposedConv.make(
        in_channels=groups * draw(st.integers(1, 2)),
        out_channels=groups * draw(st.integers(1, 2)),
        kernel_size=pair(1, max_kernel),
        stride=stride,
        padding=pair(0, max_padding),
        output_padding=tuple(
            draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation, strict=True)
        ),
        groups=groups,
        bias=draw(st.booleans()),
        dilation=dilation,
    )
    sizes = pair(1, max_size)
    try:
        output_size(config, sizes)
    except ConfigError:
        assume(False)
    torch.manual_seed(draw(st.integers(0, 2**16)))
    return nn.ConvTranspose2d(**config.kwargs(), dtype=torch.float64), sizes


def impulses(config: TransposedConv) -> torch.Tensor:
    """One unit impulse per input channel, at an input pixel so far from every border that
    neither the original's nor a resize-conv's response touches one (interpolation clamps only
    within 2 input pixels of an edge)."""
    margin = [
        3 + math.ceil((2 * d * (k - 1) + 2 * p + 3 * s + 2) / s)
        for k, d, p, s in zip(
            config.kernel_size, config.dilation, config.padding, config.stride, strict=True
        )
    ]
    x = torch.zeros(
        config.in_channels,
        config.in_channels,
        2 * margin[0] + 1,
        2 * margin[1] + 1,
        dtype=torch.float64,
    )
    channels = torch.arange(config.in_channels)
    x[channels, channels, margin[0], margin[1]] = 1.0
    return x


def response(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The linear part of `module` applied to x (the bias removed)."""
    with torch.no_grad():
        return module(x) - module(torch.zeros_like(x[:1]))


def interior_error(expected: torch.Tensor, module: nn.Module, x: torch.Tensor) -> float:
    """||K_A - K_B|| / ||K_A||, read off the responses to `impulses`."""
    return ((expected - response(module, x)).norm() / expected.norm()).item()


@settings(max_examples=1000)
@given(conv_transposes())
def test_exact_methods_equal_the_original_in_float64(case):
    layer, sizes = case
    x = torch.randn(2, layer.in_channels, *sizes, dtype=torch.float64)
    expected = layer(x)
    for method in EXACT_METHODS:
        module, error = replace_conv_transpose(layer, method)
        assert error < 1e-12
        y = module(x)
        assert y.shape == expected.shape
        assert torch.allclose(y, expected, rtol=0, atol=1e-9), method


@settings(max_examples=300)
@given(conv_transposes(max_size=4, max_kernel=4, max_dilation=2, max_padding=2))
def test_resize_fit_error_is_the_least_squares_operator_distance(case):
    """The reported error equals ||K_A - K_B|| / ||K_A|| measured by torch on impulses, and no
    other conv weights do better (the fit is the least-squares optimum)."""
    layer, sizes = case
    assume(layer.weight.abs().sum() > 0)
    x = torch.randn(1, layer.in_channels, *sizes, dtype=torch.float64)
    probe = impulses(TransposedConv.from_module(layer))
    expected = response(layer, probe)
    for method in RESIZE:
        module, error = replace_conv_transpose(layer, method)
        assert module(x).shape == layer(x).shape
        assert 0 <= error <= 1 + 1e-9  # B = 0 already gives 1
        assert interior_error(expected, module, probe) == pytest.approx(error, rel=1e-7, abs=1e-9)
        with torch.no_grad():
            module[-1].weight.add_(1e-3 * torch.randn_like(module[-1].weight))
        assert interior_error(expected, module, probe) >= error - 1e-12


@settings(max_examples=300)
@given(conv_transposes(max_size=4))
def test_weight_code_snippets_carry_the_same_weights(case):
    layer, sizes = case
    config = TransposedConv.from_module(layer)
    x = torch.randn(1, layer.in_channels, *sizes, dtype=torch.float64)
    for r in list_replacements(config, sizes):
        namespace = {"original": layer}
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            exec(r.weight_code, namespace)  # our own generated code, as a user would paste it
        snippet = namespace["layer"]
        module, error = replace_conv_transpose(
            layer, r.method, kernel_size=None if r.exact else r.kernel_size
        )
        assert torch.allclose(snippet(x), module(x), rtol=0, atol=1e-9), r.name
        if not r.exact:  # the snippet reports the same fit error as the API
            assert namespace["fit_error"] == pytest.approx(error, rel=1e-9, abs=1e-12)
            assert printed.getvalue() == f"resize-conv fit: relative error {round(error, 3)}\n"


@st.composite
def resize_convs(draw, modes=("nearest", "nearest-exact"), within_reach: bool = False):
    """A random float64 Upsample (integer scale) + Conv2d (groups, dilation, any padding; with
    `within_reach`, numeric padding of at most d*(k-1) per axis)."""
    groups = draw(st.integers(1, 2))
    scale = draw(st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4))))
    if draw(st.booleans()):  # 2.0 works as well as 2
        scale = tuple(map(float, scale)) if isinstance(scale, tuple) else float(scale)
    mode = draw(st.sampled_from(modes))
    extra = {} if mode.startswith("nearest") else {"align_corners": False}
    upsample = nn.Upsample(scale_factor=scale, mode=mode, **extra)
    kernel = draw(st.tuples(st.integers(1, 4), st.integers(1, 4)))
    dilation = draw(st.tuples(st.integers(1, 2), st.integers(1, 2)))
    numeric = st.tuples(
        *(st.integers(0, d * (k - 1)) for k, d in zip(kernel, dilation, strict=True))
    )
    if within_reach:
        padding = draw(numeric)
    else:
        padding = draw(st.one_of(st.sampled_from(["same", "valid"]), numeric, st.just((4, 4))))
    torch.manual_seed(draw(st.integers(0, 2**16)))
    conv = nn.Conv2d(
        groups * draw(st.integers(1, 2)),
        groups * draw(st.integers(1, 2)),
        kernel,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=draw(st.booleans()),
        dtype=torch.float64,
    )
    return upsample, conv


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note on even kernels
@settings(max_examples=800)
@given(resize_convs(), st.tuples(st.integers(1, 5), st.integers(1, 5)))
def test_fused_layer_equals_the_resize_conv_and_fits_back_exactly(case, sizes):
    upsample, conv = case
    x = torch.randn(2, conv.in_channels, *sizes, dtype=torch.float64)
    try:
        expected = conv(upsample(x))
    except RuntimeError:  # torch refuses: input smaller than the kernel
        assume(False)
    fused = fuse_resize_conv(upsample, conv)
    assert type(fused) is nn.ConvTranspose2d
    assert torch.allclose(fused(x), expected, rtol=0, atol=1e-9)
    back, error = replace_conv_transpose(fused, "resize-nearest")
    assert error < 1e-9
    assert torch.allclose(back(x), expected, rtol=0, atol=1e-9)


@settings(max_examples=300)
@given(resize_convs(modes=("bilinear", "bicubic"), within_reach=True))
def test_fit_recovers_a_true_bilinear_or_bicubic_resize_conv(case):
    """Build the ConvTranspose2d that a bilinear/bicubic resize-conv is away from the borders (its
    kernel read off by impulses); the fit finds the resize-conv's own weights again."""
    upsample, conv = case
    s = upsample.scale_factor
    s = (int(s), int(s)) if not isinstance(s, tuple) else tuple(int(v) for v in s)
    margin = 12
    cin, g = conv.in_channels, conv.groups
    x = torch.zeros(cin, cin, 2 * margin + 1, 2 * margin + 1, dtype=torch.float64)
    x[torch.arange(cin), torch.arange(cin), margin, margin] = 1.0
    with torch.no_grad():
        response = conv(upsample(x)) - conv(upsample(torch.zeros_like(x[:1])))
    support = response.abs().sum(dim=(0, 1))
    rows = support.sum(1).nonzero().flatten()
    cols = support.sum(0).nonzero().flatten()
    kernel = response[:, :, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    # (in, out) -> (in, out/g): keep each input channel's own group
    out_g = conv.out_channels // g
    group = torch.arange(cin) // (cin // g)
    index = group[:, None] * out_g + torch.arange(out_g)[None, :]
    weight = kernel[torch.arange(cin)[:, None], index]
    layer = nn.ConvTranspose2d(
        cin,
        conv.out_channels,
        tuple(weight.shape[2:]),
        stride=s,
        padding=(margin * s[0] - rows[0].item(), margin * s[1] - cols[0].item()),
        groups=g,
        bias=False,
        dtype=torch.float64,
    )
    with torch.no_grad():
        layer.weight.copy_(weight)
    method = f"resize-{upsample.mode}"
    _, error = replace_conv_transpose(layer, method)
    assert error < 1e-9
    # The conv's own kernel (its dilated taps as a dense kernel) comes back tap for tap.
    (dh, dw), (kh, kw) = conv.dilation, conv.kernel_size
    dense = conv.weight.new_zeros(*conv.weight.shape[:2], dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    dense[:, :, ::dh, ::dw] = conv.weight
    same, error = replace_conv_transpose(layer, method, kernel_size=dense.shape[2:])
    assert error < 1e-9
    assert torch.allclose(same[-1].weight, dense, rtol=0, atol=1e-9)


def test_modules_keep_the_layers_dtype_and_report_float_errors():
    layer = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)
    for method in METHODS:
        module, error = replace_conv_transpose(layer, method)
        assert isinstance(error, float)
        assert all(p.dtype == torch.float32 for p in module.parameters())
        assert module(torch.randn(1, 4, 5, 5)).shape == (1, 2, 10, 10)
    zero = nn.ConvTranspose2d(2, 2, 4, stride=2, padding=1, bias=False)
    nn.init.zeros_(zero.weight)
    assert replace_conv_transpose(zero, "resize-nearest")[1] == 0.0


@pytest.mark.parametrize(
    ("args", "parameter"),
    [
        ((nn.Conv2d(2, 2, 3), "subpixel"), "layer"),
        ((nn.ConvTranspose1d(2, 2, 3), "subpixel"), "layer"),
        ((nn.ConvTranspose2d(2, 2, 3), "bogus"), "method"),
        ((nn.ConvTranspose2d(2, 2, 3), "resize-bilinear", 0), "kernel_size"),
        ((nn.ConvTranspose2d(2, 2, 3), "subpixel", 3), "kernel_size"),
    ],
)
def test_replace_rejects_bad_arguments(args, parameter):
    layer, method, *kernel = args
    with pytest.raises(ConfigError) as info:
        replace_conv_transpose(layer, method, kernel_size=kernel[0] if kernel else None)
    assert info.value.parameter == parameter


@pytest.mark.parametrize(
    ("upsample", "conv", "parameter"),
    [
        (nn.Upsample(scale_factor=2, mode="bilinear"), nn.Conv2d(2, 2, 3), "mode"),
        (nn.Upsample(scale_factor=1.5), nn.Conv2d(2, 2, 3), "scale_factor"),
        (nn.Upsample(scale_factor=(2, 0.5)), nn.Conv2d(2, 2, 3), "scale_factor"),
        (nn.Upsample(size=(8, 8)), nn.Conv2d(2, 2, 3), "upsample"),
        (
            nn.Upsample(scale_factor=2),
            nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect"),
            "padding_mode",
        ),
        (nn.Upsample(scale_factor=2), nn.Conv2d(2, 2, 3, stride=2), "stride"),
        (nn.Upsample(scale_factor=2), nn.Conv1d(2, 2, 3), "conv"),
        (nn.Identity(), nn.Conv2d(2, 2, 3), "upsample"),
    ],
)
def test_fuse_rejects_what_it_cannot_fuse(upsample, conv, parameter):
    with pytest.raises(ConfigError) as info:
        fuse_resize_conv(upsample, conv)
    assert info.value.parameter == parameter
    assert len(str(info.value)) > 20


# ---------------------------------------------------------------------------------------------
# The exact methods' error: a cheap random probe, checked against unit impulses


def impulse_error(layer: nn.ConvTranspose2d, module: nn.Module) -> float:
    """The reference definition, ||K_A - K_B|| / ||K_A|| with both effective kernels read off by
    one float64 unit impulse per input channel at a pixel whose whole response lies inside the
    output (what replace_conv_transpose measured before its probe; one forward per channel)."""
    config = TransposedConv.from_module(layer)
    original = copy.deepcopy(layer).to(torch.float64)
    replacement = copy.deepcopy(module).to(torch.float64)
    pixel = [-(-p // s) for p, s in zip(config.padding, config.stride, strict=True)]
    size = [
        i + -(-p // s) + 2 for i, p, s in zip(pixel, config.padding, config.stride, strict=True)
    ]
    x = torch.zeros(config.in_channels, config.in_channels, *size, dtype=torch.float64)
    channels = torch.arange(config.in_channels)
    x[channels, channels, pixel[0], pixel[1]] = 1.0
    a, b = response(original, x), response(replacement, x)
    return ((a - b).norm() / a.norm()).item()


def corrupted(module: nn.Module, index: int, amount: float) -> nn.Module:
    """A copy of an exact module with one conv weight (flat `index`, wrapped) moved by `amount`."""
    module = copy.deepcopy(module)
    with torch.no_grad():
        flat = module.conv.weight.view(-1)
        flat[index % flat.numel()] += amount
    return module


@settings(max_examples=300)
@given(conv_transposes(max_size=4), st.integers(0, 2**16), st.sampled_from(EXACT_METHODS))
def test_probed_error_agrees_with_unit_impulses(case, index, method):
    """~0 by both measures for the exact modules; for a module with one wrong conv weight (a tap,
    or for sub-pixel possibly a slot that must stay zero) both report the true distance, here
    exactly 1: one kernel entry off by ||w|| = ||K_A||."""
    layer, _ = case
    config = TransposedConv.from_module(layer)
    scale = layer.weight.norm().item()
    assume(scale > 0)
    module, error = replace_conv_transpose(layer, method)
    assert error == weights._probed_error(layer, module, config)
    assert error < 1e-12 and impulse_error(layer, module) < 1e-12
    wrong = corrupted(module, index, scale)
    exact = impulse_error(layer, wrong)
    probed = weights._probed_error(layer, wrong, config)
    assert exact == pytest.approx(1.0, rel=1e-9)
    assert 0.5 < probed < 2  # a 64-sample estimate of 1: ~10% off at most, typically


@settings(max_examples=200)
@given(conv_transposes(max_size=4), st.integers(0, 2**16), st.floats(0.01, 10))
def test_probed_error_of_a_neighbouring_layer_estimates_the_weight_distance(case, index, size):
    """A module exact for a layer with one weight moved by delta is off by delta / ||w||: the
    replacement's reported error estimates that (a wrong tap of the original, not of the module)."""
    layer, _ = case
    scale = layer.weight.norm().item()
    assume(scale > 0)
    other = copy.deepcopy(layer)
    with torch.no_grad():
        other.weight.view(-1)[index % other.weight.numel()] += size * scale
    config = TransposedConv.from_module(layer)
    for method in EXACT_METHODS:
        wrong = registry.method(method).build_module(other)
        assert impulse_error(layer, wrong) == pytest.approx(size, rel=1e-9)
        assert size / 2 < weights._probed_error(layer, wrong, config) < size * 2


@pytest.mark.parametrize("method", EXACT_METHODS)
def test_a_broken_replacement_reports_a_large_error(method, monkeypatch):
    """replace_conv_transpose runs the module it returns: a wrong weight, a shifted crop or
    padding, or a wrong output size all show up in the reported error."""
    torch.manual_seed(0)
    layer = nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1)
    build = registry.load(registry.method(method).module)  # the module class's builder
    owner = build.__self__  # that class: patched below, where the registry looks it up
    _, error = replace_conv_transpose(layer, method)
    assert error < 1e-12

    def one_weight(layer):
        return corrupted(build(layer), 7, 1.0)

    def shifted(layer):
        module = build(layer)
        if method == "subpixel":  # crop one more row at the top, one fewer at the bottom
            left, right, top, bottom = module.crop
            module.crop = (left, right, top + 1, bottom - 1)
        else:
            left, right, top, bottom = module.pad
            module.pad = (left, right, top - 1, bottom + 1)
        return module

    def wrong_size(layer):
        module = build(layer)
        if method == "subpixel":
            module.crop = (*module.crop[:3], module.crop[3] + 1)
        else:
            module.pad = (*module.pad[:3], module.pad[3] - 1)
        return module

    for broken, low in ((one_weight, 0.1), (shifted, 1.0)):
        monkeypatch.setattr(owner, build.__name__, broken)
        module, error = replace_conv_transpose(layer, method)
        assert error > low, broken.__name__
        assert error == pytest.approx(impulse_error(layer, module), rel=0.25), broken.__name__
    monkeypatch.setattr(owner, build.__name__, wrong_size)
    assert replace_conv_transpose(layer, method)[1] == math.inf


def test_probed_error_is_float64_even_for_float32_layers():
    """The probe runs both operators in float64 on the same weights: a float32 layer's exact
    replacement comes back with float64 rounding, not float32's ~1e-7."""
    torch.manual_seed(1)
    layer = nn.ConvTranspose2d(48, 24, 5, stride=(2, 3), padding=(2, 1), output_padding=(1, 0))
    for method in EXACT_METHODS:
        module, error = replace_conv_transpose(layer, method)
        assert module.conv.weight.dtype == torch.float32
        assert 0 <= error < 1e-13
