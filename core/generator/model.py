"""The generator family: a DCGAN-style generator whose variants differ only in the upsampling.

latent z -> (Linear or ConvTranspose2d) -> 4x4 -> N upsampling stages -> image -> tanh. Each
stage is the user's ConvTranspose2d(k, s, p, op) or a replacement with the same output size:
resize-convolution (nearest or bilinear Upsample + Conv2d), sub-pixel convolution with ICNR
initialisation (Aitken et al. 2017) or the user's choice from
`core.replacements.weights.replace_conv_transpose`. Everything else is built from the same seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import ConfigError
from core.generator.config import (
    INIT_STD,
    RESIZE_VARIANTS,
    START_SIZE,
    VARIANTS,
    GeneratorConfig,
    check_seed,
    int_in,
    one_of,
)
from core.hosted import (  # the hosted-demo caps
    MAX_BATCH,
    cap_note,
)
from core.replacements.registry import method
from core.replacements.weights import replace_conv_transpose


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
        else nn.Upsample(scale_factor=config.stride, mode=mode, align_corners=False)
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
    """The user's replacement of the seeded ConvTranspose2d, from core.replacements.weights."""
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
        """Number of trainable values in the whole generator."""
        return sum(p.numel() for p in self.parameters())


def build_generator(
    config: GeneratorConfig, variant: str = "convtranspose", seed: int = 0
) -> Generator:
    """Build one variant on the CPU in float32, deterministically from `seed`.

    The stem (and the norms, whose init is fixed) are identical across variants for the same
    seed; stage i's upsampling layer is drawn from its own seeded stream, so "convtranspose" and
    "custom" start from the very same ConvTranspose2d weights. The global RNG is left untouched.

    Args:
        config: the architecture.
        variant: one of VARIANTS.
        seed: 0..2**32 - 1.

    Returns:
        The generator, in training mode.
    """
    if not isinstance(config, GeneratorConfig):
        raise ConfigError(
            "config", f"config must be a GeneratorConfig, got {type(config).__name__}"
        )
    one_of("variant", variant, VARIANTS)
    seed = check_seed(seed)
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
            elif variant in RESIZE_VARIANTS:  # the registry's record says its Upsample mode
                module = _resize_conv(config, cin, cout, method(variant).resize_mode)
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

    Args:
        config: the architecture (its latent_dim).
        n: how many, 1..MAX_BATCH.
        seed: 0..2**32 - 1.

    Returns:
        float32 (n, latent_dim) on the CPU.
    """
    n = int_in("n_images", n, 1, MAX_BATCH, cap_note("batch"))
    generator = torch.Generator().manual_seed(check_seed(seed) + 7919)
    return torch.randn(MAX_BATCH, config.latent_dim, generator=generator)[:n].clone()
