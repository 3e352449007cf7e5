"""Running the live generator: `render_at_init` shows every variant side by side at
initialisation; `fit` trains each one to reproduce a target image from a fixed latent
(deep-image-prior style). The family itself is `core.generator.model`; what the two return is
`core.generator.results`. Both are bounded by the hosted-demo caps in `core.hosted` (the ones a
caller checks against are re-exported here).
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import ConfigError
from core.generator.config import (
    DEFAULT_FIT_STEPS,
    DEFAULT_LR,
    DEFAULT_N_IMAGES,
    VARIANT_LABELS,
    VARIANTS,
    GeneratorConfig,
    check_seed,
    check_variants,
    int_in,
)
from core.generator.devices import (
    CPU_THREADS,
    autocast_context,
    cpu_thread_limit,
    deterministic_algorithms,
    device_label,
    on_device,
    pick_device,
    resolve_precision,
    synchronize,
)
from core.generator.findings import ReplacementComparison, replacement_comparison
from core.generator.flat import FlatStage, flat_stages
from core.generator.measures import checkerboard_numbers, picture_energy, psnr
from core.generator.model import Generator, build_generator, sample_latents
from core.generator.pictures import (
    MAX_ZOOM,
    contrast_normalise,
    enlarge,
    image_grid,
    squarest_columns,
    to_uint8,
    zoomed_crop,
)
from core.generator.results import FitResult, Geometry, Render, VariantFit, VariantRender
from core.generator.spectra import display_spectrum, spectrum_range
from core.hosted import (  # the hosted-demo caps, re-exported
    MAX_ACTIVATION_BYTES,
    MAX_BATCH,
    MAX_RESOLUTION,
    MAX_STEPS,
    TimeBudget,
    cap_note,
)


def _check_run(
    config: Any, variants: Any, seed: Any, device: Any, precision: Any
) -> tuple[tuple[str, ...], int, torch.device, str]:
    """The checks both runs share; returns (variants, seed, device, precision), resolved."""
    if not isinstance(config, GeneratorConfig):
        raise ConfigError(
            "config", f"config must be a GeneratorConfig, got {type(config).__name__}"
        )
    variants = check_variants(variants)
    seed = check_seed(seed)
    device = pick_device(device)
    precision = resolve_precision(device, precision)
    return variants, seed, device, precision


def check_memory(config: GeneratorConfig, n_images: int, backward: bool) -> None:
    """Refuse a run whose estimated activations (`GeneratorConfig.activation_bytes`) exceed
    `core.hosted.MAX_ACTIVATION_BYTES`, naming what to lower.

    Args:
        config: the generator.
        n_images: images in the batch (1 for a fit).
        backward: True for a fit.

    Raises:
        ConfigError: on "n_images" for a render, "config" for a fit.

    Example:
        >>> check_memory(GeneratorConfig(), 16, backward=False)  # the defaults fit
    """
    need = config.activation_bytes(n_images, backward)
    if need <= MAX_ACTIVATION_BYTES:
        return
    parameter, lower = (
        ("config", "use fewer stages or channels")
        if backward
        else ("n_images", "render fewer images, or use fewer stages or channels")
    )
    raise ConfigError(
        parameter,
        f"this {'fit' if backward else 'render'} would need about {need / 2**20:,.0f} MiB of "
        f"activations per variant: {cap_note('activation_mib')}; {lower}",
    )


# ----------------------------------------------------------------------------- render at init


@dataclass(frozen=True)
class _PictureOptions:
    """How a render lays out its pictures: the zoomed crop, the grid's columns and zoom."""

    crop_size: int
    zoom: int
    columns: int | None
    grid_zoom: int


def _check_render_options(
    n_images: Any, crop_size: Any, zoom: Any, columns: Any, grid_zoom: Any, models: Any
) -> tuple[int, _PictureOptions]:
    """`render_at_init`'s own arguments, checked; returns (n_images, picture options)."""
    n_images = int_in("n_images", n_images, 1, MAX_BATCH, cap_note("batch"))
    crop_size = int_in("crop_size", crop_size, 1, MAX_RESOLUTION)
    zoom = int_in("zoom", zoom, 1, MAX_ZOOM)
    if columns is not None:
        columns = int_in("columns", columns, 1, MAX_BATCH)
    grid_zoom = int_in("grid_zoom", grid_zoom, 1, MAX_ZOOM)
    if models is not None and (
        not isinstance(models, Mapping)
        or not all(isinstance(m, Generator) for m in models.values())
    ):
        raise ConfigError(
            "models", "models must map variant names to generators from build_generator, or be None"
        )
    return n_images, _PictureOptions(crop_size, zoom, columns, grid_zoom)


def _model_for(
    config: GeneratorConfig, name: str, seed: int, models: Mapping[str, Generator] | None
) -> Generator:
    """The prebuilt model for `name` from `models` (checked to be this build), else a new one."""
    model = (models or {}).get(name)
    if model is None:
        return build_generator(config, name, seed)
    if (model.config, model.variant, model.seed) != (config, name, seed):
        raise ConfigError(
            "models",
            f"the cached model for {name!r} was built for another configuration, "
            "variant or seed; rebuild it with build_generator(config, variant, seed)",
        )
    return model


def _render_variant(
    model: Generator,
    z: torch.Tensor,
    n_images: int,
    device: torch.device,
    precision: str,
    options: _PictureOptions,
) -> tuple[VariantRender, torch.Tensor]:
    """One variant's pictures from the latents `z` (the first `n_images` kept) and its numbers,
    and its raw float outputs on the CPU."""
    model = on_device(model, device).eval()
    t0 = time.perf_counter()
    with torch.no_grad(), deterministic_algorithms(device), autocast_context(device, precision):
        output = model(z)[:n_images]
    synchronize(device)
    seconds = time.perf_counter() - t0
    raw = output.detach().float().cpu()
    images = contrast_normalise(raw.numpy())
    crop, box = zoomed_crop(images[0], options.crop_size, options.zoom)
    columns = max(1, min(options.columns or squarest_columns(n_images), n_images))
    rendered = VariantRender(
        name=model.variant,
        label=VARIANT_LABELS[model.variant],
        images=images,
        grid=enlarge(image_grid(images, columns), options.grid_zoom),
        grid_columns=columns,
        grid_zoom=options.grid_zoom,
        crop=crop,
        crop_zoom=options.zoom,
        crop_box=box,
        spectrum=display_spectrum(output.detach().float()),
        checkerboard=checkerboard_numbers(output, model),
        parameters=model.parameter_count(),
        upsampling=repr(model.upsampling[-1]),
        replacement_error=max(model.replacement_errors, default=None),
        seconds=seconds,
    )
    return rendered, raw


def render_at_init(
    config: GeneratorConfig,
    variants: Sequence[str] = VARIANTS,
    n_images: int = DEFAULT_N_IMAGES,
    seed: int = 0,
    device: str | torch.device = "auto",
    *,
    precision: str = "auto",
    crop_size: int = 16,
    zoom: int = 8,
    columns: int | None = None,
    grid_zoom: int = 1,
    models: Mapping[str, Generator] | None = None,
    cpu_threads: int | None = CPU_THREADS,
) -> Render:
    """Generate `n_images` pictures per variant from the same latents, at initialisation.

    Image i does not depend on `n_images`: the latents are the first n of a fixed draw, and with
    norm="batch" every image is generated in one fixed batch of MAX_BATCH latents (batch norm's
    statistics come from that batch) of which the first n are shown and measured.

    Args:
        config: the architecture.
        variants: the variants to compare, from `config.VARIANTS`, in the order to show them.
        n_images: pictures per variant, 1..MAX_BATCH.
        seed: seed of the weights and latents, 0..2**32 - 1.
        device: "auto", "cpu", "cuda", "cuda:N" or "mps" (`devices.pick_device`).
        precision: "auto", "float32", "float16" or "bfloat16" (`devices.resolve_precision`).
        crop_size: side of the centre crop of picture 0, in pixels.
        zoom: how many times the crop is enlarged.
        columns: columns of the picture grid (None: `pictures.squarest_columns`, a divisor of
            `n_images`, so that the grid has no blank tile; `pictures.picture_plan` picks one
            that fits a page's column).
        grid_zoom: how many times the grid is enlarged (nearest neighbour).
        models: prebuilt generators for some variants (e.g. from a cache); one on another
            device is copied, never moved.
        cpu_threads: torch CPU threads during a run on the CPU (restored after; default 1, the
            fastest for these small models on a shared CPU, see bench/); None keeps torch's.

    Returns:
        A `Render`: per variant its pictures, spectrum and checkerboard numbers, plus what they
        share: the flat-input panels of every stage and what "Your replacement" is made of.

    Raises:
        ConfigError: naming the argument that is out of range.

    Example:
        >>> config = GeneratorConfig(stages=1, base_channels=8)  # 4 x 4 -> 8 x 8, tiny
        >>> render = render_at_init(config, ["convtranspose", "resize-nearest"], n_images=1,
        ...                         device="cpu")
        >>> list(render.variants), render.config.image_size
        (['convtranspose', 'resize-nearest'], (8, 8))
        >>> render.variants["convtranspose"].images.shape  # (n_images, H, W, RGB), uint8
        (1, 8, 8, 3)
    """
    variants, seed, device, precision = _check_run(config, variants, seed, device, precision)
    n_images, options = _check_render_options(n_images, crop_size, zoom, columns, grid_zoom, models)
    check_memory(config, n_images, backward=False)
    with cpu_thread_limit(device, cpu_threads):
        start = time.perf_counter()
        batch = MAX_BATCH if config.norm == "batch" else n_images
        z = sample_latents(config, batch, seed).to(device)
        label = device_label(device, precision)  # with the run's CPU threads
        used = {name: _model_for(config, name, seed, models) for name in variants}
        rendered, outputs = {}, {}
        for name, model in used.items():
            rendered[name], outputs[name] = _render_variant(
                model, z, n_images, device, precision, options
            )
        zrange = spectrum_range([v.spectrum for v in rendered.values()])
        numbers = {name: v.checkerboard for name, v in rendered.items()}
        return Render(
            variants=rendered,
            config=config,
            geometry=Geometry.of(config),
            spectrum_range=zrange,
            flat=flat_stages(used, numbers),
            replacement=replacement_comparison(config, used["custom"], outputs)
            if "custom" in used
            else None,
            n_images=n_images,
            batch_statistics=batch if config.norm == "batch" else None,
            seed=seed,
            device=str(device),
            device_label=label,
            precision=precision,
            seconds=time.perf_counter() - start,
        )


# ----------------------------------------------------------------------------- fit

FitCallback = Callable[[float, dict[str, np.ndarray], dict[str, list[float]]], bool | None]
"""`callback(fraction_done, frames, losses)` after each block of a fit: the share of the steps
done (0..1], the latest uint8 (H, W, 3) picture and the per-step losses so far, per variant;
returning False stops the fit."""


def steps_done_so_far(losses: Mapping[str, Sequence[float]]) -> int:
    """The steps a fit has done, from the losses its callback gets.

    Args:
        losses: the per-step losses so far, per variant (every variant has done as many).

    Returns:
        The number of steps done (0 before the first).
    """
    return len(next(iter(losses.values()), []))


def _check_fit_options(
    steps: Any, lr: Any, callback_every: Any, callback: Any
) -> tuple[int, float, int]:
    """`fit`'s own arguments, checked; returns (steps, lr, steps per block)."""
    steps = int_in("steps", steps, 1, MAX_STEPS, cap_note("steps"))
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not 0 < lr <= 1:
        raise ConfigError("lr", f"lr must be a number in (0, 1], got {lr!r}; 0.01 works well")
    every = (steps // 20 or 1) if callback_every is None else callback_every
    every = int_in("callback_every", every, 1, steps)
    if callback is not None and not callable(callback):
        raise ConfigError("callback", f"callback must be callable, got {type(callback).__name__}")
    return steps, float(lr), every


def _target_pixels(target_image: np.ndarray | None, size: tuple[int, int]) -> np.ndarray:
    """The target as uint8 (H, W, 3) at the pictures' size: the default scene when None."""
    from core.generator.images import default_target, prepare_target

    return default_target(size) if target_image is None else prepare_target(target_image, size)


def _target_tensor(
    target: np.ndarray, config: GeneratorConfig, device: torch.device
) -> torch.Tensor:
    """uint8 (H, W, 3) -> float (1, C, H, W) on the generator's [-1, 1] scale, on `device`."""
    tensor = torch.from_numpy(target).permute(2, 0, 1)[None].float().div(127.5).sub(1)
    if config.image_channels == 1:
        tensor = tensor.mean(dim=1, keepdim=True)
    return tensor.to(device)


@dataclass
class _Training:
    """The variants in training on one device and precision, one Adam each, one shared gradient
    scaler, and so far: the per-step losses, the seconds spent and the latest picture of each."""

    device: torch.device
    precision: str
    models: dict[str, Generator]
    optimisers: dict[str, torch.optim.Optimizer]
    scaler: torch.amp.GradScaler
    losses: dict[str, list[float]]
    seconds: dict[str, float]
    frames: dict[str, np.ndarray]


def _start_training(
    config: GeneratorConfig,
    variants: Sequence[str],
    seed: int,
    device: torch.device,
    precision: str,
    lr: float,
) -> _Training:
    """Build every variant on `device` in training mode, with its optimiser and the scaler."""
    models = {name: build_generator(config, name, seed).to(device).train() for name in variants}
    optimisers = {name: torch.optim.Adam(m.parameters(), lr=lr) for name, m in models.items()}
    try:
        scaler = torch.amp.GradScaler(device.type, enabled=precision == "float16")
    except (RuntimeError, ValueError) as exc:  # older torch: no float16 scaler on MPS
        raise ConfigError(
            "precision",
            f"float16 training is not supported on {device.type} by this torch: use "
            "'bfloat16' or 'float32'",
        ) from exc
    return _Training(
        device=device,
        precision=precision,
        models=models,
        optimisers=optimisers,
        scaler=scaler,
        losses={name: [] for name in variants},
        seconds=dict.fromkeys(variants, 0.0),
        frames={},
    )


def next_block_size(wanted: int, done: int, training_seconds: float, budget: TimeBudget) -> int:
    """How many steps the next training block takes, under a time budget.

    Without a limit: `wanted`. With one, the first block is a single step (to measure the
    speed); later blocks are at most about a tenth of the budget long, shortened to the time
    that is left, at the speed measured so far.

    Args:
        wanted: the steps the caller would take (its block length, or the steps left).
        done: steps every variant has done so far.
        training_seconds: seconds those steps took, all variants together.
        budget: the fit's time budget.

    Returns:
        The block's steps, at most `wanted`; below 1 when not even one step fits in the time
        left (the fit stops).
    """
    if budget.seconds is None:
        return wanted
    if done == 0:
        return 1  # measure the speed first
    per_step = training_seconds / done  # all variants, one step each
    fits = int(min(budget.seconds / 10, budget.remaining) / per_step)
    return min(wanted, fits)


def _train_variant(
    training: _Training, name: str, z: torch.Tensor, target: torch.Tensor, steps: int
) -> None:
    """`steps` Adam steps (MSE to `target`) of one variant; records its losses, time, frame."""
    model, optimiser, scaler = training.models[name], training.optimisers[name], training.scaler
    device, precision = training.device, training.precision
    t0 = time.perf_counter()
    block_losses = []
    for _ in range(steps):
        optimiser.zero_grad(set_to_none=True)
        with autocast_context(device, precision):
            output = model(z)
        loss = F.mse_loss(output.float(), target)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()
        block_losses.append(loss.detach())
    training.losses[name] += [float(v) for v in torch.stack(block_losses).cpu()]
    training.frames[name] = to_uint8(output.detach().float().cpu().numpy())[0]
    training.seconds[name] += time.perf_counter() - t0


@dataclass(frozen=True)
class _Progress:
    """How a training loop ended: steps done by every variant, and whether and why it stopped."""

    done: int
    stopped: bool
    out_of_time: bool


def _train(
    training: _Training,
    z: torch.Tensor,
    target: torch.Tensor,
    steps: int,
    every: int,
    budget: TimeBudget,
    callback: FitCallback | None,
) -> _Progress:
    """Train the variants in turn, a block of steps each, until `steps`, the callback or the
    budget stops them; after each block `callback(fraction_done, frames, losses)`."""
    done, stopped, training_seconds = 0, False, 0.0
    while done < steps and not stopped:
        block = next_block_size(min(every, steps - done), done, training_seconds, budget)
        if block < 1:
            return _Progress(done, stopped=True, out_of_time=True)
        round_start = time.perf_counter()
        for name in training.models:
            _train_variant(training, name, z, target, block)
        done += block
        training_seconds += time.perf_counter() - round_start
        if callback is None:
            continue
        if callback(done / steps, dict(training.frames), training.losses) is False:
            stopped = done < steps
    return _Progress(done, stopped=stopped, out_of_time=False)


def _fit_variant(
    training: _Training, name: str, z: torch.Tensor, target: torch.Tensor
) -> tuple[VariantFit, torch.Tensor]:
    """One trained variant's final picture, its spectrum, checkerboard numbers and PSNR, and its
    raw float output on the CPU."""
    model = training.models[name]
    with torch.no_grad(), autocast_context(training.device, training.precision):
        output = model(z)
    final = output.detach().float()
    fitted = VariantFit(
        name=name,
        label=VARIANT_LABELS[name],
        losses=tuple(training.losses[name]),
        final_image=to_uint8(final.cpu().numpy())[0],
        spectrum=display_spectrum(final),
        checkerboard=checkerboard_numbers(final, model),
        psnr=psnr(final, target),
        seconds=training.seconds[name],
    )
    return fitted, final.cpu()


@dataclass(frozen=True)
class _Analysis:
    """A fit's analysis: the target's spectrum, every variant's, one colour range for all, the
    trained layers on a constant input, and what "Your replacement" is made of."""

    target_spectrum: np.ndarray
    fitted: dict[str, VariantFit]
    zrange: tuple[float, float]
    flat: tuple[FlatStage, ...]
    replacement: ReplacementComparison | None


def _analyse_fit(
    config: GeneratorConfig, training: _Training, z: torch.Tensor, target: torch.Tensor
) -> _Analysis:
    """After training: the target's spectrum, every variant's final analysis, one colour range
    for all those spectra, the flat-input panels and the "Your replacement" comparison."""
    target_spectrum = display_spectrum(target)
    fitted, outputs = {}, {}
    for name in training.models:
        fitted[name], outputs[name] = _fit_variant(training, name, z, target)
    zrange = spectrum_range([target_spectrum, *(v.spectrum for v in fitted.values())])
    models = training.models
    numbers = {name: v.checkerboard for name, v in fitted.items()}
    replacement = (
        replacement_comparison(config, models["custom"], outputs, trained=True)
        if "custom" in models
        else None
    )
    return _Analysis(target_spectrum, fitted, zrange, flat_stages(models, numbers), replacement)


def fit(
    config: GeneratorConfig,
    variants: Sequence[str] = VARIANTS,
    target_image: np.ndarray | None = None,
    steps: int = DEFAULT_FIT_STEPS,
    lr: float = DEFAULT_LR,
    seed: int = 0,
    device: str | torch.device = "auto",
    callback: FitCallback | None = None,
    *,
    callback_every: int | None = None,
    precision: str = "auto",
    cpu_threads: int | None = CPU_THREADS,
    time_budget: float | None = None,
) -> FitResult:
    """Train each variant (Adam, MSE) to reproduce `target_image` from one fixed latent.

    The variants train in blocks of `callback_every` steps, taking turns. With a time budget
    the first block is a single step (to measure the speed), later blocks are at most about a
    tenth of the budget long (`next_block_size`), and the fit stops before a block that would
    end past the budget: every variant always trains the same number of steps.

    Args:
        config: the architecture.
        variants: the variants to train, from `config.VARIANTS`.
        target_image: uint8 or 0..1 float (H, W, 3) array, resized (cover + centre crop) to the
            configured size; None draws `core.generator.images.default_target`.
        steps: training steps per variant, 1..MAX_STEPS.
        lr: Adam's learning rate, in (0, 1].
        seed: seed of the weights and the latent.
        device: as in `render_at_init`.
        callback: called after each block as `callback(fraction_done, frames, losses)` with
            uint8 (H, W, 3) frames and the per-step losses so far, per variant; returning
            False stops early.
        callback_every: steps per block (default steps // 20, at least 1).
        precision: as in `render_at_init`.
        cpu_threads: as in `render_at_init`.
        time_budget: wall-clock seconds for the whole fit, building the models included
            (`core.hosted.TimeBudget`; the hosted page passes `core.hosted.FIT_TIME_BUDGET_S`),
            or None for no limit.

    Returns:
        A `FitResult`: per variant its losses, final picture, spectrum, checkerboard numbers
        and PSNR, plus the target and what the panels share.

    Raises:
        ConfigError: naming the argument that is out of range.

    Example:
        >>> config = GeneratorConfig(stages=1, base_channels=8)
        >>> result = fit(config, ["convtranspose"], steps=3, device="cpu")  # the default target
        >>> result.steps_done, len(result.variants["convtranspose"].losses)
        (3, 3)
        >>> result.variants["convtranspose"].final_image.shape
        (8, 8, 3)
    """
    variants, seed, device, precision = _check_run(config, variants, seed, device, precision)
    steps, lr, every = _check_fit_options(steps, lr, callback_every, callback)
    check_memory(config, 1, backward=True)
    budget = TimeBudget(time_budget)  # the clock starts now: building the models counts too
    target = _target_pixels(target_image, config.image_size)
    with cpu_thread_limit(device, cpu_threads):
        start = time.perf_counter()
        target_t = _target_tensor(target, config, device)
        z = sample_latents(config, 1, seed).to(device)
        training = _start_training(config, variants, seed, device, precision, lr)
        with deterministic_algorithms(device):
            progress = _train(training, z, target_t, steps, every, budget, callback)
        analysis = _analyse_fit(config, training, z, target_t)
        return FitResult(
            variants=analysis.fitted,
            config=config,
            geometry=Geometry.of(config),
            target=target,
            target_spectrum=analysis.target_spectrum,
            target_checkerboard_energy=picture_energy(target_t.cpu(), config.stride),
            spectrum_range=analysis.zrange,
            flat=analysis.flat,
            replacement=analysis.replacement,
            steps=steps,
            steps_done=progress.done,
            stopped_early=progress.stopped,
            stopped_for_time=progress.out_of_time,
            time_budget=budget.seconds,
            lr=lr,
            seed=seed,
            device=str(device),
            device_label=device_label(device, precision),
            precision=precision,
            seconds=time.perf_counter() - start,
        )
