"""`GeneratorConfig`: one architecture of the live generator, validated; the choices it takes,
and the argument checks the generator's modules share (`int_in`, `one_of`, `check_seed`,
`check_variants`).
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError
from core.geometry.layer import TransposedConv
from core.geometry.output_size import output_size
from core.hosted import (  # the hosted-demo caps, re-exported
    MAX_CHANNELS,
    MAX_KERNEL,
    MAX_LATENT_DIM,
    MAX_RESOLUTION,
    MAX_STAGES,
    cap_note,
)
from core.replacements.registry import DEFAULT_METHOD, METHODS, RESIZE_METHODS, method

MAX_STRIDE = 8  # upsampling factor of one stage (a sub-pixel stage has out * stride**2 channels)
START_SIZE = 4  # the stem's spatial size
INIT_STD = 0.02  # DCGAN initialisation: every convolution and linear weight ~ N(0, 0.02)
MIN_CHANNELS = 8  # floor of the halving channel schedule
# The registry's resize-convolutions the generator builds as variants, by Upsample mode (bicubic
# looks like bilinear and would add one more slow column).
VARIANT_RESIZE_MODES = ("nearest", "bilinear")
RESIZE_VARIANTS = tuple(
    name for name in RESIZE_METHODS if method(name).resize_mode in VARIANT_RESIZE_MODES
)
VARIANTS = ("convtranspose", *RESIZE_VARIANTS, "subpixel-icnr", "custom")
VARIANT_LABELS = {
    "convtranspose": "ConvTranspose2d",
    **{name: f"Resize-conv ({method(name).resize_mode})" for name in RESIZE_VARIANTS},
    "subpixel-icnr": "Sub-pixel conv (ICNR)",
    "custom": "Your replacement",
}
NORMS = ("batch", "instance", "none")
ACTIVATIONS = ("relu", "leaky_relu", "silu")
STEMS = ("linear", "convtranspose")
OUTPUTS = ("tanh", "none")
PRECISIONS = ("auto", "float32", "float16", "bfloat16")
# Fit-mode defaults, measured to finish in a few seconds on a 2-core CPU (see bench/).
DEFAULT_FIT_STEPS = 100
DEFAULT_LR = 0.01
DEFAULT_N_IMAGES = 8


def one_of(name: str, value: Any, options: Sequence[str]) -> str:
    """Check that a setting is one of its allowed strings.

    Args:
        name: the parameter's name, for the error.
        value: the value given.
        options: the allowed strings.

    Returns:
        `value`.

    Raises:
        ConfigError: naming `name` and the allowed strings.
    """
    if not isinstance(value, str) or value not in options:
        raise ConfigError(
            name, f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}"
        )
    return value


def int_in(name: str, value: Any, low: int, high: int, fix: str = "") -> int:
    """Check that a setting is an integer (not a bool, not a float) in low..high.

    Args:
        name: the parameter's name, for the error.
        value: the value given.
        low: the smallest allowed value.
        high: the largest allowed value.
        fix: a hint appended to the range error (e.g. the hosted demo's cap).

    Returns:
        `value` as an int.

    Raises:
        ConfigError: naming `name`, the range and the hint.
    """
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

    Args:
        stages: upsampling stages after the 4x4 stem (1 to MAX_STAGES).
        base_channels: channels at the stem, halved per stage (floor 8).
        latent_dim: length of the latent vector.
        kernel_size: kernel of every stage's ConvTranspose2d.
        stride: stride of every stage (its upsampling factor).
        padding: padding of every stage.
        output_padding: output_padding of every stage.
        norm: "batch", "instance" or "none".
        activation: "relu", "leaky_relu" or "silu".
        stem: "linear" or "convtranspose" (how the latent becomes 4x4).
        output: "tanh" or "none".
        image_channels: 1 or 3.
        resize_kernel: the Conv2d kernel of the resize-conv and sub-pixel variants.
        replacement: the "custom" variant's method, one of core.replacements.registry.METHODS.

    Raises:
        ConfigError: for a value out of its range or choices, a stage that would shrink the
            image, or an image over the hosted demo's MAX_RESOLUTION.

    Example:
        >>> config = GeneratorConfig(stages=3, base_channels=32)
        >>> config.sizes, config.channels
        ((4, 8, 16, 32), (32, 16, 8, 3))
        >>> config.layer(0).torch_repr()
        'nn.ConvTranspose2d(32, 16, kernel_size=4, stride=2, padding=1)'
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
    replacement: str = DEFAULT_METHOD  # the "custom" variant's core.replacements.weights method

    def __post_init__(self) -> None:
        int_in("stages", self.stages, 1, MAX_STAGES, cap_note("stages"))
        int_in(
            "base_channels",
            self.base_channels,
            1,
            MAX_CHANNELS,
            cap_note("channels"),
        )
        int_in("latent_dim", self.latent_dim, 1, MAX_LATENT_DIM)
        live = "the live generator allows up to {}"
        int_in("kernel_size", self.kernel_size, 1, MAX_KERNEL, live.format(MAX_KERNEL))
        int_in("stride", self.stride, 1, MAX_STRIDE, live.format(MAX_STRIDE))
        int_in("padding", self.padding, 0, MAX_KERNEL, live.format(MAX_KERNEL))
        int_in("output_padding", self.output_padding, 0, MAX_STRIDE, live.format(MAX_STRIDE))
        int_in("resize_kernel", self.resize_kernel, 1, MAX_KERNEL, live.format(MAX_KERNEL))
        one_of("norm", self.norm, NORMS)
        one_of("activation", self.activation, ACTIVATIONS)
        one_of("stem", self.stem, STEMS)
        one_of("output", self.output, OUTPUTS)
        one_of("replacement", self.replacement, METHODS)
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
                    f"the image would be {out}x{out} pixels after stage {stage + 1}: "
                    f"{cap_note('resolution')}; use fewer stages or a smaller stride",
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

    def activation_bytes(self, n_images: int, backward: bool = False) -> int:
        """Estimated float32 activation memory of one variant's run on `n_images` latents.

        A forward pass frees each stage's input once the next stage has it, so its peak is the
        largest stage: input, upsampled input (the resize variants) and output held together. A
        fit keeps every stage's tensors for the backward pass and their gradients: their sum,
        times three. An estimate for refusing runs that cannot fit, not a measurement.

        Args:
            n_images: images in the batch.
            backward: True for a fit (forward and backward), False for a render.

        Returns:
            Bytes, rounded down.

        Example:
            >>> GeneratorConfig().activation_bytes(16) < 2**30
            True
        """
        ch, sizes = self.channels, self.sizes
        per_stage = [
            ch[k] * sizes[k] ** 2 + (ch[k] + ch[k + 1]) * sizes[k + 1] ** 2
            for k in range(self.stages)
        ]
        elements = 3 * sum(per_stage) if backward else max(per_stage)
        return 4 * n_images * elements

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
        """Plain data: field name -> value."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> GeneratorConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def check_seed(seed: Any) -> int:
    """Check a seed: an integer in 0..2**32 - 1.

    Args:
        seed: the value given.

    Returns:
        The seed as an int.
    """
    return int_in("seed", seed, 0, 2**32 - 1)


def check_variants(variants: Any) -> tuple[str, ...]:
    """Check a choice of variants: a name or a non-empty list of distinct names from VARIANTS.

    Args:
        variants: the value given.

    Returns:
        The variants as a tuple, in the order given.
    """
    if isinstance(variants, str):
        variants = (variants,)
    if not isinstance(variants, Sequence) or not variants:
        raise ConfigError("variants", f"variants must be a non-empty list from {VARIANTS}")
    for v in variants:
        one_of("variants", v, VARIANTS)
    if len(set(variants)) != len(variants):
        raise ConfigError("variants", f"variants lists a variant twice: {list(variants)}")
    return tuple(variants)
