"""Live generator: a DCGAN-style generator family whose variants differ only in the upsampling.

latent z -> (Linear or ConvTranspose2d) -> 4x4 -> N upsampling stages -> image -> tanh.
Each stage is the user's ConvTranspose2d(k, s, p, op) or a replacement with the same output
size: resize-convolution (nearest or bilinear Upsample + Conv2d; Odena, Dumoulin, Olah 2016),
sub-pixel convolution with ICNR initialisation (Conv2d + PixelShuffle; Shi et al. 2016,
Aitken et al. 2017) or the user's choice from `core.weights.replace_conv_transpose`.
Everything else (stem, norms, activations, latents) is built from the same seed, so the
variants' pictures differ because of the upsampling layer alone.

`render_at_init` shows the variants side by side at initialisation (images, mean power spectra
with the checkerboard frequencies marked, a checkerboard-strength number); `fit` trains each one
to reproduce a target image from a fixed latent (deep-image-prior style). Both are bounded by
the hosted-demo caps in `core.hosted`, re-exported here.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import numbers
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import artifacts
from core.errors import ConfigError
from core.hosted import (  # the hosted-demo caps, re-exported
    MAX_BATCH,
    MAX_CHANNELS,
    MAX_KERNEL,
    MAX_LATENT_DIM,
    MAX_RESOLUTION,
    MAX_STAGES,
    MAX_STEPS,
    BusyError,
    TimeBudget,
    heavy_run_slot,
)
from core.layer import TransposedConv
from core.output_size import output_size
from core.replacements import METHODS

__all__ = [
    "DEFAULT_FIT_STEPS",
    "DEFAULT_LR",
    "DEFAULT_N_IMAGES",
    "MAX_BATCH",
    "MAX_CHANNELS",
    "MAX_KERNEL",
    "MAX_LATENT_DIM",
    "MAX_RESOLUTION",
    "MAX_STAGES",
    "MAX_STEPS",
    "MAX_STRIDE",
    "REPLACEMENT_METHODS",
    "VARIANTS",
    "VARIANT_LABELS",
    "BusyError",
    "Generator",
    "GeneratorConfig",
    "autocast_context",
    "available_devices",
    "build_generator",
    "checkerboard_marks",
    "contrast_normalise",
    "device_label",
    "display_spectrum",
    "fit",
    "frequency_axes",
    "heavy_run_slot",
    "image_grid",
    "pick_device",
    "render_at_init",
    "resolve_precision",
    "sample_latents",
    "spectrum_range",
    "stage_periods",
    "strength_reference",
    "synchronize",
    "to_uint8",
    "zoomed_crop",
]

MAX_STRIDE = 8  # upsampling factor of one stage (a sub-pixel stage has out * stride**2 channels)
START_SIZE = 4  # the stem's spatial size
INIT_STD = 0.02  # DCGAN initialisation: every convolution and linear weight ~ N(0, 0.02)
MIN_CHANNELS = 8  # floor of the halving channel schedule

VARIANTS = ("convtranspose", "resize-nearest", "resize-bilinear", "subpixel-icnr", "custom")
VARIANT_LABELS = {
    "convtranspose": "ConvTranspose2d",
    "resize-nearest": "Resize-conv (nearest)",
    "resize-bilinear": "Resize-conv (bilinear)",
    "subpixel-icnr": "Sub-pixel conv (ICNR)",
    "custom": "Your replacement",
}
REPLACEMENT_METHODS = METHODS  # core.weights.replace_conv_transpose methods, from core.replacements
NORMS = ("batch", "instance", "none")
ACTIVATIONS = ("relu", "leaky_relu", "silu")
STEMS = ("linear", "convtranspose")
OUTPUTS = ("tanh", "none")
PRECISIONS = ("auto", "float32", "float16", "bfloat16")

# Fit-mode defaults, measured to finish in a few seconds on a 2-core CPU (see bench/).
DEFAULT_FIT_STEPS = 100
DEFAULT_LR = 0.01
DEFAULT_N_IMAGES = 8


def _choice(name: str, value: Any, options: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ConfigError(
            name, f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}"
        )
    return value


def _int_in(name: str, value: Any, low: int, high: int, fix: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(name, f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        hint = f"; {fix}" if fix else ""
        raise ConfigError(name, f"{name} must be between {low} and {high}, got {value}{hint}")
    return int(value)


@dataclass(frozen=True)
class GeneratorConfig:
    """One generator architecture; frozen and hashable, so it can key a model cache.

    Stage i (0-based) maps channels[i] -> channels[i + 1] and sizes[i] -> sizes[i + 1] with the
    upsampling layer ConvTranspose2d(kernel_size, stride, padding, output_padding) or a
    same-size replacement; channels halve per stage from `base_channels` (floor 8) and the last
    stage produces the image. Construction validates everything and raises ConfigError.
    """

    stages: int = 4
    base_channels: int = 64
    latent_dim: int = 64
    kernel_size: int = 4
    stride: int = 2
    padding: int = 1
    output_padding: int = 0
    norm: str = "batch"  # "batch" (batch statistics, no running stats), "instance", "none"
    activation: str = "relu"  # "relu", "leaky_relu" (0.2), "silu"
    stem: str = "linear"  # latent -> 4x4: "linear" or "convtranspose" (k4 on a 1x1 input)
    output: str = "tanh"  # "tanh" or "none"
    image_channels: int = 3  # 1 or 3
    resize_kernel: int = 3  # kernel of the Conv2d in the resize-conv and sub-pixel variants
    replacement: str = "resize-nearest"  # the "custom" variant's core.weights method

    def __post_init__(self) -> None:
        _int_in("stages", self.stages, 1, MAX_STAGES, f"the hosted demo allows up to {MAX_STAGES}")
        _int_in(
            "base_channels",
            self.base_channels,
            1,
            MAX_CHANNELS,
            f"the hosted demo allows up to {MAX_CHANNELS} channels",
        )
        _int_in("latent_dim", self.latent_dim, 1, MAX_LATENT_DIM)
        live = "the live generator allows up to {}"
        _int_in("kernel_size", self.kernel_size, 1, MAX_KERNEL, live.format(MAX_KERNEL))
        _int_in("stride", self.stride, 1, MAX_STRIDE, live.format(MAX_STRIDE))
        _int_in("padding", self.padding, 0, MAX_KERNEL, live.format(MAX_KERNEL))
        _int_in("output_padding", self.output_padding, 0, MAX_STRIDE, live.format(MAX_STRIDE))
        _int_in("resize_kernel", self.resize_kernel, 1, MAX_KERNEL, live.format(MAX_KERNEL))
        _choice("norm", self.norm, NORMS)
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("stem", self.stem, STEMS)
        _choice("output", self.output, OUTPUTS)
        _choice("replacement", self.replacement, REPLACEMENT_METHODS)
        channels = self.image_channels
        if isinstance(channels, bool) or not isinstance(channels, int) or channels not in (1, 3):
            raise ConfigError(
                "image_channels", f"image_channels must be 1 or 3, got {self.image_channels!r}"
            )
        n = START_SIZE
        for stage in range(self.stages):
            out = output_size(self.layer(stage), n)[0]  # ConfigError for what torch refuses
            if out < n:
                raise ConfigError(
                    "padding",
                    f"stage {stage + 1} would shrink the image from {n}x{n} to {out}x{out}: "
                    "a generator stage must not shrink it; use less padding or a larger "
                    "kernel_size or stride",
                )
            if out > MAX_RESOLUTION:
                raise ConfigError(
                    "stages",
                    f"the image would be {out}x{out} pixels after stage {stage + 1}: the hosted "
                    f"demo allows at most {MAX_RESOLUTION}; use fewer stages or a smaller stride",
                )
            n = out

    @property
    def channels(self) -> tuple[int, ...]:
        """Channels at the stem and after each stage (the last entry is image_channels)."""
        floor = min(MIN_CHANNELS, self.base_channels)
        inner = [max(self.base_channels >> i, floor) for i in range(self.stages)]
        return (*inner, self.image_channels)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Spatial side at the stem (4) and after each stage, from torch's output-size formula."""
        sizes = [START_SIZE]
        for stage in range(self.stages):
            sizes.append(output_size(self.layer(stage), sizes[-1])[0])
        return tuple(sizes)

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of the generated images."""
        side = self.sizes[-1]
        return side, side

    def layer(self, stage: int) -> TransposedConv:
        """The ConvTranspose2d configuration of stage `stage` (0-based)."""
        ch = self.channels
        return TransposedConv.make(
            ch[stage],
            ch[stage + 1],
            self.kernel_size,
            self.stride,
            self.padding,
            self.output_padding,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> GeneratorConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


# ----------------------------------------------------------------------------- modules


def _split(total: int) -> tuple[int, int]:
    """Split a pad (or, if negative, a crop) into (before, after), the extra pixel after."""
    before = total // 2 if total >= 0 else -((-total) // 2)
    return before, total - before


class PadCrop(nn.Module):
    """Zero-pad (positive) or crop (negative) the two spatial axes by fixed amounts."""

    def __init__(self, top: int, bottom: int, left: int, right: int) -> None:
        super().__init__()
        self.pads = (left, right, top, bottom)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pads) if any(self.pads) else x

    def extra_repr(self) -> str:
        left, right, top, bottom = self.pads
        return f"top={top}, bottom={bottom}, left={left}, right={right}"


def _seeded(seed: int, tag: int) -> torch.Generator:
    """An independent CPU generator per (seed, part), so shared parts get identical weights."""
    return torch.Generator().manual_seed((seed * 1_000_003 + tag) % (2**63))


def _init_(module: nn.Module, generator: torch.Generator) -> None:
    """DCGAN init of every weight of `module`: N(0, INIT_STD); biases zero."""
    for sub in module.modules():
        if isinstance(sub, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(sub.weight, 0.0, INIT_STD, generator=generator)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)


def _size_gap(config: GeneratorConfig) -> int:
    """Target size minus stride * input size: k - s - 2p + op (the same for every stage)."""
    return config.kernel_size - config.stride - 2 * config.padding + config.output_padding


def _resize_conv(config: GeneratorConfig, cin: int, cout: int, mode: str) -> nn.Module:
    """Upsample(stride, mode) + pad/crop + Conv2d(resize_kernel): exactly the stage's size."""
    total = _size_gap(config) + config.resize_kernel - 1
    top, bottom = _split(total)
    upsample = (
        nn.Upsample(scale_factor=config.stride, mode="nearest")
        if mode == "nearest"
        else nn.Upsample(scale_factor=config.stride, mode="bilinear", align_corners=False)
    )
    return nn.Sequential(
        upsample,
        PadCrop(top, bottom, top, bottom),
        nn.Conv2d(cin, cout, config.resize_kernel),
    )


def _subpixel_icnr(config: GeneratorConfig, cin: int, cout: int, generator: torch.Generator):
    """Pad + Conv2d(cin, cout*s^2) + PixelShuffle(s) + crop, with ICNR weights.

    ICNR (Aitken et al. 2017): every group of s*s output channels that PixelShuffle interleaves
    into one image starts with the same kernel, so at initialisation the layer is a nearest
    upsample of an ordinary convolution: no checkerboard.
    """
    s, k = config.stride, config.resize_kernel
    gap = _size_gap(config)
    extra = max(0, -(-gap // s))  # input pixels to add so the shuffled output covers the target
    top, bottom = _split(k - 1 + extra)
    post_top, post_bottom = _split(gap - s * extra)
    conv = nn.Conv2d(cin, cout * s * s, k)
    with torch.no_grad():
        kernel = torch.empty(cout, cin, k, k)
        nn.init.normal_(kernel, 0.0, INIT_STD, generator=generator)
        conv.weight.copy_(kernel.repeat_interleave(s * s, dim=0))
        conv.bias.zero_()
    return nn.Sequential(
        PadCrop(top, bottom, top, bottom),
        conv,
        nn.PixelShuffle(s),
        PadCrop(post_top, post_bottom, post_top, post_bottom),
    )


def _conv_transpose(config: GeneratorConfig, stage: int, generator: torch.Generator):
    layer = nn.ConvTranspose2d(**config.layer(stage).kwargs())
    _init_(layer, generator)
    return layer


def _custom(config: GeneratorConfig, stage: int, generator: torch.Generator):
    """The user's replacement of the seeded ConvTranspose2d, from core.weights."""
    try:
        from core.weights import replace_conv_transpose
    except ImportError as exc:  # the module is written in parallel; say so plainly
        raise ConfigError(
            "variants",
            "the 'custom' variant needs core.weights.replace_conv_transpose, which is not "
            "available in this installation; pick another variant",
        ) from exc
    module, error = replace_conv_transpose(
        _conv_transpose(config, stage, generator), config.replacement
    )
    return module, float(error)


def _norm(config: GeneratorConfig, channels: int) -> nn.Module:
    if config.norm == "batch":
        # Batch statistics always (no running buffers): cached models stay stateless.
        return nn.BatchNorm2d(channels, track_running_stats=False)
    if config.norm == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()


def _activation(config: GeneratorConfig) -> nn.Module:
    return {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "silu": nn.SiLU}[
        config.activation
    ]()


class Generator(nn.Module):
    """latent (B, latent_dim) -> images (B, image_channels, H, W); see `GeneratorConfig`."""

    def __init__(
        self,
        config: GeneratorConfig,
        variant: str,
        seed: int,
        stem: nn.Module,
        upsampling: Sequence[nn.Module],
        replacement_errors: Sequence[float] = (),
    ) -> None:
        super().__init__()
        self.config, self.variant, self.seed = config, variant, seed
        self.replacement_errors = tuple(replacement_errors)
        ch = config.channels
        self.stem = stem
        self.stem_norm = _norm(config, ch[0])
        self.upsampling = nn.ModuleList(upsampling)
        self.norms = nn.ModuleList(_norm(config, c) for c in ch[1:-1])
        self.act = _activation(config)
        self.out_act = nn.Tanh() if config.output == "tanh" else nn.Identity()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        c0 = self.config.channels[0]
        if self.config.stem == "linear":
            x = self.stem(z).view(-1, c0, START_SIZE, START_SIZE)
        else:
            x = self.stem(z[:, :, None, None])
        x = self.act(self.stem_norm(x))
        last = len(self.upsampling) - 1
        for i, up in enumerate(self.upsampling):
            x = up(x)
            if i < last:
                x = self.act(self.norms[i](x))
        return self.out_act(x)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _check_seed(seed: Any) -> int:
    return _int_in("seed", seed, 0, 2**32 - 1)


def _check_variants(variants: Any) -> tuple[str, ...]:
    if isinstance(variants, str):
        variants = (variants,)
    if not isinstance(variants, Sequence) or not variants:
        raise ConfigError("variants", f"variants must be a non-empty list from {VARIANTS}")
    for v in variants:
        _choice("variants", v, VARIANTS)
    if len(set(variants)) != len(variants):
        raise ConfigError("variants", f"variants lists a variant twice: {list(variants)}")
    return tuple(variants)


def build_generator(
    config: GeneratorConfig, variant: str = "convtranspose", seed: int = 0
) -> Generator:
    """Build one variant on the CPU in float32, deterministically from `seed`.

    The stem (and the norms, whose init is fixed) are identical across variants for the same
    seed; stage i's upsampling layer is drawn from its own seeded stream, so "convtranspose" and
    "custom" start from the very same ConvTranspose2d weights. The global RNG is left untouched.
    """
    if not isinstance(config, GeneratorConfig):
        raise ConfigError(
            "config", f"config must be a GeneratorConfig, got {type(config).__name__}"
        )
    _choice("variant", variant, VARIANTS)
    seed = _check_seed(seed)
    ch, sizes = config.channels, config.sizes
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if config.stem == "linear":
            stem: nn.Module = nn.Linear(config.latent_dim, ch[0] * START_SIZE * START_SIZE)
        else:
            stem = nn.ConvTranspose2d(config.latent_dim, ch[0], START_SIZE)
        _init_(stem, _seeded(seed, 0))
        upsampling, errors = [], []
        for stage in range(config.stages):
            gen = _seeded(seed, stage + 1)
            cin, cout = ch[stage], ch[stage + 1]
            if variant == "convtranspose":
                module = _conv_transpose(config, stage, gen)
            elif variant in ("resize-nearest", "resize-bilinear"):
                module = _resize_conv(config, cin, cout, variant.removeprefix("resize-"))
                _init_(module, gen)
            elif variant == "subpixel-icnr":
                module = _subpixel_icnr(config, cin, cout, gen)
            else:
                module, error = _custom(config, stage, gen)
                errors.append(error)
                with torch.no_grad():
                    got = module(torch.zeros(1, cin, sizes[stage], sizes[stage])).shape[-2:]
                if tuple(got) != (sizes[stage + 1],) * 2:
                    raise ConfigError(
                        "replacement",
                        f"replacement {config.replacement!r} gives {tuple(got)} at stage "
                        f"{stage + 1} instead of {(sizes[stage + 1],) * 2}; pick another",
                    )
            upsampling.append(module)
        return Generator(config, variant, seed, stem, upsampling, errors)


def sample_latents(config: GeneratorConfig, n: int, seed: int = 0) -> torch.Tensor:
    """n latent vectors ~ N(0, 1), drawn on the CPU from `seed` (the same on every device).

    Always the first n of the same MAX_BATCH draws: latent i does not depend on n.
    """
    n = _int_in("n_images", n, 1, MAX_BATCH, f"the hosted demo renders at most {MAX_BATCH}")
    generator = torch.Generator().manual_seed(_check_seed(seed) + 7919)
    return torch.randn(MAX_BATCH, config.latent_dim, generator=generator)[:n].clone()


# ----------------------------------------------------------------------------- devices


def available_devices() -> list[str]:
    """Device names this machine can run: "cpu", then "cuda:0", ..., then "mps" if present."""
    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        names.append("mps")
    return names


def pick_device(preference: str | torch.device = "auto") -> torch.device:
    """The device to run on: with "auto", CUDA if available, else Apple MPS, else the CPU.

    Accepts "auto", "cpu", "cuda", "cuda:N", "mps" (or a torch.device). ConfigError (parameter
    "device") names what is missing and what is available.
    """
    if isinstance(preference, torch.device):
        preference = str(preference)
    if not isinstance(preference, str):
        raise ConfigError("device", f"device must be a string such as 'auto', got {preference!r}")
    name = preference.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(
            "device", f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'; got {preference!r}"
        ) from exc
    if device.type == "cpu":
        return device
    available = ", ".join(available_devices())
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                "device",
                f"CUDA was requested but no CUDA GPU is usable here (available: "
                f"{available}); choose 'auto' or 'cpu'",
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(
                "device",
                f"{name} does not exist: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s) (available: {available})",
            )
        return device
    if device.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(
                "device",
                f"Apple MPS was requested but is not available here (available: "
                f"{available}); choose 'auto' or 'cpu'",
            )
        return device
    raise ConfigError(
        "device", f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'; got {preference!r}"
    )


def resolve_precision(device: torch.device, precision: str = "auto") -> str:
    """The autocast precision to use: "float32", "float16" or "bfloat16".

    "auto": bfloat16 on CUDA GPUs that support it (else float16), float16 on MPS, float32 on
    the CPU. float16/bfloat16 are GPU-only here (ConfigError on the CPU).
    """
    _choice("precision", precision, PRECISIONS)
    if device.type == "cpu":
        if precision in ("float16", "bfloat16"):
            raise ConfigError(
                "precision",
                f"{precision} autocast is offered on a GPU only; use 'float32' or 'auto' on "
                "the CPU",
            )
        return "float32"
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    check = getattr(torch.amp.autocast_mode, "is_autocast_available", None)
    return "float16" if check is not None and check(device.type) else "float32"


# torch CPU threads for a render or fit: small generators gain little from more, and on a busy
# shared CPU extra threads spin and wait (see bench/bench_generator.py).
CPU_THREADS = 1


def device_label(
    device: torch.device, precision: str = "float32", threads: int | None = None
) -> str:
    """A line for the page, e.g. "CUDA GPU: NVIDIA H100 80GB HBM3, bfloat16 autocast";
    `threads`: the CPU threads a run uses (default: torch's current number)."""
    if device.type == "cuda":
        name = f"CUDA GPU: {torch.cuda.get_device_name(device)}"
    elif device.type == "mps":
        name = "Apple GPU (MPS)"
    else:
        threads = threads or torch.get_num_threads()
        name = f"CPU, {threads} torch thread{'s' if threads != 1 else ''}"
    return f"{name}, {precision} autocast" if precision != "float32" else f"{name}, float32"


def autocast_context(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "float32":
        return contextlib.nullcontext()
    dtype = torch.float16 if precision == "float16" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


@contextlib.contextmanager
def _cpu_threads(device: torch.device, threads: int | None) -> Iterator[None]:
    """Run with `threads` torch CPU threads, then restore the previous number.

    Small generators gain little from intra-op threads, and on a shared, busy CPU extra
    threads spin and wait: one thread can be several times faster there (see bench/).
    The setting is process-wide, so take `core.hosted.heavy_run_slot` around the run.
    """
    if threads is not None:
        threads = _int_in("cpu_threads", threads, 1, 256)
    if threads is None or device.type != "cpu":
        yield
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


@contextlib.contextmanager
def _deterministic(device: torch.device) -> Iterator[None]:
    """Deterministic cuDNN kernels for the duration of a run (results repeat for a seed)."""
    if device.type != "cuda":
        yield
        return
    saved = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


# ----------------------------------------------------------------------------- pictures


def _to_rgb(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, H, W, 3); one channel is repeated."""
    arr = np.moveaxis(images, 1, -1)
    return np.repeat(arr, 3, axis=-1) if arr.shape[-1] == 1 else arr


def contrast_normalise(images: np.ndarray) -> np.ndarray:
    """Stretch each image's 0.5..99.5 percentile range to 0..255: uint8 (N, H, W, 3).

    Random-weight generators make faint images; stretching each one makes the pattern visible.
    """
    rgb = _to_rgb(np.asarray(images, dtype=np.float64))
    low = np.percentile(rgb, 0.5, axis=(1, 2, 3), keepdims=True)
    high = np.percentile(rgb, 99.5, axis=(1, 2, 3), keepdims=True)
    span = np.where(high - low > 1e-12, high - low, 1.0)
    scaled = np.where(high - low > 1e-12, (rgb - low) / span, 0.5)
    return np.clip(np.round(scaled * 255), 0, 255).astype(np.uint8)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Generator outputs in [-1, 1] (clipped) as uint8 (N, H, W, 3), without stretching."""
    rgb = _to_rgb(np.asarray(images, dtype=np.float64))
    return np.clip(np.round((rgb + 1) * 127.5), 0, 255).astype(np.uint8)


def image_grid(images: np.ndarray, columns: int | None = None, gap: int = 2) -> np.ndarray:
    """Tile uint8 (N, H, W, 3) images into one uint8 array, `gap` mid-grey pixels apart."""
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    columns = max(1, min(columns, n))
    rows = math.ceil(n / columns)
    grid = np.full(
        (rows * h + (rows - 1) * gap, columns * w + (columns - 1) * gap, c), 128, dtype=np.uint8
    )
    for i in range(n):
        r, col = divmod(i, columns)
        grid[r * (h + gap) : r * (h + gap) + h, col * (w + gap) : col * (w + gap) + w] = images[i]
    return grid


def zoomed_crop(image: np.ndarray, crop_size: int, zoom: int) -> tuple[np.ndarray, tuple]:
    """A centred crop_size square of a uint8 (H, W, 3) image, enlarged `zoom` times (nearest).

    Returns (crop, (top, left, height, width)); nearest enlargement keeps pixels sharp.
    """
    h, w = image.shape[:2]
    ch, cw = min(crop_size, h), min(crop_size, w)
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = image[top : top + ch, left : left + cw]
    return np.repeat(np.repeat(crop, zoom, axis=0), zoom, axis=1), (top, left, ch, cw)


def display_spectrum(output: torch.Tensor | np.ndarray) -> np.ndarray:
    """log10 of the mean power spectrum of (N, C, H, W) images, for display: float32 (H, W).

    `core.artifacts.power_spectrum` of the mean-removed images under a Hann window (the window
    stops the image borders, which the FFT wraps around, from painting a bright cross through
    the centre over the checkerboard peaks on the axes). Zero frequency at [H // 2, W // 2];
    that bin is NaN (masked): the mean is removed, so it holds only window leakage, and its
    tiny value would stretch any colour scale. Other bins are floored 12 decades below the
    peak (a display floor; `spectrum_range` picks the colour range from percentiles).
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
    power = artifacts.power_spectrum(x * window).numpy()
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
    colours. NaN (the masked DC bin) is ignored. (0, 1) when there is nothing finite.
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
    """
    height = _int_in("height", height, 1, MAX_RESOLUTION)
    width = _int_in("width", width, 1, MAX_RESOLUTION)
    stride = _int_in("stride", stride, 1, MAX_STRIDE)
    orders = _int_in("orders", orders, 1, MAX_STAGES)
    marks: list[dict[str, float | int]] = []
    seen: set[tuple[float, float]] = set()
    for order in range(1, orders + 1 if stride > 1 else 1):
        period = stride**order
        if period > max(height, width):  # finer than the spectrum's bins can show
            break
        for fy, fx in artifacts.checkerboard_frequencies(period):
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


def stage_periods(config: GeneratorConfig) -> list[dict[str, int | bool]]:
    """Where each upsampling stage's period-stride pattern lands in the final image.

    Stage j (1-based) of n prints its pattern at its own output resolution; the n - j stages
    after it upsample by the stride each, so in the image its period is stride**(n - j + 1)
    pixels (the last stage: the stride itself). One entry per stage, last stage first: "stage",
    "period", "order" (n - j + 1) and "marked": True when `_frame_info` circles its
    frequencies: the last stage's (period = stride) always, earlier stages' while their period
    is at most MAX_MARKED_PERIOD (finer grids of marks would cover the whole panel); never a
    period longer than the image.
    """
    side = min(config.image_size)
    entries = []
    for order in range(1, config.stages + 1):
        period = config.stride**order
        entries.append(
            {
                "stage": config.stages - order + 1,
                "period": period,
                "order": order,
                "marked": config.stride > 1
                and period <= side
                and (order == 1 or period <= MAX_MARKED_PERIOD),
            }
        )
    return entries


def frequency_axes(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (cycles per pixel) of the rows and of the columns of a centred spectrum."""
    return np.fft.fftshift(np.fft.fftfreq(height)), np.fft.fftshift(np.fft.fftfreq(width))


def _energy_baseline(config: GeneratorConfig) -> float:
    """`checkerboard_energy` of white noise at the image size and stride (0 for stride 1)."""
    if config.stride == 1:
        return 0.0
    return artifacts.checkerboard_energy_baseline(config.image_size, config.stride)


def _analyse(output: torch.Tensor, model: Generator) -> dict[str, Any]:
    """Spectrum, output checkerboard energy and per-stage layer strength of one variant."""
    stride = model.config.stride
    output = output.detach().float()
    stages = tuple(_layer_strength(up, stride) for up in model.upsampling)
    known = [v for v in stages if v is not None]
    energy = artifacts.checkerboard_energy(output, stride) if stride > 1 else 0.0
    baseline = _energy_baseline(model.config)
    return {
        "spectrum": display_spectrum(output),
        "checkerboard_energy": energy,
        "checkerboard_energy_vs_noise": energy / baseline if baseline > 0 else None,
        "checkerboard_strength": max(known) if known else None,
        "stage_checkerboard_strength": stages,
    }


def _layer_strength(module: nn.Module, stride: int) -> float | None:
    """core.artifacts' constant-input checkerboard strength of one upsampling layer; None where
    it cannot be measured (a replacement module it cannot probe)."""
    if stride == 1:
        return 0.0
    try:
        return artifacts.checkerboard_strength(module, stride)
    except ConfigError:
        return None


def strength_reference(config: GeneratorConfig) -> dict[str, float]:
    """What the ConvTranspose2d stages' checkerboard strength is made of, for the page:
    "equal_weights" (`core.artifacts.equal_weights_strength`: the geometry alone, uneven tap
    counts per phase) and "random_weights" (`core.artifacts.random_weights_strength`: what
    random zero-mean weights give at initialisation for any kernel size); both 0 for stride 1."""
    if config.stride == 1:
        return {"equal_weights": 0.0, "random_weights": 0.0}
    return {
        "equal_weights": artifacts.equal_weights_strength(
            config.kernel_size, config.stride, config.padding
        ),
        "random_weights": artifacts.random_weights_strength(config.stride),
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


def _device_of(model: nn.Module) -> torch.device | None:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return None


def _on_device(model: Generator, device: torch.device) -> Generator:
    """`model` itself when it already lives on `device`, else a copy moved there: a shared
    (cached) model is never moved under another session's feet."""
    current = _device_of(model)
    if current is None or _same_device(current, device):
        return model
    return copy.deepcopy(model).to(device)


def _same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    if a.type == "cuda":
        index = torch.cuda.current_device() if torch.cuda.is_available() else 0
        return (a.index if a.index is not None else index) == (
            b.index if b.index is not None else index
        )
    return True


def _prepare(config, variants, seed, device, precision):
    if not isinstance(config, GeneratorConfig):
        raise ConfigError(
            "config", f"config must be a GeneratorConfig, got {type(config).__name__}"
        )
    variants = _check_variants(variants)
    seed = _check_seed(seed)
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
    at the stride's checkerboard frequencies, `core.artifacts.checkerboard_energy`),
    "checkerboard_energy_vs_noise" float | None (that share over white noise's),
    "checkerboard_strength" float | None (largest per-stage layer strength,
    `core.artifacts.checkerboard_strength`), "stage_checkerboard_strength" tuple, "parameters"
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
    n_images = _int_in(
        "n_images", n_images, 1, MAX_BATCH, f"the hosted demo renders at most {MAX_BATCH} images"
    )
    crop_size = _int_in("crop_size", crop_size, 1, MAX_RESOLUTION)
    zoom = _int_in("zoom", zoom, 1, 32)
    if columns is not None:
        columns = _int_in("columns", columns, 1, MAX_BATCH)
    if models is not None and (
        not isinstance(models, Mapping)
        or not all(isinstance(m, Generator) for m in models.values())
    ):
        raise ConfigError(
            "models", "models must map variant names to generators from build_generator, or be None"
        )
    with _cpu_threads(device, cpu_threads):
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
            model = _on_device(model, device).eval()
            t0 = time.perf_counter()
            with torch.no_grad(), _deterministic(device), autocast_context(device, precision):
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
    configured size; None draws `core.images.default_target`. The variants train in blocks of
    `callback_every` steps (default steps // 20), taking turns; after each block
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
    from core.images import default_target, prepare_target

    variants, seed, device, precision = _prepare(config, variants, seed, device, precision)
    steps = _int_in("steps", steps, 1, MAX_STEPS, f"the hosted demo allows up to {MAX_STEPS}")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not 0 < lr <= 1:
        raise ConfigError("lr", f"lr must be a number in (0, 1], got {lr!r}; 0.01 works well")
    every = (steps // 20 or 1) if callback_every is None else callback_every
    every = _int_in("callback_every", every, 1, steps)
    if callback is not None and not callable(callback):
        raise ConfigError("callback", f"callback must be callable, got {type(callback).__name__}")
    budget = TimeBudget(time_budget)  # the clock starts now: building the models counts too
    h, w = config.image_size
    target = (
        default_target((h, w)) if target_image is None else prepare_target(target_image, (h, w))
    )
    with _cpu_threads(device, cpu_threads):
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
        with _deterministic(device):
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
                artifacts.checkerboard_energy(target_t.cpu(), config.stride)
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
