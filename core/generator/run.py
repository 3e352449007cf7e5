"""Live generator: a DCGAN-style generator family whose variants differ only in the upsampling.

latent z -> (Linear or ConvTranspose2d) -> 4x4 -> N upsampling stages -> image -> tanh.
Each stage is the user's ConvTranspose2d(k, s, p, op) or a replacement with the same output
size: resize-convolution (nearest or bilinear Upsample + Conv2d; Odena, Dumoulin, Olah 2016),
sub-pixel convolution with ICNR initialisation (Conv2d + PixelShuffle; Shi et al. 2016,
Aitken et al. 2017) or the user's choice from `core.replacements.weights.replace_conv_transpose`.
Everything else (stem, norms, activations, latents) is built from the same seed, so the
variants' pictures differ because of the upsampling layer alone.

`render_at_init` shows the variants side by side at initialisation (images, mean power spectra
with the checkerboard frequencies marked, a checkerboard-strength number); `fit` trains each one
to reproduce a target image from a fixed latent (deep-image-prior style). Both are bounded by
the hosted-demo caps in `core.hosted`, re-exported here.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import checkerboard
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
from core.generator.model import Generator, build_generator, sample_latents
from core.generator.pictures import contrast_normalise, image_grid, to_uint8, zoomed_crop
from core.generator.spectra import (
    checkerboard_marks,
    display_spectrum,
    frequency_axes,
    spectrum_range,
    stage_periods,
)
from core.hosted import (  # the hosted-demo caps, re-exported
    MAX_BATCH,
    MAX_RESOLUTION,
    MAX_STEPS,
    TimeBudget,
)


def _energy_baseline(config: GeneratorConfig) -> float:
    """`checkerboard_energy` of white noise at the image size and stride (0 for stride 1)."""
    if config.stride == 1:
        return 0.0
    return checkerboard.checkerboard_energy_baseline(config.image_size, config.stride)


def _analyse(output: torch.Tensor, model: Generator) -> dict[str, Any]:
    """Spectrum, output checkerboard energy and per-stage layer strength of one variant."""
    stride = model.config.stride
    output = output.detach().float()
    stages = tuple(_layer_strength(up, stride) for up in model.upsampling)
    known = [v for v in stages if v is not None]
    energy = checkerboard.checkerboard_energy(output, stride) if stride > 1 else 0.0
    baseline = _energy_baseline(model.config)
    return {
        "spectrum": display_spectrum(output),
        "checkerboard_energy": energy,
        "checkerboard_energy_vs_noise": energy / baseline if baseline > 0 else None,
        "checkerboard_strength": max(known) if known else None,
        "stage_checkerboard_strength": stages,
    }


def _layer_strength(module: nn.Module, stride: int) -> float | None:
    """core.checkerboard' constant-input checkerboard strength of one upsampling layer; None where
    it cannot be measured (a replacement module it cannot probe)."""
    if stride == 1:
        return 0.0
    try:
        return checkerboard.checkerboard_strength(module, stride)
    except ConfigError:
        return None


def strength_reference(config: GeneratorConfig) -> dict[str, float]:
    """What the ConvTranspose2d stages' checkerboard strength is made of, for the page:
    "equal_weights" (`core.checkerboard.equal_weights_strength`: the geometry alone, uneven tap
    counts per phase) and "random_weights" (`core.checkerboard.random_weights_strength`: what
    random zero-mean weights give at initialisation for any kernel size); both 0 for stride 1."""
    if config.stride == 1:
        return {"equal_weights": 0.0, "random_weights": 0.0}
    return {
        "equal_weights": checkerboard.equal_weights_strength(
            config.kernel_size, config.stride, config.padding
        ),
        "random_weights": checkerboard.random_weights_strength(config.stride),
    }


def _frame_info(config: GeneratorConfig) -> dict[str, Any]:
    h, w = config.image_size
    fy, fx = frequency_axes(h, w)
    periods = stage_periods(config)
    marked = [e["order"] for e in periods if e["marked"]]
    return {
        "image_size": (h, w),
        "frequency_y": fy,
        "frequency_x": fx,
        "marks": checkerboard_marks(h, w, config.stride, orders=max(marked)) if marked else [],
        "stage_periods": periods,
        "checkerboard_energy_baseline": _energy_baseline(config),
        "strength_reference": strength_reference(config),
        "config": config.to_dict(),
    }


def _prepare(config, variants, seed, device, precision):
    if not isinstance(config, GeneratorConfig):
        raise ConfigError(
            "config", f"config must be a GeneratorConfig, got {type(config).__name__}"
        )
    variants = check_variants(variants)
    seed = check_seed(seed)
    device = pick_device(device)
    precision = resolve_precision(device, precision)
    return variants, seed, device, precision


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
    models: Mapping[str, Generator] | None = None,
    cpu_threads: int | None = CPU_THREADS,
) -> dict[str, Any]:
    """Generate `n_images` images per variant from the same latents, at initialisation.

    Returns a dict: "variants" -> {name: {"label", "images" uint8 (N,H,W,3) contrast-
    normalised, "grid" uint8, "crop" uint8 zoomed, "crop_box" (top, left, h, w) in image 0,
    "spectrum" float32 (H,W) log10 mean power with zero frequency centred and masked (NaN;
    `display_spectrum`), "checkerboard_energy" float (share of the outputs' mean-removed power
    at the stride's checkerboard frequencies, `core.checkerboard.checkerboard_energy`),
    "checkerboard_energy_vs_noise" float | None (that share over white noise's),
    "checkerboard_strength" float | None (largest per-stage layer strength,
    `core.checkerboard.checkerboard_strength`), "stage_checkerboard_strength" tuple, "parameters"
    int, "upsampling" str (last stage's module), "replacement_error" float | None, "seconds"
    float}}, plus "device", "device_label", "precision", "image_size", "n_images", "seed",
    "frequency_y", "frequency_x" (spectrum axes, cycles/pixel), "spectrum_range" (one colour
    range for all the variants' spectra, `spectrum_range`), "marks" (`checkerboard_marks`, the
    stages that `stage_periods` marks), "stage_periods", "checkerboard_energy_baseline" (white
    noise's energy), "strength_reference" (`strength_reference`), "batch_statistics" (the
    number of images batch norm takes its statistics from), "config", "seconds".

    Image i does not depend on `n_images`: the latents are the first n of a fixed draw, and with
    norm="batch" every image is generated in one fixed batch of MAX_BATCH latents (batch norm's
    statistics come from that batch) of which the first n are shown and measured.
    `models` may supply prebuilt generators (e.g. from a cache) for some variants; one on
    another device is copied, never moved. `cpu_threads`: torch CPU threads during the run on
    the CPU (restored after; default 1, the fastest for these small models on a shared CPU, see
    bench/); None keeps torch's setting.
    """
    variants, seed, device, precision = _prepare(config, variants, seed, device, precision)
    n_images = int_in(
        "n_images", n_images, 1, MAX_BATCH, f"the hosted demo renders at most {MAX_BATCH} images"
    )
    crop_size = int_in("crop_size", crop_size, 1, MAX_RESOLUTION)
    zoom = int_in("zoom", zoom, 1, 32)
    if columns is not None:
        columns = int_in("columns", columns, 1, MAX_BATCH)
    if models is not None and (
        not isinstance(models, Mapping)
        or not all(isinstance(m, Generator) for m in models.values())
    ):
        raise ConfigError(
            "models", "models must map variant names to generators from build_generator, or be None"
        )
    with cpu_thread_limit(device, cpu_threads):
        start = time.perf_counter()
        batch = MAX_BATCH if config.norm == "batch" else n_images
        z = sample_latents(config, batch, seed).to(device)
        result: dict[str, Any] = {
            "variants": {},
            "device": str(device),
            "device_label": device_label(device, precision),
            "precision": precision,
            "n_images": n_images,
            "batch_statistics": batch if config.norm == "batch" else None,
            "seed": seed,
            **_frame_info(config),
        }
        for name in variants:
            model = (models or {}).get(name)
            if model is None:
                model = build_generator(config, name, seed)
            elif (model.config, model.variant, model.seed) != (config, name, seed):
                raise ConfigError(
                    "models",
                    f"the cached model for {name!r} was built for another configuration, "
                    "variant or seed; rebuild it with build_generator(config, variant, seed)",
                )
            model = on_device(model, device).eval()
            t0 = time.perf_counter()
            with (
                torch.no_grad(),
                deterministic_algorithms(device),
                autocast_context(device, precision),
            ):
                output = model(z)[:n_images]
            synchronize(device)
            seconds = time.perf_counter() - t0
            raw = output.detach().float().cpu().numpy()
            images = contrast_normalise(raw)
            crop, box = zoomed_crop(images[0], crop_size, zoom)
            result["variants"][name] = {
                "label": VARIANT_LABELS[name],
                "images": images,
                "grid": image_grid(images, columns),
                "crop": crop,
                "crop_box": box,
                **_analyse(output, model),
                "parameters": model.parameter_count(),
                "upsampling": repr(model.upsampling[-1]),
                "replacement_error": max(model.replacement_errors, default=None),
                "seconds": seconds,
            }
        result["spectrum_range"] = spectrum_range(
            [v["spectrum"] for v in result["variants"].values()]
        )
        result["seconds"] = time.perf_counter() - start
        return result


FitCallback = Callable[[float, dict[str, np.ndarray], dict[str, list[float]]], bool | None]


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
) -> dict[str, Any]:
    """Train each variant (Adam, MSE) to reproduce `target_image` from one fixed latent.

    `target_image`: uint8 or 0..1 float (H, W, 3) array, resized (cover + centre crop) to the
    configured size; None draws `core.generator.images.default_target`. The variants train in
    blocks of `callback_every` steps (default steps // 20), taking turns; after each block
    `callback(fraction_done, frames, losses)` gets uint8 (H, W, 3) frames and the per-step
    losses so far, per variant; returning False stops early. `precision`, `cpu_threads`: as in
    `render_at_init`.

    `time_budget`: wall-clock seconds for the whole fit (`core.hosted.TimeBudget`; the hosted
    page passes `core.hosted.FIT_TIME_BUDGET_S`), or None for no limit. With a budget, the first
    block is a single step (to measure the speed), later blocks are at most about a tenth of the
    budget long, and the fit stops before a block that would end past the budget: every variant
    always trains the same number of steps, and "stopped_for_time" says it was cut short.

    Returns a dict: "variants" -> {name: {"label", "losses" list[float] (one per step),
    "final_image" uint8 (H,W,3), "spectrum", "checkerboard_energy", "checkerboard_strength",
    "stage_checkerboard_strength" (as in `render_at_init`, after training), "psnr" dB against
    the target, "seconds"}}, plus "target" uint8 (H,W,3), "target_spectrum",
    "target_checkerboard_energy", "steps_done", "stopped_early" (by the callback or the
    budget), "stopped_for_time", "time_budget", "device", "device_label", "precision", "steps",
    "lr", "seed", "image_size", "frequency_y", "frequency_x", "spectrum_range" (shared by the
    target's and the variants' spectra), "marks", "stage_periods",
    "checkerboard_energy_baseline", "strength_reference", "config", "seconds".
    """
    from core.generator.images import default_target, prepare_target

    variants, seed, device, precision = _prepare(config, variants, seed, device, precision)
    steps = int_in("steps", steps, 1, MAX_STEPS, f"the hosted demo allows up to {MAX_STEPS}")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not 0 < lr <= 1:
        raise ConfigError("lr", f"lr must be a number in (0, 1], got {lr!r}; 0.01 works well")
    every = (steps // 20 or 1) if callback_every is None else callback_every
    every = int_in("callback_every", every, 1, steps)
    if callback is not None and not callable(callback):
        raise ConfigError("callback", f"callback must be callable, got {type(callback).__name__}")
    budget = TimeBudget(time_budget)  # the clock starts now: building the models counts too
    h, w = config.image_size
    target = (
        default_target((h, w)) if target_image is None else prepare_target(target_image, (h, w))
    )
    with cpu_thread_limit(device, cpu_threads):
        start = time.perf_counter()
        target_t = torch.from_numpy(target).permute(2, 0, 1)[None].float().div(127.5).sub(1)
        if config.image_channels == 1:
            target_t = target_t.mean(dim=1, keepdim=True)
        target_t = target_t.to(device)
        z = sample_latents(config, 1, seed).to(device)

        models = {name: build_generator(config, name, seed).to(device).train() for name in variants}
        optimisers = {
            name: torch.optim.Adam(m.parameters(), lr=float(lr)) for name, m in models.items()
        }
        try:
            scaler = torch.amp.GradScaler(device.type, enabled=precision == "float16")
        except (RuntimeError, ValueError) as exc:  # older torch: no float16 scaler on MPS
            raise ConfigError(
                "precision",
                f"float16 training is not supported on {device.type} by this torch: use "
                "'bfloat16' or 'float32'",
            ) from exc
        losses: dict[str, list[float]] = {name: [] for name in variants}
        seconds = dict.fromkeys(variants, 0.0)
        frames: dict[str, np.ndarray] = {}
        done, stopped, out_of_time = 0, False, False
        training = 0.0  # seconds spent in the training blocks so far
        with deterministic_algorithms(device):
            while done < steps and not stopped:
                block = min(every, steps - done)
                if budget.seconds is not None:
                    if done == 0:
                        block = 1  # measure the speed first
                    else:
                        per_step = training / done  # all variants, one step each
                        # blocks of at most a tenth of the budget, shortened to what is left
                        fits = int(min(budget.seconds / 10, budget.remaining) / per_step)
                        block = min(block, fits)
                        if block < 1:
                            stopped = out_of_time = True
                            break
                round_start = time.perf_counter()
                for name, model in models.items():
                    t0 = time.perf_counter()
                    block_losses = []
                    for _ in range(block):
                        optimisers[name].zero_grad(set_to_none=True)
                        with autocast_context(device, precision):
                            output = model(z)
                        loss = F.mse_loss(output.float(), target_t)
                        scaler.scale(loss).backward()
                        scaler.step(optimisers[name])
                        scaler.update()
                        block_losses.append(loss.detach())
                    losses[name] += [float(v) for v in torch.stack(block_losses).cpu()]
                    frames[name] = to_uint8(output.detach().float().cpu().numpy())[0]
                    seconds[name] += time.perf_counter() - t0
                done += block
                training += time.perf_counter() - round_start
                if callback is not None and callback(done / steps, dict(frames), losses) is False:
                    stopped = done < steps

        result: dict[str, Any] = {
            "variants": {},
            "target": target,
            "target_spectrum": display_spectrum(target_t),
            "target_checkerboard_energy": (
                checkerboard.checkerboard_energy(target_t.cpu(), config.stride)
                if config.stride > 1
                else 0.0
            ),
            "steps": steps,
            "steps_done": done,
            "stopped_early": stopped,
            "stopped_for_time": out_of_time,
            "time_budget": budget.seconds,
            "lr": float(lr),
            "seed": seed,
            "device": str(device),
            "device_label": device_label(device, precision),
            "precision": precision,
            **_frame_info(config),
        }
        for name, model in models.items():
            with torch.no_grad(), autocast_context(device, precision):
                output = model(z)
            final = output.detach().float()
            mse = float(F.mse_loss(final.clamp(-1, 1), target_t)) / 4  # on a 0..1 scale
            result["variants"][name] = {
                "label": VARIANT_LABELS[name],
                "losses": losses[name],
                "final_image": to_uint8(final.cpu().numpy())[0],
                **_analyse(final, model),
                "psnr": 10 * math.log10(1 / max(mse, 1e-12)),
                "seconds": seconds[name],
            }
        result["spectrum_range"] = spectrum_range(
            [result["target_spectrum"], *(v["spectrum"] for v in result["variants"].values())]
        )
        result["seconds"] = time.perf_counter() - start
        return result
