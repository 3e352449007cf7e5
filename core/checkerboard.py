"""Checkerboard strength of layers with actual weights, and checkerboard energy of outputs.

Two numbers, both 0 for an output free of the stride-s pattern:

- **Checkerboard strength** of an upsampling module: feed it a constant input (all ones, every
  channel) and look at the interior of the response. A module that upsamples evenly answers a
  constant with a constant; a ConvTranspose2d whose kernel taps are shared unevenly between the
  s x s output phases answers with a period-s pattern. With m[c, rh, rw] the mean interior response
  of channel c over the output pixels (o_h, o_w) with o_h % s_h == rh and o_w % s_w == rw:

      strength = sqrt( mean_c var_phases(m[c]) / mean_{c, phases}(m^2) )   in [0, 1],

  the relative spread across phases (population variance; 0 when the response is identically
  zero). Scale-free: multiplying the weights by a constant does not change it. A bias raises the
  denominator: a pattern small next to the mean response is a faint one.

  A transposed convolution with stride s > 1 has two separate reasons to answer a constant with a
  pattern. (1) Geometry: when kernel_size is not a multiple of the stride, the phases receive
  different numbers of kernel taps, so even equal weights print a pattern
  (`equal_weights_strength`: k3 s2 gives 0.436, k4 s2 gives 0). (2) Weights: every phase sums its
  own taps, so with random zero-mean weights (a network at initialisation) the phase sums are
  independent draws around zero, whatever the kernel size: their spread over their root mean
  square is about sqrt(1 - 1/(s_h s_w)) (`random_weights_strength`: 0.866 for s = 2).
- **Checkerboard energy** of an image batch: the share of the (mean-removed) power spectrum that
  lies on the checkerboard frequencies (a/s_h, b/s_w) cycles per pixel, a in 0..s_h-1,
  b in 0..s_w-1, (0, 0) excluded: exactly where a pattern of period (s_h, s_w) puts its energy.
  1 for a purely periodic pattern, 0 for an image with no such component; white noise gives about
  `checkerboard_energy_baseline(size, stride)`.

Interior (as in core.overlap): output positions whose receptive field lies inside the input, so no
border or padding effect reaches them. For an arbitrary module it is measured: one input pixel
(an impulse, random positive values across channels) lights the output positions
[i*s + a, i*s + b]; the interior is [b, (n - 1)*s + a] (for a ConvTranspose, a = -p and
b = d(k - 1) - p: the overlap module's interior).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from core.errors import ConfigError
from core.geometry.layer import Axis
from core.geometry.phases import taps_per_phase

StrideLike = int | Sequence[int]

_MAX_PROBE = 1025  # largest probe input side tried when locating a module's footprint
_MAX_PROBE_ELEMENTS = 1 << 24  # largest probe input (channels x side x side) tried


_MAX_STRIDE = 1 << 10  # largest checkerboard period per axis (stacked strides multiply)
_MAX_SIDE = 1 << 12  # largest image side for masks and baselines (as MAX_OVERLAP_SIDE)


def _pair(
    name: str, value: StrideLike, minimum: int = 1, maximum: int = _MAX_SIDE
) -> tuple[int, int]:
    """(H, W) from an int or two ints, each in minimum..maximum, or ConfigError."""
    values = (value, value) if isinstance(value, numbers.Integral) else value
    if (
        isinstance(value, (bool, str, bytes))
        or not isinstance(values, Sequence)
        or len(values) != 2
        or any(
            isinstance(v, bool)
            or not isinstance(v, numbers.Integral)
            or not minimum <= v <= maximum
            for v in values
        )
    ):
        raise ConfigError(
            name, f"{name} must be an int in {minimum}..{maximum} or two (H, W), got {value!r}"
        )
    return int(values[0]), int(values[1])


def _stride_pair(stride: StrideLike) -> tuple[int, int]:
    return _pair("stride", stride, maximum=_MAX_STRIDE)


def _as_nchw(images: torch.Tensor) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        try:
            images = torch.as_tensor(images)
        except (TypeError, ValueError, RuntimeError) as e:
            raise ConfigError("images", f"images must be a tensor (N, C, H, W): {e}") from None
    if not 2 <= images.ndim <= 4 or images.numel() == 0:
        raise ConfigError(
            "images", f"images must be (N, C, H, W), (C, H, W) or (H, W), got {tuple(images.shape)}"
        )
    images = images.detach()
    while images.ndim < 4:
        images = images.unsqueeze(0)
    if not images.is_floating_point():
        images = images.double()
    return images


# --------------------------------------------------------------------------- phase statistics


def phase_means(
    output: torch.Tensor, stride: StrideLike, margin: int | Sequence[int] = 0
) -> torch.Tensor:
    """Mean of `output` (N, C, H, W) per channel and output phase, ignoring `margin` pixels at
    every border: shape (C, s_h, s_w); entry [c, rh, rw] averages the positions with
    o_h % s_h == rh and o_w % s_w == rw (indices of the uncropped output)."""
    sh, sw = _stride_pair(stride)
    mh, mw = _pair("margin", margin, minimum=0)
    x = _as_nchw(output)
    h, w = x.shape[-2:]
    if h - 2 * mh < sh or w - 2 * mw < sw:
        raise ConfigError(
            "margin",
            f"an output of {h} x {w} minus a margin of {mh}, {mw} leaves fewer pixels than one "
            f"period ({sh} x {sw}): use a larger input",
        )
    inner = x[..., mh : h - mh, mw : w - mw]
    means = torch.empty(x.shape[1], sh, sw, dtype=x.dtype, device=x.device)
    for rh in range(sh):
        for rw in range(sw):
            part = inner[..., (rh - mh) % sh :: sh, (rw - mw) % sw :: sw]
            means[:, rh, rw] = part.mean(dim=(0, 2, 3))
    return means


def spread(means: torch.Tensor) -> float:
    """sqrt(mean over channels of the variance across phases / mean square): the relative
    spread of phase means (C, s_h, s_w), in [0, 1]; 0.0 for an all-zero response."""
    m = means.detach().double().reshape(means.shape[0], -1)
    power = (m**2).mean()
    if power == 0:
        return 0.0
    variance = m.var(dim=1, unbiased=False).mean()
    return float(torch.sqrt(variance / power).clamp(max=1.0))


def phase_spread(
    output: torch.Tensor, stride: StrideLike, margin: int | Sequence[int] = 0
) -> float:
    """`spread(phase_means(output, stride, margin))` for any output (N, C, H, W)."""
    return spread(phase_means(output, stride, margin))


# ------------------------------------------------------------------------- modules, measured


def _first_parameter(module: nn.Module) -> tuple[torch.dtype, torch.device]:
    for p in module.parameters():
        return p.dtype, p.device
    return torch.get_default_dtype(), torch.device("cpu")


def _in_channels(module: nn.Module, in_channels: int | None) -> int:
    if in_channels is not None:
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
            raise ConfigError(
                "in_channels", f"in_channels must be a positive int, got {in_channels!r}"
            )
        return in_channels
    for sub in module.modules():
        value = getattr(sub, "in_channels", None)
        if isinstance(value, int) and value >= 1:
            return value
    raise ConfigError(
        "in_channels", "could not read in_channels from the module: pass in_channels="
    )


def _forward(module: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """The module's output for x, or None where torch refuses this input size."""
    try:
        y = module(x)
    except RuntimeError:
        return None
    if not isinstance(y, torch.Tensor) or y.ndim != 4 or y.numel() == 0:
        return None
    return y


@torch.no_grad()
def _footprint(
    module: nn.Module, channels: int, stride: tuple[int, int] | None, dtype, device
) -> tuple[tuple[int, int], tuple[tuple[int, int] | None, ...]]:
    """(stride, per-axis offsets (a, b) of one input pixel's footprint [i*s + a, i*s + b]).

    The impulse sits at the centre of probes of growing size; a measurement is accepted once
    the footprint stays clear of the output's edges by its own width and the next larger probe
    measures the same offsets (so taps cropped away by padding, or hidden past a dilation gap,
    cannot go unnoticed). Offsets are None when no probe up to `_MAX_PROBE` responds at all (a
    module ignoring its input).
    """
    gen = torch.Generator().manual_seed(0)
    weights = (0.5 + torch.rand(channels, generator=gen, dtype=torch.float64)).to(dtype)
    previous, ever_lit = None, False
    n = 5
    while n <= _MAX_PROBE and channels * (n + 1) ** 2 <= _MAX_PROBE_ELEMENTS:
        zeros = torch.zeros(1, channels, n, n, dtype=dtype, device=device)
        base = _forward(module, zeros)
        grown = _forward(module, torch.zeros(1, channels, n + 1, n + 1, dtype=dtype, device=device))
        if base is None or grown is None:
            n = 2 * n + 1
            continue
        if stride is None:
            found = (grown.shape[-2] - base.shape[-2], grown.shape[-1] - base.shape[-1])
            if min(found) < 1:
                raise ConfigError(
                    "stride",
                    f"could not infer the module's upsampling factor (output grows by {found} per "
                    f"input pixel): pass stride=",
                )
            stride = found
        impulse = zeros.clone()
        c = n // 2
        impulse[0, :, c, c] = weights.to(device)
        diff = (module(impulse) - base).abs().amax(dim=(0, 1))
        peak = float(diff.max())
        offsets, clear = None, False
        if peak > 0 and math.isfinite(peak):
            ever_lit = True
            lit = diff > peak * 64 * torch.finfo(dtype).eps
            offsets, clear = [], True
            for dim, s in ((1, stride[0]), (0, stride[1])):
                where = torch.nonzero(lit.any(dim=dim)).flatten()
                lo, hi = int(where.min()), int(where.max())
                width = hi - lo + 1
                clear &= lo >= width and lit.shape[1 - dim] - 1 - hi >= width
                offsets.append((lo - c * s, hi - c * s))
            offsets = tuple(offsets)
        if clear and offsets == previous:
            return stride, offsets
        previous = offsets if clear else None
        n = 2 * n + 1
    if not ever_lit and stride is not None:
        return stride, (None, None)
    raise ConfigError(
        "module",
        f"could not locate the module's footprint on probe inputs up to {n // 2} pixels: pass a "
        f"plain upsampling layer (ConvTranspose2d, Upsample + Conv2d, Conv2d + PixelShuffle)",
    )


Box = tuple[tuple[int, int], tuple[int, int]]
"""((top, bottom), (left, right)): an inclusive box of output rows and columns."""


class ConstantResponse(NamedTuple):
    """What `constant_response_map` returns."""

    response: torch.Tensor
    """(C, H, W): the module's output for an all-ones input."""
    interior: Box
    """Where no border effect reaches, in the output's coordinates (inclusive)."""
    stride: tuple[int, int]
    """The module's upsampling factor per axis (given or inferred)."""


@torch.no_grad()
def constant_response_map(
    module: nn.Module,
    stride: StrideLike | None = None,
    *,
    in_channels: int | None = None,
    min_interior: int | Sequence[int] = 0,
) -> ConstantResponse:
    """The response of `module` to an all-ones input, and where its interior lies.

    The input is made large enough that the interior (the output pixels no border effect
    reaches, see the module docstring) spans at least two periods per axis, and at least
    `min_interior` pixels.

    Args:
        module: an upsampling module (ConvTranspose2d, Upsample + Conv2d, ...), run as it is (in
            its own dtype and device; put it in eval mode if it holds batch norm).
        stride: its upsampling factor (int or (H, W)); None infers it from how the output grows
            with the input.
        in_channels: its input channels; None reads them from the module.
        min_interior: the fewest interior output pixels wanted per axis (int or (H, W)).

    Returns:
        A `ConstantResponse`: the output (C, H, W) of the module for a (1, C_in, n_h, n_w)
        all-ones input, its interior box ((top, bottom), (left, right)), inclusive, in that
        output's coordinates, and the stride.

    Raises:
        ConfigError: for something that is not a module, or whose footprint cannot be located.
    """
    if not isinstance(module, nn.Module):
        raise ConfigError(
            "module", f"module must be a torch nn.Module, got {type(module).__name__}"
        )
    channels = _in_channels(module, in_channels)
    dtype, device = _first_parameter(module)
    pair = None if stride is None else _stride_pair(stride)
    wanted = _pair("min_interior", min_interior, minimum=0, maximum=_MAX_PROBE)
    pair, offsets = _footprint(module, channels, pair, dtype, device)
    wanted = tuple(max(w, 2 * s) for w, s in zip(wanted, pair, strict=True))
    # Input side per axis so that the interior [b, (n - 1)*s + a] spans at least 2 periods.
    sizes = [
        max(1, -(-(off[1] - off[0]) // s)) + 3 if off is not None else 2 * s
        for s, off in zip(pair, offsets, strict=True)
    ]
    while True:
        y = _forward(module, torch.ones(1, channels, *sizes, dtype=dtype, device=device))
        if y is None:  # pragma: no cover - the probe ran at smaller sizes
            raise ConfigError("module", "the module refused a constant input")
        box = []
        for n, s, off, length in zip(sizes, pair, offsets, y.shape[-2:], strict=True):
            if off is None:
                box.append((0, length - 1))
            else:
                box.append((max(off[1], 0), min((n - 1) * s + off[0], length - 1)))
        short = [hi - lo + 1 < w for (lo, hi), w in zip(box, wanted, strict=True)]
        if not any(short) or max(sizes) > _MAX_PROBE:
            break
        sizes = [2 * n if too_short else n for n, too_short in zip(sizes, short, strict=True)]
    return ConstantResponse(y[0], (box[0], box[1]), pair)


def interior_phase_means(response: torch.Tensor, interior: Box, stride: StrideLike) -> torch.Tensor:
    """Phase means (C, s_h, s_w) of a response's interior, indexed by the phase in the uncropped
    output: entry [c, rh, rw] averages the interior pixels (o_h, o_w) of channel c with
    o_h % s_h == rh and o_w % s_w == rw.

    Args:
        response: (C, H, W) or (N, C, H, W), e.g. from `constant_response_map`.
        interior: ((top, bottom), (left, right)), inclusive.
        stride: the period per axis.

    Returns:
        The phase means.
    """
    pair = _stride_pair(stride)
    (top, bottom), (left, right) = interior
    inner = response[..., top : bottom + 1, left : right + 1]
    means = phase_means(inner, pair)
    # Re-index phases to the uncropped output: shift by the crop offsets.
    return torch.roll(means, shifts=(top % pair[0], left % pair[1]), dims=(1, 2))


def constant_response(
    module: nn.Module, stride: StrideLike | None = None, *, in_channels: int | None = None
) -> torch.Tensor:
    """Phase means (C, s_h, s_w) of the interior response of `module` to an all-ones input.

    `stride`: the module's upsampling factor (int or (H, W)); None infers it from how the output
    grows with the input. The module is run as it is (put it in eval mode if it holds batch norm).
    """
    found = constant_response_map(module, stride, in_channels=in_channels)
    return interior_phase_means(found.response, found.interior, found.stride)


def checkerboard_strength(
    module: nn.Module, stride: StrideLike | None = None, *, in_channels: int | None = None
) -> float:
    """Relative spread, across the s x s output phases, of the interior response of `module`
    (e.g. an nn.ConvTranspose2d or Upsample + Conv2d) to a constant input: 0 for an even
    upsampler, larger for a stronger checkerboard (at most 1). See the module docstring.

    Args:
        module: the upsampling module with its actual weights, run as it is (in its own dtype
            and device; put it in eval mode if it holds batch norm).
        stride: its upsampling factor (an int or (H, W)); None infers it from how the output
            grows with the input.
        in_channels: its input channels; None reads them from the module.

    Returns:
        The strength, in [0, 1].

    Raises:
        ConfigError: for something that is not a module, or whose footprint cannot be located.

    Example:
        >>> layer = nn.ConvTranspose2d(1, 1, kernel_size=3, stride=2, bias=False)
        >>> _ = nn.init.ones_(layer.weight)  # equal weights: only the geometry's pattern
        >>> round(checkerboard_strength(layer), 3)  # k3 s2: the phases get 1 or 2 taps
        0.436
        >>> resize = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(1, 1, 3, padding=1))
        >>> round(checkerboard_strength(resize), 6)  # any weights: an even upsampler
        0.0
    """
    return spread(constant_response(module, stride, in_channels=in_channels))


def equal_weights_strength(
    kernel_size: StrideLike,
    stride: StrideLike,
    padding: StrideLike = 0,
    dilation: StrideLike = 1,
) -> float:
    """`checkerboard_strength` of a ConvTranspose2d of this geometry whose weights are all equal
    (no bias): the part of the pattern that comes from the geometry alone, i.e. from the uneven
    number of taps per output phase. 0 when every kernel side (times its dilation spacing) splits
    evenly over the stride, e.g. k4 s2; 0.436 for k3 s2. Computed exactly from the tap counts."""
    k = _pair("kernel_size", kernel_size)
    s = _stride_pair(stride)
    p = _pair("padding", padding, minimum=0)
    d = _pair("dilation", dilation)
    rows, cols = (
        torch.tensor(taps_per_phase(Axis(ki, si, pi, 0, di)), dtype=torch.float64)
        for ki, si, pi, di in zip(k, s, p, d, strict=True)
    )
    return spread(torch.outer(rows, cols)[None])


def random_weights_strength(stride: StrideLike) -> float:
    """The `checkerboard_strength` a transposed convolution with stride s tends to at random
    zero-mean initialisation, whatever its kernel size: sqrt(1 - 1/(s_h s_w)).

    Each of the s_h s_w phases sums its own kernel taps, so its response to a constant is an
    independent zero-mean draw: the expected variance across phases is (1 - 1/(s_h s_w)) times
    the expected mean square (0.866 for s = 2, 0.943 for s = 3), whatever the number of taps per
    phase. Measured values scatter around it (fewer channels, more scatter). The geometry's own
    pattern (`equal_weights_strength`) shows once the weights share a non-zero mean, as trained
    weights often do, not at zero-mean initialisation.
    """
    sh, sw = _stride_pair(stride)
    return math.sqrt(1.0 - 1.0 / (sh * sw))


# ------------------------------------------------------------------------------ spectra


def _crop_to_periods(x: torch.Tensor, sh: int, sw: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    hh, ww = (h // sh) * sh, (w // sw) * sw
    if hh == 0 or ww == 0:
        raise ConfigError("images", f"images of {h} x {w} are smaller than one period {sh} x {sw}")
    top, left = (h - hh) // 2, (w - ww) // 2
    return x[..., top : top + hh, left : left + ww]


def power_spectrum(images: torch.Tensor, shift: bool = True) -> torch.Tensor:
    """Mean |FFT2|^2 over images and channels, each with its mean removed (float64, (H, W));
    with `shift`, zero frequency at [H // 2, W // 2] (as numpy.fft.fftshift)."""
    x = _as_nchw(images).double()
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(x).abs().square().mean(dim=(0, 1))
    return torch.fft.fftshift(power) if shift else power


def checkerboard_mask(size: Sequence[int], stride: StrideLike, shift: bool = True) -> torch.Tensor:
    """Bool (H, W): the bins at (a/s_h, b/s_w) cycles per pixel, DC excluded. H, W must be
    multiples of the stride (crop first); with `shift`, laid out like `power_spectrum`."""
    sh, sw = _stride_pair(stride)
    h, w = _pair("size", tuple(size) if isinstance(size, torch.Size) else size)
    if h % sh or w % sw:
        raise ConfigError(
            "size", f"size {h} x {w} must be positive multiples of the stride {sh} x {sw}"
        )
    rows = torch.zeros(h, dtype=torch.bool)
    rows[:: h // sh] = True
    cols = torch.zeros(w, dtype=torch.bool)
    cols[:: w // sw] = True
    mask = rows[:, None] & cols[None, :]
    mask[0, 0] = False
    return torch.fft.fftshift(mask) if shift else mask


def checkerboard_frequencies(stride: StrideLike) -> list[tuple[float, float]]:
    """The checkerboard frequencies (fy, fx) in cycles per pixel, in [-0.5, 0.5), DC excluded."""
    sh, sw = _stride_pair(stride)

    def wrap(f: float) -> float:
        return (f + 0.5) % 1.0 - 0.5

    return [(wrap(a / sh), wrap(b / sw)) for a in range(sh) for b in range(sw) if (a, b) != (0, 0)]


def checkerboard_energy(images: torch.Tensor, stride: StrideLike) -> float:
    """Fraction of the mean-removed power spectrum of `images` (N, C, H, W) at the checkerboard
    frequencies (a/s_h, b/s_w), DC excluded: in [0, 1]; 0.0 for constant images.

    The images are first cropped (centred) to multiples of the stride so that these frequencies
    fall exactly on FFT bins.

    Args:
        images: a batch (N, C, H, W), or an image (C, H, W) or (H, W), any real dtype.
        stride: the period looked for (an int or (H, W)): the upsampling factor, or the
            product of the strides of stacked layers.

    Returns:
        The fraction, in [0, 1].

    Raises:
        ConfigError: for images that are not (N, C, H, W), (C, H, W) or (H, W), images
            smaller than one period, or a bad stride.

    Example:
        >>> board = torch.tensor([[1.0, -1.0], [-1.0, 1.0]]).repeat(4, 4)[None, None]
        >>> checkerboard_energy(board, 2), checkerboard_energy(torch.ones(1, 1, 8, 8), 2)
        (1.0, 0.0)
    """
    sh, sw = _stride_pair(stride)
    x = _crop_to_periods(_as_nchw(images), sh, sw)
    power = power_spectrum(x, shift=False)
    total = power.sum()
    if total == 0:
        return 0.0
    mask = checkerboard_mask(power.shape, (sh, sw), shift=False).to(power.device)
    return float(power[mask].sum() / total)


def checkerboard_energy_baseline(size: Sequence[int], stride: StrideLike) -> float:
    """Expected `checkerboard_energy` of white noise of this size: (s_h*s_w - 1) / (H*W - 1)
    after the crop to multiples of the stride (a reference level for plots)."""
    sh, sw = _stride_pair(stride)
    h, w = ((v // s) * s for v, s in zip(_pair("size", size), (sh, sw), strict=True))
    if h < 1 or w < 1:
        raise ConfigError("size", f"size {size!r} is smaller than one period {sh} x {sw}")
    cells = h * w
    return (sh * sw - 1) / (cells - 1) if cells > 1 else 0.0
