"""What the page measures on a generator variant: how strongly each upsampling layer prints a
checkerboard (`core.checkerboard.checkerboard_strength`), how much of its pictures' power lies
at the checkerboard frequencies (`core.checkerboard.checkerboard_energy`, also against white
noise's), the two reference strengths the page explains those with, and a fit's PSNR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core import checkerboard
from core.errors import ConfigError
from core.generator.config import GeneratorConfig
from core.generator.model import Generator


@dataclass(frozen=True)
class StrengthReference:
    """What a ConvTranspose2d stage's checkerboard strength is made of, for this geometry."""

    equal_weights: float
    """`core.checkerboard.equal_weights_strength`: the strength with all weights equal, from the
    geometry alone (uneven tap counts per output phase); 0..1, 0 where kernel_size splits evenly
    over the stride, and for stride 1."""
    random_weights: float
    """`core.checkerboard.random_weights_strength`: what zero-mean random weights give at
    initialisation for any kernel size, sqrt(1 - 1/stride**2) (0.866 for stride 2); 0 for
    stride 1."""

    @property
    def uneven_taps(self) -> bool:
        """True when the phases get different numbers of taps (equal weights print a grid)."""
        return self.equal_weights > 0

    def as_dict(self) -> dict[str, float]:
        """Plain data: "equal_weights", "random_weights"."""
        return {"equal_weights": self.equal_weights, "random_weights": self.random_weights}


@dataclass(frozen=True)
class CheckerboardNumbers:
    """The checkerboard numbers of one variant: of its layers and of its pictures."""

    strength: float | None
    """The largest stage strength (0 = no checkerboard, at most 1); None when no stage could be
    probed."""
    stage_strengths: tuple[float | None, ...]
    """`core.checkerboard.checkerboard_strength` of each stage's upsampling layer, the first
    stage first; 0.0 each for stride 1; None for a layer that cannot be probed."""
    energy: float
    """`core.checkerboard.checkerboard_energy`: the share (0..1) of the pictures' mean-removed
    power at the stride's checkerboard frequencies; 0.0 for stride 1."""
    energy_vs_noise: float | None
    """`energy` over white noise's at this size and stride (1 = as much as noise); None for
    stride 1."""

    def as_dict(self) -> dict[str, Any]:
        """Plain data under the old result keys: "checkerboard_energy",
        "checkerboard_energy_vs_noise", "checkerboard_strength", "stage_checkerboard_strength"."""
        return {
            "checkerboard_energy": self.energy,
            "checkerboard_energy_vs_noise": self.energy_vs_noise,
            "checkerboard_strength": self.strength,
            "stage_checkerboard_strength": self.stage_strengths,
        }


def energy_baseline(config: GeneratorConfig) -> float:
    """`checkerboard_energy` of white noise at the image size and stride.

    Args:
        config: the generator architecture.

    Returns:
        The share (0..1) white noise has at the checkerboard frequencies; 0.0 for stride 1.
    """
    if config.stride == 1:
        return 0.0
    return checkerboard.checkerboard_energy_baseline(config.image_size, config.stride)


def picture_energy(images: torch.Tensor, stride: int) -> float:
    """`core.checkerboard.checkerboard_energy` of (N, C, H, W) images; 0.0 for stride 1.

    Args:
        images: the pictures, float.
        stride: the generator's stride.

    Returns:
        The share (0..1) of their mean-removed power at the checkerboard frequencies.
    """
    return checkerboard.checkerboard_energy(images, stride) if stride > 1 else 0.0


def layer_strength(module: nn.Module, stride: int) -> float | None:
    """`core.checkerboard.checkerboard_strength` of one upsampling layer (constant input).

    Args:
        module: one upsampling stage of a `Generator`.
        stride: the generator's stride.

    Returns:
        The strength (0..1); 0.0 for stride 1; None where it cannot be measured (a replacement
        module it cannot probe).
    """
    if stride == 1:
        return 0.0
    try:
        return checkerboard.checkerboard_strength(module, stride)
    except ConfigError:
        return None


def strength_reference(config: GeneratorConfig) -> StrengthReference:
    """The reference strengths the page explains a ConvTranspose2d stage's strength with.

    Args:
        config: the generator architecture.

    Returns:
        Its `StrengthReference` (both 0.0 for stride 1).
    """
    if config.stride == 1:
        return StrengthReference(equal_weights=0.0, random_weights=0.0)
    return StrengthReference(
        equal_weights=checkerboard.equal_weights_strength(
            config.kernel_size, config.stride, config.padding
        ),
        random_weights=checkerboard.random_weights_strength(config.stride),
    )


def checkerboard_numbers(output: torch.Tensor, model: Generator) -> CheckerboardNumbers:
    """The checkerboard numbers of one variant: its layers' strengths and its pictures' energy.

    Args:
        output: the variant's (N, C, H, W) outputs.
        model: the variant that made them.

    Returns:
        Its `CheckerboardNumbers`.
    """
    stride = model.config.stride
    output = output.detach().float()
    stages = tuple(layer_strength(up, stride) for up in model.upsampling)
    known = [v for v in stages if v is not None]
    energy = picture_energy(output, stride)
    baseline = energy_baseline(model.config)
    return CheckerboardNumbers(
        strength=max(known) if known else None,
        stage_strengths=stages,
        energy=energy,
        energy_vs_noise=energy / baseline if baseline > 0 else None,
    )


def psnr(output: torch.Tensor, target: torch.Tensor) -> float:
    """Peak signal-to-noise ratio of outputs against a target, both on the [-1, 1] scale.

    Args:
        output: the generator's float outputs (clamped to [-1, 1] here).
        target: the target, same shape.

    Returns:
        10 log10(1 / MSE) in dB, the MSE taken on a 0..1 scale (floored at 1e-12).
    """
    mse = float(F.mse_loss(output.clamp(-1, 1), target)) / 4  # on a 0..1 scale
    return 10 * math.log10(1 / max(mse, 1e-12))
