"""Checkerboard strength and energy: definitions checked by brute force, and the behaviour users
rely on (resize-convolutions are flat, random stride-2 k3 transposed convolutions are not)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from core.checkerboard import (
    checkerboard_energy,
    checkerboard_energy_baseline,
    checkerboard_frequencies,
    checkerboard_mask,
    checkerboard_strength,
    constant_response,
    equal_weights_strength,
    phase_means,
    phase_spread,
    power_spectrum,
    random_weights_strength,
    spread,
)
from core.errors import ConfigError
from core.geometry.layer import TransposedConv
from core.geometry.output_size import axis_output
from core.overlap.counts import overlap_stats

NOISE_FLOOR = math.sqrt(torch.finfo(torch.float64).eps)  # float64 rounding, not a checkerboard
SEEDS = range(12)


def numpy_spread(means: np.ndarray) -> float:
    """The documented formula, written out in numpy."""
    m = means.reshape(means.shape[0], -1)
    power = (m**2).mean()
    return 0.0 if power == 0 else math.sqrt(m.var(axis=1).mean() / power)


# ----------------------------------------------------------------------- phase statistics


@settings(max_examples=200)
@given(
    shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(4, 12), st.integers(4, 12)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    margin=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    seed=st.integers(0, 1000),
)
def test_phase_means_and_spread_match_brute_force(shape, stride, margin, seed):
    _, c, h, w = shape
    assume(h - 2 * margin[0] >= stride[0] and w - 2 * margin[1] >= stride[1])
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    arr = x.numpy()
    expected = np.zeros((c, *stride))
    for rh in range(stride[0]):
        for rw in range(stride[1]):
            values = [
                arr[:, :, i, j]
                for i in range(margin[0], h - margin[0])
                for j in range(margin[1], w - margin[1])
                if i % stride[0] == rh and j % stride[1] == rw
            ]
            expected[:, rh, rw] = np.mean(values, axis=(0, 1))
    means = phase_means(x, stride, margin)
    assert np.allclose(means.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert phase_spread(x, stride, margin) == pytest.approx(numpy_spread(expected), abs=1e-12)
    assert 0.0 <= spread(means) <= 1.0


@st.composite
def axis_numbers(draw) -> tuple[int, int, int, int, int]:
    k, s, d = draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    return k, s, draw(st.integers(0, d * (k - 1) + 1)), draw(st.integers(0, max(s, d) - 1)), d


@settings(max_examples=200)
@given(h=axis_numbers(), w=axis_numbers())
def test_all_ones_layer_response_is_the_overlap_pattern(h, w):
    """With all-ones weights the phase means of the constant response are the overlap counts of
    core.overlap's interior pattern, and the strength is their relative spread."""
    k, s, p, op, d = zip(h, w, strict=True)
    config = TransposedConv.make(1, 1, k, s, p, op, dilation=d)
    assume(all(axis_output(a, 1) >= 1 for a in config.axes))
    layer = nn.ConvTranspose2d(1, 1, k, s, p, op, dilation=d, bias=False).double()
    nn.init.ones_(layer.weight)
    stats = overlap_stats(config, 1)
    ph, pw = (np.array(a.pattern) for a in stats.axes)
    expected = np.outer(ph[np.arange(s[0]) % len(ph)], pw[np.arange(s[1]) % len(pw)])[None]
    response = constant_response(layer)
    assert np.array_equal(response.numpy(), expected)
    assert checkerboard_strength(layer) == pytest.approx(numpy_spread(expected), abs=1e-12)
    assert (checkerboard_strength(layer) == 0) == stats.even


@settings(max_examples=150)
@given(h=axis_numbers(), w=axis_numbers())
def test_equal_weights_strength_is_the_all_ones_layers_strength(h, w):
    """The geometry-only strength, computed from tap counts, equals the measured strength of an
    all-ones ConvTranspose2d of that geometry (output_padding plays no part in the interior)."""
    k, s, p, op, d = zip(h, w, strict=True)
    config = TransposedConv.make(1, 1, k, s, p, op, dilation=d)
    assume(all(axis_output(a, 1) >= 1 for a in config.axes))
    layer = nn.ConvTranspose2d(1, 1, k, s, p, op, dilation=d, bias=False).double()
    nn.init.ones_(layer.weight)
    expected = checkerboard_strength(layer)
    assert equal_weights_strength(k, s, p, d) == pytest.approx(expected, abs=1e-12)


def test_equal_weights_strength_names_the_geometry_cause():
    assert equal_weights_strength(4, 2, 1) == 0.0  # k divisible by s: even with equal weights
    assert equal_weights_strength(2, 2, 0) == 0.0
    assert equal_weights_strength(3, 2, 1) == pytest.approx(math.sqrt(0.19))  # 1,2 x 1,2 taps
    with pytest.raises(ConfigError):
        equal_weights_strength(0, 2)
    with pytest.raises(ConfigError):
        equal_weights_strength(3, 2, -1)


@pytest.mark.parametrize(("k", "p"), [(4, 1), (3, 1), (2, 0)])
def test_random_weights_strength_whatever_the_kernel(k, p):
    """Random zero-mean weights give each phase its own sum of taps: the strength scatters around
    sqrt(1 - 1/s^2) for every kernel, divisible by the stride or not (one measurement: 0.871,
    0.875, 0.859 for k4, k3, k2 at stride 2). Median over 40 seeds of a 16-channel layer."""
    values = []
    for seed in range(40):
        torch.manual_seed(seed)
        layer = nn.ConvTranspose2d(16, 16, k, 2, p, bias=False).double()
        nn.init.normal_(layer.weight, 0.0, 0.02)
        values.append(checkerboard_strength(layer))
    assert random_weights_strength(2) == pytest.approx(math.sqrt(0.75))
    assert random_weights_strength((3, 3)) == pytest.approx(math.sqrt(8 / 9))
    assert abs(float(np.median(values)) - random_weights_strength(2)) < 0.05, values


# ------------------------------------------------------------------- modules with weights


def resize_conv(seed: int, mode: str, channels: int = 6, k: int = 3, s: int = 2) -> nn.Module:
    torch.manual_seed(seed)
    upsample = nn.Upsample(scale_factor=s, mode=mode)
    return nn.Sequential(upsample, nn.Conv2d(channels, channels, k, padding=k // 2)).double()


def fused_resize_conv(resize: nn.Sequential, s: int) -> nn.ConvTranspose2d:
    """The ConvTranspose2d equal to nearest Upsample(s) + Conv2d(k, padding=pc): kernel k + s - 1,
    the flipped conv kernel summed over s-wide boxes, padding k - 1 - pc (geometry notes)."""
    conv = resize[1]
    k, pc = conv.kernel_size[0], conv.padding[0]
    flipped = conv.weight.detach().flip(-1, -2).transpose(0, 1)  # (Cin, Cout, k, k)
    cin, cout = flipped.shape[:2]
    boxed = F.conv2d(
        F.pad(flipped.reshape(-1, 1, k, k), [s - 1] * 4),
        torch.ones(1, 1, s, s, dtype=flipped.dtype),
    ).reshape(cin, cout, k + s - 1, k + s - 1)
    fused = nn.ConvTranspose2d(cin, cout, k + s - 1, s, k - 1 - pc).double()
    with torch.no_grad():
        fused.weight.copy_(boxed)
        fused.bias.copy_(conv.bias)
    return fused


def test_fused_resize_conv_is_the_resize_conv():
    resize = resize_conv(0, "nearest")
    fused = fused_resize_conv(resize, 2)
    x = torch.randn(2, 6, 7, 9, dtype=torch.float64)
    assert torch.allclose(fused(x), resize(x), atol=1e-12)


def test_resize_convolutions_have_no_strength_and_random_k3s2_has_a_clear_one():
    """Over seeds: nearest/bilinear resize-convolutions and their fused ConvTranspose2d answer a
    constant with a constant (strength at float64 rounding level); a default-initialised
    ConvTranspose2d(k3, s2, p1) gives every seed a strength orders of magnitude above it."""
    flat, uneven = [], []
    for seed in SEEDS:
        nearest = resize_conv(seed, "nearest")
        flat += [
            checkerboard_strength(nearest),
            checkerboard_strength(resize_conv(seed, "bilinear")),
            checkerboard_strength(fused_resize_conv(nearest, 2)),
        ]
        torch.manual_seed(seed)
        uneven.append(checkerboard_strength(nn.ConvTranspose2d(6, 6, 3, 2, 1).double()))
    assert max(flat) < NOISE_FLOOR
    assert min(uneven) > 1e3 * NOISE_FLOOR
    assert min(uneven) > 1e3 * max(max(flat), torch.finfo(torch.float64).eps)


def test_strength_is_scale_free_and_infers_the_stride():
    torch.manual_seed(1)
    layer = nn.ConvTranspose2d(4, 3, (3, 5), (2, 3), (1, 2), bias=False).double()
    base = checkerboard_strength(layer)
    assert checkerboard_strength(layer, (2, 3)) == base
    assert constant_response(layer).shape == (3, 2, 3)
    with torch.no_grad():
        layer.weight.mul_(7.5)
    assert checkerboard_strength(layer) == pytest.approx(base, rel=1e-12)
    with torch.no_grad():
        layer.weight.zero_()
    assert checkerboard_strength(layer) == 0.0


def test_strength_ignores_the_borders():
    """A padded resize-convolution has uneven borders; the interior, and so the strength, is flat,
    while the same statistic over the whole output (margin 0) is not."""
    resize = resize_conv(3, "nearest")
    y = resize(torch.ones(1, 6, 8, 8, dtype=torch.float64))
    assert phase_spread(y, 2) > 1e3 * NOISE_FLOOR
    assert checkerboard_strength(resize) < NOISE_FLOOR


# ---------------------------------------------------------------------------- spectra


def brute_force_energy(images: np.ndarray, sh: int, sw: int) -> float:
    h, w = images.shape[-2:]
    hh, ww = h // sh * sh, w // sw * sw
    top, left = (h - hh) // 2, (w - ww) // 2
    x = images[..., top : top + hh, left : left + ww]
    x = x - x.mean(axis=(-2, -1), keepdims=True)
    power = (np.abs(np.fft.fft2(x)) ** 2).mean(axis=(0, 1))
    on = sum(
        power[u, v]
        for u in range(hh)
        for v in range(ww)
        if (u * sh) % hh == 0 and (v * sw) % ww == 0 and (u, v) != (0, 0)
    )
    return 0.0 if power.sum() == 0 else on / power.sum()


@settings(max_examples=150)
@given(
    shape=st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(3, 14), st.integers(3, 14)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    seed=st.integers(0, 1000),
)
def test_checkerboard_energy_matches_numpy(shape, stride, seed):
    x = np.random.default_rng(seed).normal(size=shape)
    assert checkerboard_energy(torch.from_numpy(x), stride) == pytest.approx(
        brute_force_energy(x, *stride), abs=1e-12
    )


def test_energy_of_periodic_smooth_and_constant_images():
    rng = np.random.default_rng(0)
    tile = rng.normal(size=(3, 2)) + 5.0
    periodic = torch.from_numpy(np.tile(tile, (8, 12)))  # period (3, 2), 24 x 24
    assert checkerboard_energy(periodic, (3, 2)) == pytest.approx(1.0, abs=1e-12)
    yy, xx = np.meshgrid(np.arange(24), np.arange(24), indexing="ij")
    smooth = torch.from_numpy(np.cos(2 * np.pi * (5 * yy + 7 * xx) / 24))
    assert checkerboard_energy(smooth, 2) == pytest.approx(0.0, abs=1e-12)
    assert checkerboard_energy(torch.full((2, 3, 8, 8), 4.0), 2) == 0.0


def test_energy_of_white_noise_is_near_the_baseline():
    """Statistical: the mean over images lies within 4 standard errors of the baseline."""
    noise = torch.randn(400, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    values = np.array([checkerboard_energy(img, 2) for img in noise])
    baseline = checkerboard_energy_baseline((16, 16), 2)
    assert abs(values.mean() - baseline) < 4 * values.std() / math.sqrt(len(values))


def test_conv_transpose_output_carries_checkerboard_energy_and_resize_conv_does_not():
    for seed in SEEDS:
        torch.manual_seed(seed)
        layer = nn.ConvTranspose2d(4, 4, 3, 2, 1).double()
        interior = layer(torch.ones(1, 4, 12, 12, dtype=torch.float64))[..., 2:-2, 2:-2]
        assert checkerboard_energy(interior, 2) == pytest.approx(1.0, abs=1e-9)
        resize = resize_conv(seed, "nearest", channels=4)
        flat = resize(torch.ones(1, 4, 12, 12, dtype=torch.float64))[..., 2:-2, 2:-2]
        assert checkerboard_energy(flat, 2) < NOISE_FLOOR


def test_masks_and_frequencies_agree_with_fft_layout():
    for size, stride in (((12, 12), 2), ((12, 9), (4, 3)), ((6, 6), 1)):
        sh, sw = (stride, stride) if isinstance(stride, int) else stride
        mask = checkerboard_mask(size, stride, shift=False)
        assert int(mask.sum()) == sh * sw - 1
        assert torch.equal(checkerboard_mask(size, stride), torch.fft.fftshift(mask))
        fy, fx = np.fft.fftfreq(size[0]), np.fft.fftfreq(size[1])
        marked = {(float(fy[u]), float(fx[v])) for u, v in torch.nonzero(mask).tolist()}
        wrapped = {((a + 0.5) % 1 - 0.5, (b + 0.5) % 1 - 0.5) for a, b in marked}
        found = set(checkerboard_frequencies(stride))
        assert len(found) == len(wrapped)
        for f in found:
            assert any(abs(f[0] - g[0]) < 1e-12 and abs(f[1] - g[1]) < 1e-12 for g in wrapped)
    images = torch.randn(3, 2, 10, 10, dtype=torch.float64)
    spectrum = power_spectrum(images)
    centred = images - images.mean(dim=(-2, -1), keepdim=True)
    expected = np.fft.fftshift((np.abs(np.fft.fft2(centred.numpy())) ** 2).mean(axis=(0, 1)))
    assert np.allclose(spectrum.numpy(), expected)


def test_bad_input_raises_config_error():
    layer = nn.ConvTranspose2d(2, 2, 3, 2, 1)
    calls = [
        lambda: phase_means(torch.ones(1, 1, 4, 4), 0),
        lambda: phase_means(torch.ones(1, 1, 4, 4), 2, margin=2),
        lambda: phase_means(torch.ones(4), 2),
        lambda: phase_spread(torch.ones(1, 1, 4, 4), "2"),
        lambda: checkerboard_strength("layer"),
        lambda: checkerboard_strength(nn.Upsample(scale_factor=2)),  # no in_channels to read
        lambda: checkerboard_strength(layer, in_channels=0),
        lambda: checkerboard_strength(layer, stride=(2, 2, 2)),
        lambda: checkerboard_strength(nn.Conv2d(2, 2, 3, stride=2)),  # downsamples
        lambda: checkerboard_energy(torch.ones(1, 1, 1, 1), 2),
        lambda: checkerboard_energy("pixels", 2),
        lambda: checkerboard_mask((10, 9), 2),
        lambda: checkerboard_energy_baseline((1, 1), 2),
    ]
    for call in calls:
        with pytest.raises(ConfigError) as info:
            call()
        assert info.value.parameter and str(info.value)
