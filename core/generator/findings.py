"""What the live generator's numbers say, as sentences built from those numbers.

Every sentence here that states a finding (which variant is closest to the target, which has the
strongest checkerboard, whether a picture shows a grid, why "Your replacement" differs from a
resize-conv variant) is computed from a result of `core.generator.run`, never assumed: change the
settings and the sentences change with the numbers. `replacement_comparison` gathers the data
the "Your replacement" sentence is built from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from core.generator.config import VARIANT_LABELS, GeneratorConfig
from core.generator.flat import FlatStage
from core.generator.measures import CheckerboardNumbers
from core.generator.model import Generator
from core.generator.readouts import ratio_text, share_text
from core.replacements.registry import EXACT_METHODS, RESIZE_METHODS, method

if TYPE_CHECKING:  # the results hold a `ReplacementComparison`: import them for typing only
    from core.generator.results import FitResult, Render

VISIBLE_FACTOR = 2.0  # a picture shows a grid when its checkerboard energy is above this many
# times the target's own (a fit) or white noise's (at initialisation)
NO_GRID = 0.01  # a checkerboard strength below this: the layer answers a constant with a constant


@dataclass(frozen=True)
class Finding:
    """One sentence of findings and what it is about."""

    kind: str
    """"energy", "strength", "psnr", "icnr", "replacement" or "flat"."""
    text: str
    """The sentence (Markdown), with the numbers it states."""


@dataclass(frozen=True, eq=False)
class ReplacementComparison:
    """Why "Your replacement" looks the way it does: its build, and how alike the pictures are."""

    method: str
    """The custom variant's `core.replacements.weights.replace_conv_transpose` method."""
    exact: bool
    """True for an exact rewrite of the ConvTranspose2d (sub-pixel, zero insertion)."""
    error: float
    """The largest relative error `replace_conv_transpose` reported over the stages."""
    kernel_size: tuple[int, int] | None
    """The kernel of its Conv2d (resize methods); None for the exact methods."""
    resize_kernel: int
    """The kernel of the resize-conv variants' Conv2d (the "Resize-conv kernel" setting)."""
    correlations: Mapping[str, float]
    """Variant name -> the correlation (-1..1) of the custom variant's pictures (raw outputs,
    every pixel of every picture) with that variant's."""
    trained: bool
    """True after a fit (the weights started from the fit and were then trained)."""


def _conv_kernel(module: nn.Module) -> tuple[int, int] | None:
    """The kernel of the first Conv2d in `module`, or None."""
    for sub in module.modules():
        if isinstance(sub, nn.Conv2d):
            return int(sub.kernel_size[0]), int(sub.kernel_size[1])
    return None


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two same-shaped tensors over all their values; 0.0 where either is
    constant.

    Args:
        a: any float tensor.
        b: the same shape.

    Returns:
        The correlation, -1..1.
    """
    x = a.detach().double().flatten().cpu()
    y = b.detach().double().flatten().cpu()
    x, y = x - x.mean(), y - y.mean()
    norm = float(x.norm() * y.norm())
    return float(torch.dot(x, y)) / norm if norm > 0 else 0.0


def replacement_comparison(
    config: GeneratorConfig,
    custom: Generator,
    outputs: Mapping[str, torch.Tensor],
    trained: bool = False,
) -> ReplacementComparison:
    """The data behind the "Your replacement" sentence.

    Args:
        config: the architecture.
        custom: the custom variant's generator.
        outputs: variant name -> its raw outputs (the same latents), the custom one included.
        trained: True after a fit.

    Returns:
        The `ReplacementComparison`.
    """
    mine = outputs["custom"]
    return ReplacementComparison(
        method=config.replacement,
        exact=config.replacement in EXACT_METHODS,
        error=max(custom.replacement_errors, default=0.0),
        kernel_size=None
        if config.replacement in EXACT_METHODS
        else _conv_kernel(custom.upsampling[-1]),
        resize_kernel=config.resize_kernel,
        correlations={
            name: correlation(mine, out) for name, out in outputs.items() if name != "custom"
        },
        trained=trained,
    )


# ----------------------------------------------------------------------------- sentences


def error_text(error: float) -> str:
    """A replacement's relative error: two decimals from 0.01 up, else in powers of ten.

    Args:
        error: the relative error, at least 0.

    Returns:
        e.g. "0.78", "3.0e-16".
    """
    return f"{error:.2f}" if error >= 0.01 else f"{error:.1e}"


def _label(name: str) -> str:
    return VARIANT_LABELS[name]


def _and(items: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _strength(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _ranked(values: Mapping[str, float | None]) -> list[str]:
    """Variant names by value, highest first; unmeasured (None) last."""
    known = sorted((n for n, v in values.items() if v is not None), key=lambda n: -values[n])
    return known + [n for n, v in values.items() if v is None]


def _strongest_stage(numbers: CheckerboardNumbers) -> int | None:
    """The 1-based stage whose strength is the variant's largest; None when none was measured."""
    stages = [(v, i) for i, v in enumerate(numbers.stage_strengths, start=1) if v is not None]
    return max(stages)[1] if stages else None


def energy_finding(
    numbers: Mapping[str, CheckerboardNumbers], stride: int, noise: float
) -> Finding | None:
    """The pictures' checkerboard energy, highest first, against white noise's.

    Args:
        numbers: variant name -> its checkerboard numbers.
        stride: the generator's stride.
        noise: white noise's checkerboard energy at this size (`Geometry.energy_baseline`).

    Returns:
        The finding; None for stride 1 (no checkerboard frequencies).
    """
    if stride == 1:
        return None
    order = _ranked({n: v.energy for n, v in numbers.items()})
    parts = [
        f"{_label(n)} {share_text(numbers[n].energy)} "
        f"({ratio_text(numbers[n].energy_vs_noise or 0.0)} × white noise)"
        for n in order
    ]
    above = [n for n in order if (numbers[n].energy_vs_noise or 0.0) > VISIBLE_FACTOR]
    lead = (
        f"**Pictures.** Checkerboard energy (share of the pictures' power at the {stride} × "
        f"{stride} checkerboard frequencies; white noise gives {share_text(noise)}), highest "
        f"first: {'; '.join(parts)}."
    )
    verdict = (
        f" {_and([_label(n) for n in above])} {'is' if len(above) == 1 else 'are'} above "
        f"{VISIBLE_FACTOR:g} × white noise: the grid is in {'its' if len(above) == 1 else 'their'}"
        " pictures."
        if above
        else f" None is above {VISIBLE_FACTOR:g} × white noise: no picture carries a grid."
    )
    return Finding("energy", lead + verdict)


def strength_finding(
    numbers: Mapping[str, CheckerboardNumbers], random_level: float, trained: bool
) -> Finding | None:
    """The layers' checkerboard strength, highest first, with the stage of each maximum.

    Args:
        numbers: variant name -> its checkerboard numbers.
        random_level: what zero-mean random weights give (`StrengthReference.random_weights`).
        trained: True after a fit.

    Returns:
        The finding; None where no variant's layers could be measured.
    """
    values = {n: v.strength for n, v in numbers.items()}
    order = _ranked(values)
    if values[order[0]] is None:
        return None
    parts: list[str] = []
    shown: dict[str, list[str]] = {}  # equal readings said once: "0.000: a, b and c"
    for n in order:
        stage = _strongest_stage(numbers[n])
        value = values[n]
        if value is not None and value >= NO_GRID and stage is not None:
            parts.append(f"{_label(n)} {_strength(value)} (stage {stage})")
        else:
            shown.setdefault(_strength(value), []).append(_label(n))
    parts += [f"{text}: {_and(labels)}" for text, labels in shown.items()]
    when = "after the fit" if trained else "at initialisation"
    reference = (
        f" Zero-mean random weights give about {random_level:.3f}; 0 is a layer that answers a "
        "constant with a constant."
        if random_level > 0
        else ""
    )
    top = values[order[0]]
    if top < NO_GRID:
        lead = (
            f"No layer answers a constant with a pattern {when}: every checkerboard strength is "
            f"below {NO_GRID:g}"
        )
    else:
        tied = [n for n in order if _strength(values[n]) == _strength(top)]  # equal as shown
        lead = (
            f"Strongest checkerboard strength {when}: {_and([_label(n) for n in tied])}, "
            f"{_strength(top)}"
        )
    return Finding(
        "strength",
        f"**Layers.** {lead}. All, highest first: {'; '.join(parts)}.{reference}",
    )


def psnr_finding(result: FitResult) -> Finding:
    """Which variant came closest to the target, and the others in order.

    Args:
        result: a fit.

    Returns:
        The finding.
    """
    values = {n: v.psnr for n, v in result.variants.items()}
    order = sorted(values, key=lambda n: -values[n])
    best = [n for n in order if f"{values[n]:.1f}" == f"{values[order[0]]:.1f}"]  # equal as shown
    rest = [f"{_label(n)} {values[n]:.1f} dB" for n in order[len(best) :]]
    return Finding(
        "psnr",
        f"**Fit.** Closest to the target: {_and([_label(n) for n in best])}, "
        f"{values[order[0]]:.1f} dB PSNR" + (f"; then {', '.join(rest)}." if rest else "."),
    )


def fit_energy_finding(result: FitResult) -> Finding | None:
    """The final pictures' checkerboard energy against the target's own.

    Args:
        result: a fit.

    Returns:
        The finding; None for stride 1.
    """
    stride = result.config.stride
    if stride == 1:
        return None
    target = result.target_checkerboard_energy
    noise = result.geometry.energy_baseline
    values = {n: v.checkerboard.energy for n, v in result.variants.items()}
    order = _ranked(values)
    if target > 0:
        parts = [f"{_label(n)} {share_text(values[n])} ({values[n] / target:.2f} ×)" for n in order]
        above = [n for n in order if values[n] > VISIBLE_FACTOR * target]
        reference = (
            f"the target's own {share_text(target)} ({ratio_text(target / noise)} × white noise)"
        )
        verdict = (
            f" {_and([_label(n) for n in above])} "
            f"{'is' if len(above) == 1 else 'are'} above {VISIBLE_FACTOR:g} × the target's: a grid "
            f"shows in {'its picture' if len(above) == 1 else 'their pictures'}."
            if above
            else f" None is above {VISIBLE_FACTOR:g} × the target's: no final picture adds a "
            "visible grid to what the target has."
        )
    else:
        parts = [
            f"{_label(n)} {share_text(values[n])} ({ratio_text(values[n] / noise)} × white noise)"
            for n in order
        ]
        above = [n for n in order if values[n] > VISIBLE_FACTOR * noise]
        reference = "a target with none"
        verdict = (
            f" {_and([_label(n) for n in above])} above {VISIBLE_FACTOR:g} × white noise: a grid "
            "the target does not have."
            if above
            else ""
        )
    return Finding(
        "energy",
        f"**Pictures.** Checkerboard energy of the final pictures against {reference}, highest "
        f"first: {'; '.join(parts)}.{verdict}",
    )


def icnr_finding(result: FitResult) -> Finding | None:
    """Why the sub-pixel ICNR variant can end a fit with a high checkerboard strength, and
    whether its picture shows it.

    Args:
        result: a fit.

    Returns:
        The finding; None without the sub-pixel variant, for stride 1, or when its strength
        stayed below `NO_GRID`.
    """
    variant = result.variants.get("subpixel-icnr")
    stride = result.config.stride
    if variant is None or stride == 1:
        return None
    numbers = variant.checkerboard
    if numbers.strength is None or numbers.strength < NO_GRID:
        return None
    label = _label("subpixel-icnr")
    others = {
        n: v.checkerboard.strength
        for n, v in result.variants.items()
        if n != "subpixel-icnr" and v.checkerboard.strength is not None
    }
    if others and numbers.strength > max(others.values()):
        rank = "the highest of all"
    elif "convtranspose" in others:
        ct = others["convtranspose"]
        rank = f"{'above' if numbers.strength > ct else 'below'} ConvTranspose2d's {ct:.3f}"
    else:
        rank = "not the highest"
    stage = _strongest_stage(numbers)
    stages = result.config.stages
    period = stride ** (stages - stage + 1) if stage is not None else stride
    last = numbers.stage_strengths[-1]
    energy = numbers.energy
    target = result.target_checkerboard_energy
    if target > 0:
        ratio = energy / target
        versus = f"{ratio:.2f} × the target's own {share_text(target)}"
        visible = ratio > VISIBLE_FACTOR
    else:
        ratio = energy / result.geometry.energy_baseline
        versus = f"{ratio_text(ratio)} × white noise (the target has none)"
        visible = ratio > VISIBLE_FACTOR
    ct = result.variants.get("convtranspose")
    against = (
        f", {'more' if energy > ct.checkerboard.energy else 'less'} than ConvTranspose2d's "
        f"{share_text(ct.checkerboard.energy)}"
        if ct is not None
        else ""
    )
    reference = "the target's" if target > 0 else "white noise"
    verdict = (
        f" That is above {VISIBLE_FACTOR:g} × {reference}: the grid shows in its picture."
        if visible
        else f" That is not above {VISIBLE_FACTOR:g} × {reference}: the grid the strength "
        "measures does not stand out in its picture."
    )
    return Finding(
        "icnr",
        f"**Why {label} ends with strength {numbers.strength:.3f}** ({rank}): ICNR only fixes "
        f"the start. The {stride} × {stride} sub-kernels that PixelShuffle interleaves begin "
        "equal (strength 0 at initialisation), and the fit updates each one on its own, so they "
        "drift apart and the output phases answer a constant differently. The strength is "
        "relative (the spread of the phase responses over their size, however small that size) "
        "and probes the layer with a constant input, not the pictures: its largest value is at "
        f"stage {stage}, whose pattern would repeat every {period} px in the image; the last "
        f"stage's is {_strength(last)}. Its final picture's checkerboard energy is "
        f"{share_text(energy)}, {versus}{against}.{verdict}",
    )


def flat_finding(stage: FlatStage) -> Finding:
    """What the flat-input panels of one stage show, from their numbers.

    Args:
        stage: one stage's panels.

    Returns:
        The finding.
    """
    s = stage.stride
    where = (
        f"Stage {stage.stage}, output channel {stage.channel + 1} of {stage.out_channels}, on an "
        f"all-ones input (values ÷ {stage.scale:.3g}):"
    )
    parts = []
    gridded, flat = stage.gridded, stage.flat
    if gridded:
        described = [
            f"{stage.panels[n].label} (phase means {stage.panels[n].phase_means.min():.2f} to "
            f"{stage.panels[n].phase_means.max():.2f})"
            for n in gridded
        ]
        parts.append(
            f"{_and(described)} {'paints' if len(gridded) == 1 else 'paint'} a period-{s} grid: "
            f"the {s} × {s} output phases answer the constant differently"
        )
    if flat:
        described = [f"{stage.panels[n].label} ({stage.panels[n].high:.2f})" for n in flat]
        parts.append(
            f"{_and(described)} {'stays' if len(flat) == 1 else 'stay'} flat: every interior "
            "pixel gets the same value"
        )
    if stage.unmeasured:
        parts.append(f"{_and([_label(n) for n in stage.unmeasured])} could not be probed")
    return Finding("flat", f"{where} {'; '.join(parts)}.")


def _compared_resize(name: str, variants: Sequence[str]) -> str | None:
    """The resize-conv variant to hold the custom one (method `name`) against: the one with the
    same Upsample mode (the registry's `resize_mode`) if shown, else the first shown in the
    registry's order (nearest, then bilinear)."""
    mode = method(name).resize_mode
    shown = [v for v in RESIZE_METHODS if v in variants]
    same = [v for v in shown if method(v).resize_mode == mode]
    return (same or shown or [None])[0]


def replacement_finding(comparison: ReplacementComparison, variants: Sequence[str]) -> Finding:
    """Why "Your replacement" looks as it does next to the ConvTranspose2d and resize-conv
    variants, from its build and the measured likeness of the pictures.

    Args:
        comparison: the custom variant's `ReplacementComparison`.
        variants: the variants shown.

    Returns:
        The finding.
    """
    c = comparison
    corr = c.correlations
    trained = ", then trained with the rest" if c.trained else ""
    if c.exact:
        text = (
            f"**Your replacement ({c.method})** is an exact rewrite of the ConvTranspose2d "
            f"variant's layers (largest relative error {error_text(c.error)}): it computes the "
            f"same operator{trained}, grid included"
        )
        if "convtranspose" in corr:
            text += f"; its pictures correlate {corr['convtranspose']:.3f} with ConvTranspose2d's"
        return Finding("replacement", text + ".")
    other = _compared_resize(c.method, variants)
    reasons = []
    kernel = c.kernel_size
    if other is not None and kernel is not None and kernel != (c.resize_kernel, c.resize_kernel):
        reasons.append(
            f"its kernel is {kernel[0]} × {kernel[1]} (sized to cover the ConvTranspose2d's "
            f"footprint) where the resize-conv variants use the Resize-conv kernel setting, "
            f"{c.resize_kernel} × {c.resize_kernel}"
        )
    fit = (
        f"its weights {'started as' if c.trained else 'are'} the least-squares fit of the "
        f"ConvTranspose2d variant's random weights (relative error {error_text(c.error)}"
        + (
            ": a resize-convolution cannot hold the different phase responses of those weights)"
            if c.error >= NO_GRID
            else ")"
        )
        + (" and were then trained with the rest" if c.trained else "")
    )
    if other is not None:
        reasons.append(
            fit + f", where {_label(other)} starts from weights of its own, drawn at random"
        )
        mode, mode_other = method(c.method).resize_mode, method(other).resize_mode
        if mode != mode_other:
            reasons.append(f"it upsamples {mode}, {_label(other)} {mode_other}")
        text = (
            f"**Why Your replacement ({c.method}) differs from {_label(other)}**: "
            f"{'; '.join(reasons)}."
        )
    else:
        text = f"**Your replacement ({c.method})**: {fit}."
    if "convtranspose" in corr and other is not None and other in corr:
        a, b = corr["convtranspose"], corr[other]
        what = "final picture" if c.trained else "pictures"
        text += (
            f" Its {what} correlate{'s' if c.trained else ''} {a:.3f} with ConvTranspose2d's and "
            f"{b:.3f} with {_label(other)}'s"
        )
        if f"{a:.3f}" == f"{b:.3f}":
            text += ": as much with one as with the other"
        else:
            text += f": closer to {'ConvTranspose2d' if a > b else _label(other)}'s"
            if max(a, b) < 0.5:
                text += ", though like neither closely"
        text += "."
    return Finding("replacement", text)


def init_findings(render: Render) -> tuple[Finding, ...]:
    """The findings of a render at initialisation: pictures, layers, "Your replacement".

    Args:
        render: a `Render`.

    Returns:
        The findings, in the order to show.
    """
    numbers = {n: v.checkerboard for n, v in render.variants.items()}
    found = [
        energy_finding(numbers, render.config.stride, render.geometry.energy_baseline),
        strength_finding(numbers, render.geometry.strength_reference.random_weights, False),
    ]
    if render.replacement is not None:
        found.append(replacement_finding(render.replacement, tuple(render.variants)))
    return tuple(f for f in found if f is not None)


def fit_findings(result: FitResult) -> tuple[Finding, ...]:
    """The findings of a fit: closeness, pictures, layers, sub-pixel ICNR, "Your replacement".

    Args:
        result: a `FitResult`.

    Returns:
        The findings, in the order to show.
    """
    numbers = {n: v.checkerboard for n, v in result.variants.items()}
    found = [
        psnr_finding(result),
        fit_energy_finding(result),
        strength_finding(numbers, result.geometry.strength_reference.random_weights, True),
        icnr_finding(result),
    ]
    if result.replacement is not None:
        found.append(replacement_finding(result.replacement, tuple(result.variants)))
    return tuple(f for f in found if f is not None)
