"""Power spectra of generated images, one shared colour range, and the checkerboard frequencies
of every upsampling stage.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core import checkerboard
from core.errors import ConfigError
from core.generator.config import MAX_STRIDE, GeneratorConfig, int_in
from core.hosted import (  # the hosted-demo caps
    MAX_RESOLUTION,
    MAX_STAGES,
)


def display_spectrum(output: torch.Tensor | np.ndarray) -> np.ndarray:
    """log10 of the mean power spectrum of (N, C, H, W) images, for display: float32 (H, W).

    `core.checkerboard.power_spectrum` of the mean-removed images under a Hann window (the window
    stops the image borders, which the FFT wraps around, from painting a bright cross through
    the centre over the checkerboard peaks on the axes). Zero frequency at [H // 2, W // 2];
    that bin is NaN (masked): the mean is removed, so it holds only window leakage, and its
    tiny value would stretch any colour scale. Other bins are floored 12 decades below the
    peak (a display floor; `spectrum_range` picks the colour range from percentiles).

    Args:
        output: (N, C, H, W) images (or (C, H, W), (H, W)), finite.

    Returns:
        float32 (H, W) log10 power.
    """
    if isinstance(output, torch.Tensor):
        x = output.detach().double().cpu()
    else:
        try:
            x = torch.from_numpy(np.asarray(output, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                "images", f"images must be a numeric (N, C, H, W) array: {exc}"
            ) from None
    if not 2 <= x.ndim <= 4 or x.numel() == 0 or not torch.isfinite(x).all():
        raise ConfigError(
            "images", f"images must be finite, shaped (N, C, H, W), got shape {tuple(x.shape)}"
        )
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    h, w = x.shape[-2:]
    window = torch.outer(
        torch.hann_window(h + 2, periodic=False, dtype=torch.float64)[1:-1],
        torch.hann_window(w + 2, periodic=False, dtype=torch.float64)[1:-1],
    )
    power = checkerboard.power_spectrum(x * window).numpy()
    floor = max(float(power.max(initial=0.0)) * 1e-12, 1e-30)
    log_power = np.log10(np.maximum(power, floor)).astype(np.float32)
    log_power[h // 2, w // 2] = np.nan  # the DC bin: masked
    return log_power


SPECTRUM_LOW_PERCENTILE = 20.0  # the bottom of the shared colour scale, over all panels' bins


def spectrum_range(
    spectra: Sequence[np.ndarray], low_percentile: float = SPECTRUM_LOW_PERCENTILE
) -> tuple[float, float]:
    """One colour range (low, high) in log10 power for several `display_spectrum` panels, so
    that they can be compared: high is the largest finite bin of any panel, low the
    `low_percentile` percentile of all their finite bins pooled: a smooth variant (bilinear
    resize-conv) has bins 10 decades down, and the exact zeros some upsamplers leave sit on the
    display floor; letting those set the bottom would squeeze every other panel into a few
    colours. NaN (the masked DC bin) is ignored.

    Args:
        spectra: `display_spectrum` panels.
        low_percentile: the percentile (0..100) of the pooled bins that sets the bottom.

    Returns:
        (low, high) in log10 power; (0, 1) when there is nothing finite.
    """
    if isinstance(low_percentile, bool) or not isinstance(low_percentile, numbers.Real):
        raise ConfigError(
            "low_percentile", f"low_percentile must be a number, got {low_percentile!r}"
        )
    if not 0 <= low_percentile < 100:
        raise ConfigError(
            "low_percentile", f"low_percentile must be in [0, 100), got {low_percentile!r}"
        )
    values = [np.asarray(v, dtype=np.float64).ravel() for v in spectra]
    pooled = np.concatenate(values) if values else np.empty(0)
    pooled = pooled[np.isfinite(pooled)]
    if pooled.size == 0:
        return 0.0, 1.0
    low, high = float(np.percentile(pooled, low_percentile)), float(pooled.max())
    if high - low < 1e-6:  # flat spectra: give the scale some width
        low, high = low - 0.5, high + 0.5
    return low, high


def checkerboard_marks(
    height: int, width: int, stride: int, orders: int = 1
) -> list[dict[str, float | int]]:
    """Checkerboard frequencies of `orders` stacked stride-`stride` stages, to mark on a spectrum.

    Order 1 is the last stage (period `stride` pixels), order 2 the stage before (period
    stride**2), ...; each frequency is listed once, at the lowest order that makes it. Each mark:
    "fy", "fx" (cycles per pixel, -0.5..0.5), "row", "col" (the nearest bin of a centred
    height x width spectrum such as `display_spectrum`'s), "period" (pixels), "order". Periods
    longer than the image are left out.

    Args:
        height: the spectrum's rows.
        width: the spectrum's columns.
        stride: the stages' stride.
        orders: how many stages from the end to mark.

    Returns:
        The marks, order 1 first.
    """
    height = int_in("height", height, 1, MAX_RESOLUTION)
    width = int_in("width", width, 1, MAX_RESOLUTION)
    stride = int_in("stride", stride, 1, MAX_STRIDE)
    orders = int_in("orders", orders, 1, MAX_STAGES)
    marks: list[dict[str, float | int]] = []
    seen: set[tuple[float, float]] = set()
    for order in range(1, orders + 1 if stride > 1 else 1):
        period = stride**order
        if period > max(height, width):  # finer than the spectrum's bins can show
            break
        for fy, fx in checkerboard.checkerboard_frequencies(period):
            if (fy, fx) in seen:
                continue
            seen.add((fy, fx))
            row = (math.floor(fy * height + 0.5) + height // 2) % height
            col = (math.floor(fx * width + 0.5) + width // 2) % width
            marks.append(
                {"fy": fy, "fx": fx, "row": row, "col": col, "period": period, "order": order}
            )
    return marks


# Longest period whose checkerboard frequencies are marked beyond the last stage's: marks
# 1/period cycles/px apart; a finer grid of marks would cover a spectrum panel of any size.
MAX_MARKED_PERIOD = 4


@dataclass(frozen=True)
class StagePeriod:
    """Where one upsampling stage's period-stride pattern lands in the final image."""

    stage: int
    """The stage's number, 1-based: 1 is the first stage after the 4 x 4 stem."""
    period: int
    """The pattern's period in the final image, in pixels: stride ** order."""
    order: int
    """Stages from the end, counting this one: 1 for the last stage, n for the first of n."""
    marked: bool
    """True when the spectra circle its checkerboard frequencies (see `stage_periods`)."""
    fits_image: bool
    """True when the period is at most the image's shorter side (else it cannot show)."""

    def as_dict(self) -> dict[str, int | bool]:
        """Plain data, the entry `stage_periods` used to give: "stage", "period", "order",
        "marked" (`fits_image` is period <= the image's shorter side)."""
        return {
            "stage": self.stage,
            "period": self.period,
            "order": self.order,
            "marked": self.marked,
        }


def stage_periods(config: GeneratorConfig) -> list[StagePeriod]:
    """Where each upsampling stage's period-stride pattern lands in the final image.

    Stage j (1-based) of n prints its pattern at its own output resolution; the n - j stages
    after it upsample by the stride each, so in the image its period is stride**(n - j + 1)
    pixels (the last stage: the stride itself). One entry per stage, last stage first; "marked"
    (the spectra circle its frequencies): the last stage's (period = stride) always, earlier
    stages' while their period is at most MAX_MARKED_PERIOD (finer grids of marks would cover
    the whole panel); never a period longer than the image, nor anything for stride 1.

    Args:
        config: the generator architecture.

    Returns:
        One `StagePeriod` per stage, the last stage first.
    """
    side = min(config.image_size)
    entries = []
    for order in range(1, config.stages + 1):
        period = config.stride**order
        entries.append(
            StagePeriod(
                stage=config.stages - order + 1,
                period=period,
                order=order,
                marked=config.stride > 1
                and period <= side
                and (order == 1 or period <= MAX_MARKED_PERIOD),
                fits_image=period <= side,
            )
        )
    return entries


def marks_for(config: GeneratorConfig) -> list[dict[str, float | int]]:
    """The checkerboard frequencies to mark on this generator's spectra: `checkerboard_marks`
    of the stages that `stage_periods` marks (none for stride 1).

    Args:
        config: the generator architecture.

    Returns:
        The marks, as `checkerboard_marks` gives them.
    """
    h, w = config.image_size
    marked = [e.order for e in stage_periods(config) if e.marked]
    return checkerboard_marks(h, w, config.stride, orders=max(marked)) if marked else []


def frequency_axes(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (cycles per pixel) of the rows and of the columns of a centred spectrum.

    Args:
        height: the spectrum's rows.
        width: the spectrum's columns.

    Returns:
        (frequency_y (H,), frequency_x (W,)), ascending from -0.5.
    """
    return np.fft.fftshift(np.fft.fftfreq(height)), np.fft.fftshift(np.fft.fftfreq(width))
