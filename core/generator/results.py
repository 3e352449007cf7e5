"""What `render_at_init` and `fit` return: frozen, typed results the page reads by attribute.

`Render` (one `VariantRender` per variant) and `FitResult` (one `VariantFit` per variant) share
a `Geometry`: what the generator's geometry fixes before any picture is made (spectrum axes,
marked checkerboard frequencies, where each stage's pattern lands, reference numbers). Each
result's `as_dict()` gives the plain dict these functions used to return, under the old keys.
Arrays are numpy; "uint8 (N, H, W, 3)" means N RGB pictures of H x W pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.generator.config import GeneratorConfig
from core.generator.findings import ReplacementComparison
from core.generator.flat import FlatStage
from core.generator.measures import (
    CheckerboardNumbers,
    StrengthReference,
    energy_baseline,
    strength_reference,
)
from core.generator.spectra import StagePeriod, frequency_axes, marks_for, stage_periods


@dataclass(frozen=True, eq=False)
class Geometry:
    """What the generator's geometry fixes before any picture is made, shared by its panels."""

    image_size: tuple[int, int]
    """(height, width) of the pictures, in pixels."""
    frequency_y: np.ndarray
    """float64 (H,): the spectra's row frequencies, cycles per pixel, -0.5 up to below 0.5."""
    frequency_x: np.ndarray
    """float64 (W,): the spectra's column frequencies, cycles per pixel."""
    marks: tuple[dict[str, float | int], ...]
    """The checkerboard frequencies circled on the spectra (`spectra.checkerboard_marks`: "fy",
    "fx" cycles per pixel, "row", "col" bins, "period" px, "order"); empty for stride 1."""
    stage_periods: tuple[StagePeriod, ...]
    """Where each stage's pattern lands in the image, the last stage first (`stage_periods`)."""
    energy_baseline: float
    """White noise's checkerboard energy at this size and stride (share 0..1); 0 for stride 1."""
    strength_reference: StrengthReference
    """The reference strengths of a ConvTranspose2d stage (`measures.strength_reference`)."""

    @classmethod
    def of(cls, config: GeneratorConfig) -> Geometry:
        """The geometry of `config`.

        Args:
            config: the generator architecture.

        Returns:
            Its `Geometry`.
        """
        fy, fx = frequency_axes(*config.image_size)
        return cls(
            image_size=config.image_size,
            frequency_y=fy,
            frequency_x=fx,
            marks=tuple(marks_for(config)),
            stage_periods=tuple(stage_periods(config)),
            energy_baseline=energy_baseline(config),
            strength_reference=strength_reference(config),
        )

    @property
    def marked_periods(self) -> tuple[StagePeriod, ...]:
        """The stages whose checkerboard frequencies are marked, the last stage first."""
        return tuple(e for e in self.stage_periods if e.marked)

    @property
    def unmarked_periods(self) -> tuple[StagePeriod, ...]:
        """The stages whose checkerboard frequencies are not marked, the last stage first."""
        return tuple(e for e in self.stage_periods if not e.marked)

    def as_dict(self) -> dict[str, Any]:
        """Plain data under the old result keys ("image_size", "frequency_y", ...)."""
        return {
            "image_size": self.image_size,
            "frequency_y": self.frequency_y,
            "frequency_x": self.frequency_x,
            "marks": list(self.marks),
            "stage_periods": [e.as_dict() for e in self.stage_periods],
            "checkerboard_energy_baseline": self.energy_baseline,
            "strength_reference": self.strength_reference.as_dict(),
        }


@dataclass(frozen=True, eq=False)
class VariantRender:
    """One variant at initialisation: its pictures, their spectrum and checkerboard numbers."""

    name: str
    """The variant, one of `config.VARIANTS` (e.g. "convtranspose")."""
    label: str
    """Its name for people (`config.VARIANT_LABELS`)."""
    images: np.ndarray
    """uint8 (N, H, W, 3): the pictures, each contrast-stretched (`pictures.contrast_normalise`)."""
    grid: np.ndarray
    """uint8 (rows, cols, 3): the pictures tiled, 2 grey pixels apart (`pictures.image_grid`),
    then enlarged `grid_zoom` times (`pictures.enlarge`)."""
    grid_columns: int
    """Pictures per row of the grid."""
    grid_zoom: int
    """How many times the grid is enlarged (nearest neighbour: every pixel a square block)."""
    crop: np.ndarray
    """uint8: the centre of picture 0 enlarged `crop_zoom` times (`pictures.zoomed_crop`)."""
    crop_zoom: int
    """How many times the crop is enlarged."""
    crop_box: tuple[int, int, int, int]
    """(top, left, height, width) of the crop in picture 0, in pixels."""
    spectrum: np.ndarray
    """float32 (H, W): log10 mean power, zero frequency centred and NaN (`display_spectrum`)."""
    checkerboard: CheckerboardNumbers
    """Its layers' checkerboard strength and its pictures' checkerboard energy."""
    parameters: int
    """Number of trainable values in the whole generator."""
    upsampling: str
    """repr of the last stage's upsampling module."""
    replacement_error: float | None
    """"custom" only: the largest error `replace_conv_transpose` reported; else None."""
    seconds: float
    """Wall-clock seconds of its forward pass."""

    def as_dict(self) -> dict[str, Any]:
        """Plain data under the old keys ("label", "images", ..., "seconds"; no "name")."""
        return {
            "label": self.label,
            "images": self.images,
            "grid": self.grid,
            "crop": self.crop,
            "crop_box": self.crop_box,
            "spectrum": self.spectrum,
            **self.checkerboard.as_dict(),
            "parameters": self.parameters,
            "upsampling": self.upsampling,
            "replacement_error": self.replacement_error,
            "seconds": self.seconds,
        }


@dataclass(frozen=True, eq=False)
class Render:
    """What `render_at_init` returns: every variant from the same latents, side by side."""

    variants: Mapping[str, VariantRender]
    """Variant name -> its render, in the order asked for."""
    config: GeneratorConfig
    """The architecture rendered."""
    geometry: Geometry
    """Spectrum axes, marks, stage periods and reference numbers, shared by the variants."""
    spectrum_range: tuple[float, float]
    """(low, high) log10 power: one colour range for every spectrum (`spectrum_range`)."""
    flat: tuple[FlatStage, ...]
    """Every stage's layers on an all-ones input, the first stage first (`flat.flat_stages`)."""
    replacement: ReplacementComparison | None
    """What "Your replacement" is made of and how alike its pictures are to the others'
    (`findings.replacement_comparison`); None without the custom variant."""
    n_images: int
    """Pictures shown and measured per variant, 1..MAX_BATCH."""
    batch_statistics: int | None
    """With batch norm, the fixed batch size its statistics come from (MAX_BATCH); else None."""
    seed: int
    """The seed of the weights and the latents."""
    device: str
    """torch device it ran on, e.g. "cpu", "cuda"."""
    device_label: str
    """The device and precision for people (`devices.device_label`)."""
    precision: str
    """"float32", "float16" or "bfloat16" (autocast)."""
    seconds: float
    """Wall-clock seconds of the whole render."""

    def as_dict(self) -> dict[str, Any]:
        """Plain data: the dict `render_at_init` used to return, under the same keys."""
        return {
            "variants": {name: v.as_dict() for name, v in self.variants.items()},
            "device": self.device,
            "device_label": self.device_label,
            "precision": self.precision,
            "n_images": self.n_images,
            "batch_statistics": self.batch_statistics,
            "seed": self.seed,
            **self.geometry.as_dict(),
            "config": self.config.to_dict(),
            "spectrum_range": self.spectrum_range,
            "seconds": self.seconds,
        }


@dataclass(frozen=True, eq=False)
class VariantFit:
    """One variant after a fit: its loss curve, final picture, spectrum and checkerboard numbers."""

    name: str
    """The variant, one of `config.VARIANTS`."""
    label: str
    """Its name for people (`config.VARIANT_LABELS`)."""
    losses: tuple[float, ...]
    """The training loss (MSE on the [-1, 1] scale) of every step done, in order."""
    final_image: np.ndarray
    """uint8 (H, W, 3): its picture after training, not stretched (`pictures.to_uint8`)."""
    spectrum: np.ndarray
    """float32 (H, W): log10 power of the final picture (`display_spectrum`)."""
    checkerboard: CheckerboardNumbers
    """Its trained layers' checkerboard strength and its final picture's checkerboard energy."""
    psnr: float
    """Peak signal-to-noise ratio of the final picture against the target, dB."""
    seconds: float
    """Wall-clock seconds spent training it."""

    def as_dict(self) -> dict[str, Any]:
        """Plain data under the old keys ("label", "losses", ..., "seconds"; no "name")."""
        return {
            "label": self.label,
            "losses": list(self.losses),
            "final_image": self.final_image,
            "spectrum": self.spectrum,
            **self.checkerboard.as_dict(),
            "psnr": self.psnr,
            "seconds": self.seconds,
        }


@dataclass(frozen=True, eq=False)
class FitResult:
    """What `fit` returns: every variant trained to reproduce one target from a fixed latent."""

    variants: Mapping[str, VariantFit]
    """Variant name -> its fit, in the order asked for."""
    config: GeneratorConfig
    """The architecture trained."""
    geometry: Geometry
    """Spectrum axes, marks, stage periods and reference numbers, shared by the panels."""
    target: np.ndarray
    """uint8 (H, W, 3): the target, resized to the pictures' size."""
    target_spectrum: np.ndarray
    """float32 (H, W): log10 power of the target (`display_spectrum`)."""
    target_checkerboard_energy: float
    """The target's checkerboard energy (share 0..1); 0 for stride 1."""
    spectrum_range: tuple[float, float]
    """(low, high) log10 power, shared by the target's and the variants' spectra."""
    flat: tuple[FlatStage, ...]
    """Every stage's trained layers on an all-ones input, the first stage first."""
    replacement: ReplacementComparison | None
    """What "Your replacement" is made of and how alike its final picture is to the others'
    (`findings.replacement_comparison`); None without the custom variant."""
    steps: int
    """Steps asked for, 1..MAX_STEPS."""
    steps_done: int
    """Steps every variant trained: `steps` unless stopped early."""
    stopped_early: bool
    """True when the callback or the time budget stopped the fit before `steps`."""
    stopped_for_time: bool
    """True when the time budget stopped it."""
    time_budget: float | None
    """Wall-clock seconds allowed for the whole fit; None for no limit."""
    lr: float
    """Adam's learning rate."""
    seed: int
    """The seed of the weights and the latent."""
    device: str
    """torch device it ran on."""
    device_label: str
    """The device and precision for people (`devices.device_label`)."""
    precision: str
    """"float32", "float16" or "bfloat16" (autocast)."""
    seconds: float
    """Wall-clock seconds of the whole fit."""

    @property
    def n_images(self) -> int:
        """Pictures per variant, as in `Render`: 1, the final picture."""
        return 1

    @property
    def fraction_done(self) -> float:
        """steps_done / steps, 0..1."""
        return self.steps_done / self.steps

    @property
    def losses(self) -> dict[str, tuple[float, ...]]:
        """Variant name -> its per-step losses."""
        return {name: v.losses for name, v in self.variants.items()}

    def as_dict(self) -> dict[str, Any]:
        """Plain data: the dict `fit` used to return, under the same keys."""
        return {
            "variants": {name: v.as_dict() for name, v in self.variants.items()},
            "target": self.target,
            "target_spectrum": self.target_spectrum,
            "target_checkerboard_energy": self.target_checkerboard_energy,
            "steps": self.steps,
            "steps_done": self.steps_done,
            "stopped_early": self.stopped_early,
            "stopped_for_time": self.stopped_for_time,
            "time_budget": self.time_budget,
            "lr": self.lr,
            "seed": self.seed,
            "device": self.device,
            "device_label": self.device_label,
            "precision": self.precision,
            **self.geometry.as_dict(),
            "config": self.config.to_dict(),
            "spectrum_range": self.spectrum_range,
            "seconds": self.seconds,
        }
