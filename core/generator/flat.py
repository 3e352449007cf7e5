"""The flat-input demonstration: a constant feature map through each variant's upsampling stage.

The picture behind the checkerboard strength (`core.checkerboard`): feed one stage's upsampling
layer an all-ones input and look at one output channel away from the borders. A layer that
upsamples evenly (a resize-convolution, sub-pixel convolution at ICNR initialisation) answers a
constant with a constant; a ConvTranspose2d whose s x s output phases sum different kernel taps
answers with a period-s grid. Each stage is measured on a float64 copy of its layer, so "flat"
means flat to rounding, and every panel of a stage is divided by one shared scale so that equal
numbers mean equal responses across variants.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core import checkerboard
from core.errors import ConfigError
from core.generator.config import VARIANT_LABELS
from core.generator.measures import CheckerboardNumbers
from core.generator.model import Generator

FLAT_WINDOW = 6  # interior output pixels shown per axis (more for strides above 3: two periods)
FLAT_TOLERANCE = 1e-9  # an interior whose spread is below this share of its size is flat


@dataclass(frozen=True, eq=False)
class FlatPanel:
    """One variant's stage answering an all-ones input: one output channel, an interior window."""

    name: str
    """The variant, one of `config.VARIANTS`."""
    label: str
    """Its name for people."""
    values: np.ndarray
    """float64 (w, w): the window of the channel's response, divided by the stage's `scale`."""
    rows: np.ndarray
    """int64 (w,): the window's output rows (in the stage's output, counted from 0)."""
    cols: np.ndarray
    """int64 (w,): the window's output columns."""
    phase_means: np.ndarray
    """float64 (s, s): the channel's mean response per output phase over the whole interior,
    divided by `scale`; [rh, rw] averages the pixels with row % s == rh and column % s == rw."""
    low: float
    """The smallest interior value of the channel, divided by `scale`."""
    high: float
    """The largest interior value of the channel, divided by `scale`."""
    channel_spread: float
    """`core.checkerboard.spread` of this channel's phase means: its own checkerboard strength."""
    strength: float | None
    """The layer's checkerboard strength over all its channels (the variant's stage strength)."""
    flat: bool
    """True when the channel's interior is constant (to rounding): no grid."""


@dataclass(frozen=True, eq=False)
class FlatStage:
    """One upsampling stage of every variant answering the same all-ones input."""

    stage: int
    """The stage, 1-based (1 follows the 4 x 4 stem)."""
    stride: int
    """The stage's stride: the period of any grid it paints."""
    channel: int
    """The output channel shown, 0-based (the same in every variant)."""
    out_channels: int
    """The stage's output channels."""
    scale: float
    """Every panel's values are divided by this: the largest |interior value| of the shown
    channel over the variants (1.0 where every response is zero)."""
    panels: Mapping[str, FlatPanel]
    """Variant name -> its panel, in the variants' order."""
    unmeasured: tuple[str, ...]
    """Variants whose layer could not be probed (no panel)."""

    @property
    def gridded(self) -> tuple[str, ...]:
        """The variants whose shown channel answers the constant with a pattern."""
        return tuple(name for name, p in self.panels.items() if not p.flat)

    @property
    def flat(self) -> tuple[str, ...]:
        """The variants whose shown channel answers the constant with a constant."""
        return tuple(name for name, p in self.panels.items() if p.flat)


@dataclass(frozen=True, eq=False)
class _Raw:
    """One measured channel before the shared scale: its window, phase means and extremes."""

    values: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    phase_means: np.ndarray
    low: float
    high: float
    spread: float
    flat: bool


def _window_side(stride: int) -> int:
    return max(FLAT_WINDOW, 2 * stride)


def _measure(module: nn.Module, stride: int, channel: int) -> _Raw:
    """Run a float64 CPU copy of `module` on an all-ones input; keep `channel`'s interior."""
    probe = copy.deepcopy(module).to(device="cpu", dtype=torch.float64).eval()
    side = _window_side(stride)
    found = checkerboard.constant_response_map(probe, stride, min_interior=side)
    (top, bottom), (left, right) = found.interior
    response = found.response[channel : channel + 1].detach()
    inner = response[0, top : bottom + 1, left : right + 1].numpy()
    means = checkerboard.interior_phase_means(response, found.interior, stride)
    low, high = float(inner.min()), float(inner.max())
    size = float(np.abs(inner).max())
    return _Raw(
        values=inner[:side, :side].copy(),
        rows=np.arange(top, top + min(side, inner.shape[0]), dtype=np.int64),
        cols=np.arange(left, left + min(side, inner.shape[1]), dtype=np.int64),
        phase_means=means[0].numpy().copy(),
        low=low,
        high=high,
        spread=checkerboard.spread(means),
        flat=high - low <= FLAT_TOLERANCE * max(size, 1e-300),
    )


def flat_stage(
    models: Mapping[str, Generator],
    numbers: Mapping[str, CheckerboardNumbers],
    stage: int,
    channel: int = 0,
) -> FlatStage:
    """Every variant's upsampling layer of one stage on the same all-ones input.

    Args:
        models: variant name -> its generator (all of one configuration), in the order to show.
        numbers: variant name -> its checkerboard numbers (for the layer's strength).
        stage: the stage, 1-based.
        channel: the output channel to show, 0-based.

    Returns:
        The `FlatStage`.

    Raises:
        ConfigError: for a stage or channel out of range.
    """
    if not models:
        raise ConfigError("models", "models must hold at least one generator")
    config = next(iter(models.values())).config
    if isinstance(stage, bool) or not isinstance(stage, int) or not 1 <= stage <= config.stages:
        raise ConfigError("stage", f"stage must be between 1 and {config.stages}, got {stage!r}")
    out_channels = config.channels[stage]
    if isinstance(channel, bool) or not isinstance(channel, int) or not 0 <= channel < out_channels:
        raise ConfigError(
            "channel", f"channel must be between 0 and {out_channels - 1}, got {channel!r}"
        )
    raw: dict[str, _Raw] = {}
    unmeasured = []
    for name, model in models.items():
        try:
            raw[name] = _measure(model.upsampling[stage - 1], config.stride, channel)
        except ConfigError:
            unmeasured.append(name)
    peak = max((max(abs(r.low), abs(r.high)) for r in raw.values()), default=0.0)
    scale = peak if peak > 0 else 1.0
    panels = {
        name: FlatPanel(
            name=name,
            label=VARIANT_LABELS[name],
            values=r.values / scale,
            rows=r.rows,
            cols=r.cols,
            phase_means=r.phase_means / scale,
            low=r.low / scale,
            high=r.high / scale,
            channel_spread=r.spread,
            strength=numbers[name].stage_strengths[stage - 1] if name in numbers else None,
            flat=r.flat,
        )
        for name, r in raw.items()
    }
    return FlatStage(
        stage=stage,
        stride=config.stride,
        channel=channel,
        out_channels=out_channels,
        scale=scale,
        panels=panels,
        unmeasured=tuple(unmeasured),
    )


def flat_stages(
    models: Mapping[str, Generator], numbers: Mapping[str, CheckerboardNumbers]
) -> tuple[FlatStage, ...]:
    """`flat_stage` of every stage, output channel 0, the first stage first.

    Args:
        models: variant name -> its generator (all of one configuration), in the order to show.
        numbers: variant name -> its checkerboard numbers.

    Returns:
        One `FlatStage` per stage.
    """
    config = next(iter(models.values())).config
    with torch.no_grad():
        return tuple(flat_stage(models, numbers, s) for s in range(1, config.stages + 1))
