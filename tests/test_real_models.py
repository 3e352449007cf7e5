"""Real architectures from the papers, with torch's forward hooks as the oracle.

The shape trace (`core.converter.shape_trace.trace_shapes`), the text conversion
(`core.converter.text_conversion.convert_text`) and the live conversion
(`core.converter.live.convert_model`) are checked on models written from the papers: layer sizes
as published, channel widths scaled down so that every forward takes a few milliseconds on a
CPU. The rules are the product's promises:

(a) a trace row whose status is "ok" has torch's (input, output) shape for that module;
(b) `trace.output_shape` is None or torch's output shape: the trace never claims a wrong output,
    even where a forward hides a concatenation, a flatten/view, parallel branches or padding;
(c) a row whose true input is hidden by a custom forward (a ReLU right after a skip
    concatenation, a branch run in parallel) is not "ok", unless it has torch's shapes;
(d) a pure chain (only nn.Sequential containers, or a plain list) is traced to torch's output,
    and the code `convert_text` writes for it runs and keeps the output shape, for every method;
(e) `convert_model` keeps the outputs (exact methods) or the output shape (resize methods);
(f) a recurrent, attention or embedding layer stops the trace there, and its row names it.
"""

from __future__ import annotations

import copy
import functools
import itertools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from model_zoo import run_code, seeded
from torch import nn
from torch_oracle import Shape, first_tensor, torch_shapes

from core.converter.live import convert_model
from core.converter.shape_trace import OK, ShapeTrace, trace_shapes
from core.converter.text_conversion import convert_text
from core.replacements.registry import EXACT_METHODS, METHODS

# ---------------------------------------------------------------------------------- helpers


def is_pure_chain(model: nn.Module) -> bool:
    """True when print(model) shows only nn.Sequential containers: the printed order is the
    order torch runs, and nothing is hidden in a forward."""
    return all(
        type(module) is nn.Sequential
        for _, module in model.named_modules()
        if list(module.children())
    )


def plain_list(model: nn.Module) -> str:
    """A flat nn.Sequential pasted as a plain list of layers, one `nn.Layer(...)` per line."""
    assert type(model) is nn.Sequential
    return "\n".join(f"nn.{layer!r}" for layer in model)


# ------------------------------------------------------------------ 1. pix2pix U-Net generator


class UnetSkipConnectionBlock(nn.Module):
    """pix2pix (Isola et al. 2017), as in junyanz/pytorch-CycleGAN-and-pix2pix: a block is
    down -> submodule -> up, and every block but the outermost concatenates its input with its
    output, so the ReLU after a submodule in the parent's Sequential sees twice the channels."""

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        input_nc: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        norm_layer: type[nn.Module] = nn.BatchNorm2d,
        use_dropout: bool = False,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        use_bias = norm_layer == nn.InstanceNorm2d
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = norm_layer(inner_nc)
        uprelu = nn.ReLU(True)
        upnorm = norm_layer(outer_nc)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            model = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(
                inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias
            )
            model = [downrelu, downconv, uprelu, upconv, upnorm]
        else:
            upconv = nn.ConvTranspose2d(
                inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias
            )
            model = [downrelu, downconv, downnorm, submodule, uprelu, upconv, upnorm]
            if use_dropout:
                model.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """pix2pix's U-Net generator (Isola et al. 2017), built recursively from the innermost
    block out; `num_downs` halvings (8 for 256x256 in the paper, 6 here for 64x64)."""

    def __init__(
        self, input_nc: int = 3, output_nc: int = 3, num_downs: int = 6, ngf: int = 8
    ) -> None:
        super().__init__()
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, use_dropout=True)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block)
        self.model = UnetSkipConnectionBlock(
            output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def after_concatenating_blocks(model: nn.Module) -> list[str]:
    """Paths of the layers that directly follow a concatenating pix2pix block in a Sequential:
    each is a ReLU whose input is the concatenation (no conv in between)."""
    paths = []
    for path, module in model.named_modules():
        if type(module) is not nn.Sequential:
            continue
        items = list(module.named_children())
        for (_, first), (name, second) in itertools.pairwise(items):
            if isinstance(first, UnetSkipConnectionBlock) and not first.outermost:
                assert isinstance(second, nn.ReLU)
                paths.append(f"{path}.{name}")
    return paths


# ------------------------------------------------------------- 2. CycleGAN ResNet generator


class ResnetBlock(nn.Module):
    """CycleGAN's residual block (Zhu et al. 2017, after Johnson et al. 2016):
    x + conv_block(x), reflection padding, two 3x3 convolutions."""

    def __init__(self, dim: int, norm_layer: Callable[[int], nn.Module], use_bias: bool) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
            norm_layer(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
            norm_layer(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's generator (Zhu et al. 2017): ReflectionPad2d(3) + 7x7 conv, two stride-2
    convs, `n_blocks` ResnetBlocks (6 for 128x128), two ConvTranspose2d(k3, s2, p1, op1), a 7x7
    conv and Tanh, all in `self.model = nn.Sequential(...)` as in the original code."""

    def __init__(
        self, input_nc: int = 3, output_nc: int = 3, ngf: int = 8, n_blocks: int = 6
    ) -> None:
        super().__init__()
        norm_layer = functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
        use_bias = True  # InstanceNorm2d
        model: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),
            norm_layer(ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            mult = 2**i
            model += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=use_bias),
                norm_layer(ngf * mult * 2),
                nn.ReLU(True),
            ]
        model += [ResnetBlock(ngf * 4, norm_layer, use_bias) for _ in range(n_blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            model += [
                nn.ConvTranspose2d(
                    ngf * mult,
                    ngf * mult // 2,
                    kernel_size=3,
                    stride=2,
                    padding=1,
                    output_padding=1,
                    bias=use_bias,
                ),
                norm_layer(ngf * mult // 2),
                nn.ReLU(True),
            ]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


# ---------------------------------------------------------------------- 3. the original U-Net


class DoubleConv(nn.Module):
    """(conv 3x3 -> BN -> ReLU) x 2, as in milesial/Pytorch-UNet."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.double_conv(x)


class Down(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool_conv(x)


class UpPad(nn.Module):
    """U-Net's up step: ConvTranspose2d(k2, s2), F.pad to the skip's size (odd inputs), concat."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        x1 = self.up(x1)
        dy, dx = x2.size(2) - x1.size(2), x2.size(3) - x1.size(3)
        x1 = F.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([x2, x1], dim=1))


class UNet(nn.Module):
    """The U-Net (Ronneberger et al. 2015) in milesial/Pytorch-UNet's form (padded 3x3
    convolutions, transposed-convolution upsampling), widths 64..1024 scaled to 8..128."""

    def __init__(self, n_channels: int = 3, n_classes: int = 2, base: int = 8) -> None:
        super().__init__()
        w = [base * 2**i for i in range(5)]
        self.inc = DoubleConv(n_channels, w[0])
        self.down1, self.down2 = Down(w[0], w[1]), Down(w[1], w[2])
        self.down3, self.down4 = Down(w[2], w[3]), Down(w[3], w[4])
        self.up1, self.up2 = UpPad(w[4], w[3]), UpPad(w[3], w[2])
        self.up3, self.up4 = UpPad(w[2], w[1]), UpPad(w[1], w[0])
        self.outc = nn.Conv2d(w[0], n_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x = self.up1(self.down4(x4), x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        return self.outc(self.up4(x, x1))


# ------------------------------------------------------------- 4. convolutional VAE


class ConvVAE(nn.Module):
    """A convolutional VAE (Kingma & Welling 2014) for 28x28 images: the forward flattens the
    encoder's map for fc_mu / fc_logvar and views fc_decode's output as a map for the decoder.
    Returns (reconstruction, mu, logvar); in eval mode z = mu."""

    def __init__(self, latent: int = 8, width: int = 8) -> None:
        super().__init__()
        self.width = width
        self.encoder = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.ReLU(), nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU()
        )
        self.fc_mu = nn.Linear(2 * width * 7 * 7, latent)
        self.fc_logvar = nn.Linear(2 * width * 7 * 7, latent)
        self.fc_decode = nn.Linear(latent, 2 * width * 7 * 7)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, 2, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        h = h.view(h.size(0), -1)
        mu, logvar = self.fc_mu(h), self.fc_logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        h = self.fc_decode(z).view(-1, 2 * self.width, 7, 7)
        return self.decoder(h), mu, logvar


# ---------------------------------------------------------- 5. convolutional autoencoder


class ConvAutoencoder(nn.Module):
    """A convolutional autoencoder for 28x28 images (Masci et al. 2011 style): convolutions down
    to a 64x1x1 map, a linear bottleneck reached by x.view(N, 64), and transposed convolutions
    back up from x.view(N, 64, 1, 1)."""

    def __init__(self, code: int = 16) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 7),
        )
        self.to_code = nn.Linear(64, code)
        self.from_code = nn.Linear(code, 64)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 7),
            nn.ReLU(),
            nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.size(0)
        code = self.to_code(self.encoder(x).view(n, 64))
        return self.decoder(self.from_code(code).view(n, 64, 1, 1))


# --------------------------------------------------------------------------------- 6. FSRCNN


class FSRCNN(nn.Module):
    """FSRCNN (Dong, Loy & Tang 2016): feature extraction (5x5, d), shrinking (1x1, s),
    m mapping layers (3x3, s), expanding (1x1, d), PReLU after each, and a 9x9 deconvolution
    with stride = scale. FSRCNN(56, 12, 4) as in the paper."""

    def __init__(self, scale: int = 3, d: int = 56, s: int = 12, m: int = 4) -> None:
        super().__init__()
        self.first_part = nn.Sequential(nn.Conv2d(1, d, kernel_size=5, padding=2), nn.PReLU(d))
        mid: list[nn.Module] = [nn.Conv2d(d, s, kernel_size=1), nn.PReLU(s)]
        for _ in range(m):
            mid += [nn.Conv2d(s, s, kernel_size=3, padding=1), nn.PReLU(s)]
        mid += [nn.Conv2d(s, d, kernel_size=1), nn.PReLU(d)]
        self.mid_part = nn.Sequential(*mid)
        self.last_part = nn.ConvTranspose2d(
            d, 1, kernel_size=9, stride=scale, padding=4, output_padding=scale - 1
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last_part(self.mid_part(self.first_part(x)))


# ------------------------------------------------------------------------------ 7. FCN-8s


class FCN8s(nn.Module):
    """FCN-8s (Long, Shelhamer & Darrell 2015) as in wkentaro/pytorch-fcn: VGG16 with
    padding=100 on conv1_1, fc6/fc7 as convolutions, score layers on pool3, pool4 and fc7, and
    upsampling by ConvTranspose2d x2, x2, x8 with skip sums and crops (offsets 5, 9, 31) in the
    forward. VGG widths 64..512 / 4096 scaled by 1/16."""

    def __init__(self, n_class: int = 21, w: tuple[int, ...] = (4, 8, 16, 32, 32, 256)) -> None:
        super().__init__()
        convs_per_block = (2, 2, 3, 3, 3)
        cin = 3
        for block, (count, cout) in enumerate(zip(convs_per_block, w, strict=False), start=1):
            for i in range(1, count + 1):
                pad = 100 if (block, i) == (1, 1) else 1
                setattr(self, f"conv{block}_{i}", nn.Conv2d(cin, cout, 3, padding=pad))
                setattr(self, f"relu{block}_{i}", nn.ReLU(inplace=True))
                cin = cout
            setattr(self, f"pool{block}", nn.MaxPool2d(2, stride=2, ceil_mode=True))
        self.fc6, self.relu6, self.drop6 = nn.Conv2d(cin, w[5], 7), nn.ReLU(True), nn.Dropout2d()
        self.fc7, self.relu7, self.drop7 = nn.Conv2d(w[5], w[5], 1), nn.ReLU(True), nn.Dropout2d()
        self.score_fr = nn.Conv2d(w[5], n_class, 1)
        self.score_pool3 = nn.Conv2d(w[2], n_class, 1)
        self.score_pool4 = nn.Conv2d(w[3], n_class, 1)
        self.upscore2 = nn.ConvTranspose2d(n_class, n_class, 4, stride=2, bias=False)
        self.upscore8 = nn.ConvTranspose2d(n_class, n_class, 16, stride=8, bias=False)
        self.upscore_pool4 = nn.ConvTranspose2d(n_class, n_class, 4, stride=2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        features = {}
        for block, count in enumerate((2, 2, 3, 3, 3), start=1):
            for i in range(1, count + 1):
                h = getattr(self, f"relu{block}_{i}")(getattr(self, f"conv{block}_{i}")(h))
            h = getattr(self, f"pool{block}")(h)
            features[block] = h
        h = self.drop6(self.relu6(self.fc6(h)))
        h = self.drop7(self.relu7(self.fc7(h)))
        upscore2 = self.upscore2(self.score_fr(h))
        score_pool4 = self.score_pool4(features[4] * 0.01)
        score_pool4c = score_pool4[:, :, 5 : 5 + upscore2.size(2), 5 : 5 + upscore2.size(3)]
        upscore_pool4 = self.upscore_pool4(upscore2 + score_pool4c)
        score_pool3 = self.score_pool3(features[3] * 0.0001)
        score_pool3c = score_pool3[
            :, :, 9 : 9 + upscore_pool4.size(2), 9 : 9 + upscore_pool4.size(3)
        ]
        h = self.upscore8(upscore_pool4 + score_pool3c)
        return h[:, :, 31 : 31 + x.size(2), 31 : 31 + x.size(3)].contiguous()


# -------------------------------------------------------------------------------- 8. ENet


class InitialBlock(nn.Module):
    """ENet's initial block: a 3x3 stride-2 conv (13 channels) and a max-pool of the image run
    in parallel and concatenated (16 channels)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 16) -> None:
        super().__init__()
        self.main_branch = nn.Conv2d(
            in_channels, out_channels - in_channels, 3, stride=2, padding=1, bias=False
        )
        self.ext_branch = nn.MaxPool2d(3, stride=2, padding=1)
        self.batch_norm = nn.BatchNorm2d(out_channels)
        self.out_activation = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.cat((self.main_branch(x), self.ext_branch(x)), 1)
        return self.out_activation(self.batch_norm(out))


class RegularBottleneck(nn.Module):
    """ENet's bottleneck: 1x1 projection, a 3x3 (or dilated, or 5x1 + 1x5 asymmetric) conv,
    1x1 expansion, dropout, added to the input."""

    def __init__(
        self, channels: int, dilation: int = 1, asymmetric: bool = False, p: float = 0.1
    ) -> None:
        super().__init__()
        internal = channels // 4
        self.ext_conv1 = nn.Sequential(
            nn.Conv2d(channels, internal, 1, bias=False), nn.BatchNorm2d(internal), nn.PReLU()
        )
        if asymmetric:
            self.ext_conv2 = nn.Sequential(
                nn.Conv2d(internal, internal, (5, 1), padding=(2, 0), bias=False),
                nn.BatchNorm2d(internal),
                nn.PReLU(),
                nn.Conv2d(internal, internal, (1, 5), padding=(0, 2), bias=False),
                nn.BatchNorm2d(internal),
                nn.PReLU(),
            )
        else:
            self.ext_conv2 = nn.Sequential(
                nn.Conv2d(internal, internal, 3, padding=dilation, dilation=dilation, bias=False),
                nn.BatchNorm2d(internal),
                nn.PReLU(),
            )
        self.ext_conv3 = nn.Sequential(
            nn.Conv2d(internal, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.PReLU()
        )
        self.ext_regul = nn.Dropout2d(p)
        self.out_activation = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ext = self.ext_regul(self.ext_conv3(self.ext_conv2(self.ext_conv1(x))))
        return self.out_activation(x + ext)


class DownsamplingBottleneck(nn.Module):
    """ENet's downsampling bottleneck: a max-pool (indices kept) on the main branch, a 2x2
    stride-2 conv on the other, the main branch zero-padded to the new channel count."""

    def __init__(self, in_channels: int, out_channels: int, p: float = 0.01) -> None:
        super().__init__()
        internal = in_channels // 4
        self.main_max1 = nn.MaxPool2d(2, stride=2, return_indices=True)
        self.ext_conv1 = nn.Sequential(
            nn.Conv2d(in_channels, internal, 2, stride=2, bias=False),
            nn.BatchNorm2d(internal),
            nn.PReLU(),
        )
        self.ext_conv2 = nn.Sequential(
            nn.Conv2d(internal, internal, 3, padding=1, bias=False),
            nn.BatchNorm2d(internal),
            nn.PReLU(),
        )
        self.ext_conv3 = nn.Sequential(
            nn.Conv2d(internal, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.PReLU(),
        )
        self.ext_regul = nn.Dropout2d(p)
        self.out_activation = nn.PReLU()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        main, indices = self.main_max1(x)
        ext = self.ext_regul(self.ext_conv3(self.ext_conv2(self.ext_conv1(x))))
        n, c, h, w = ext.shape
        padding = torch.zeros(n, c - main.size(1), h, w, dtype=main.dtype)
        return self.out_activation(torch.cat((main, padding), 1) + ext), indices


class UpsamplingBottleneck(nn.Module):
    """ENet's upsampling bottleneck: a 1x1 conv and MaxUnpool2d (with the encoder's indices)
    on the main branch, a ConvTranspose2d(k3, s2, p1, op1) on the other, summed."""

    def __init__(self, in_channels: int, out_channels: int, p: float = 0.1) -> None:
        super().__init__()
        internal = in_channels // 4
        self.main_conv1 = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)
        )
        self.main_unpool1 = nn.MaxUnpool2d(2)
        self.ext_conv1 = nn.Sequential(
            nn.Conv2d(in_channels, internal, 1, bias=False), nn.BatchNorm2d(internal), nn.PReLU()
        )
        self.ext_tconv1 = nn.ConvTranspose2d(
            internal, internal, 3, stride=2, padding=1, output_padding=1, bias=False
        )
        self.ext_tconv1_bnorm = nn.BatchNorm2d(internal)
        self.ext_tconv1_activation = nn.PReLU()
        self.ext_conv2 = nn.Sequential(
            nn.Conv2d(internal, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.PReLU(),
        )
        self.ext_regul = nn.Dropout2d(p)
        self.out_activation = nn.PReLU()

    def forward(self, x: torch.Tensor, indices: torch.Tensor, output_size) -> torch.Tensor:
        main = self.main_unpool1(self.main_conv1(x), indices, output_size=output_size)
        ext = self.ext_tconv1_activation(self.ext_tconv1_bnorm(self.ext_tconv1(self.ext_conv1(x))))
        ext = self.ext_regul(self.ext_conv2(ext))
        return self.out_activation(main + ext)


class ENet(nn.Module):
    """ENet (Paszke et al. 2016), shortened: initial block, bottleneck 1.0 (downsampling to
    64), regular, dilated (2) and asymmetric (5) bottlenecks, bottleneck 5.0 (upsampling to 16,
    unpooling with 1.0's indices), a regular one, and the full convolution
    ConvTranspose2d(16, C, 3, 2, 1, output_padding=1)."""

    def __init__(self, num_classes: int = 4) -> None:
        super().__init__()
        self.initial_block = InitialBlock(3, 16)
        self.downsample1_0 = DownsamplingBottleneck(16, 64)
        self.regular1_1 = RegularBottleneck(64)
        self.dilated2_2 = RegularBottleneck(64, dilation=2)
        self.asymmetric2_4 = RegularBottleneck(64, asymmetric=True)
        self.upsample5_0 = UpsamplingBottleneck(64, 16)
        self.regular5_1 = RegularBottleneck(16)
        self.transposed_conv = nn.ConvTranspose2d(
            16, num_classes, 3, stride=2, padding=1, output_padding=1, bias=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.initial_block(x)
        size = x.size()
        x, indices = self.downsample1_0(x)
        x = self.asymmetric2_4(self.dilated2_2(self.regular1_1(x)))
        x = self.upsample5_0(x, indices, output_size=size)
        return self.transposed_conv(self.regular5_1(x))


# --------------------------------------------------------------- 9. DCGAN 32x32 and LSGAN


def dcgan32(nz: int = 32, ngf: int = 16) -> nn.Module:
    """DCGAN (Radford, Metz & Chintala 2016) for 32x32 images, as CIFAR-10 implementations
    write it: a Linear projection to 4x4, nn.Unflatten, three ConvTranspose2d(k4, s2, p1)."""
    return nn.Sequential(
        nn.Linear(nz, ngf * 4 * 4 * 4, bias=False),
        nn.BatchNorm1d(ngf * 4 * 4 * 4),
        nn.ReLU(True),
        nn.Unflatten(1, (ngf * 4, 4, 4)),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf * 2),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf, 3, 4, 2, 1),
        nn.Tanh(),
    )


def lsgan(nz: int = 64, scale: int = 16) -> nn.Module:
    """LSGAN's generator for 112x112 LSUN scenes (Mao et al. 2017, Fig. 3a): fc to 7x7x256,
    then 3x3 deconvolutions 256 s2, 256 s1, 256 s2, 256 s1, 128 s2, 64 s2, 3 s1 (BN + ReLU
    between), Tanh. Widths divided by `scale`; pasted as a plain list of layers."""
    c256, c128, c64 = 256 // scale, 128 // scale, 64 // scale

    def deconv(cin: int, cout: int, stride: int) -> nn.ConvTranspose2d:
        return nn.ConvTranspose2d(cin, cout, 3, stride, padding=1, output_padding=stride - 1)

    layers: list[nn.Module] = [
        nn.Linear(nz, 7 * 7 * c256),
        nn.BatchNorm1d(7 * 7 * c256),
        nn.ReLU(),
        nn.Unflatten(1, (c256, 7, 7)),
    ]
    for cin, cout, stride in (
        (c256, c256, 2),
        (c256, c256, 1),
        (c256, c256, 2),
        (c256, c256, 1),
        (c256, c128, 2),
        (c128, c64, 2),
    ):
        layers += [deconv(cin, cout, stride), nn.BatchNorm2d(cout), nn.ReLU()]
    layers += [deconv(c64, 3, 1), nn.Tanh()]
    return nn.Sequential(*layers)


# ------------------------------------------------- 10. grouped, dilated, asymmetric layers


def separable_dilated_spectrogram_decoder() -> nn.Module:
    """Grouped, dilated and asymmetric transposed convolutions in one pure chain: a depthwise
    ConvTranspose2d (groups = channels) + pointwise Conv2d, as in MobileNet-style decoders
    (Howard et al. 2017); a dilated Conv2d and a dilated ConvTranspose2d (Yu & Koltun 2016);
    and (3, 5) kernels with stride (1, 2) that upsample only the time axis of a spectrogram,
    as spectrogram GAN generators do (e.g. GANSynth, Engel et al. 2019)."""
    return nn.Sequential(
        nn.Sequential(
            nn.ConvTranspose2d(16, 16, 4, stride=2, padding=1, groups=16, bias=False),
            nn.Conv2d(16, 8, 1, bias=False),
            nn.BatchNorm2d(8),
            nn.ReLU6(),
        ),
        nn.Sequential(
            nn.Conv2d(8, 8, 3, padding=2, dilation=2),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.ConvTranspose2d(8, 8, 3, stride=2, padding=2, output_padding=1, dilation=2),
        ),
        nn.Sequential(
            nn.ConvTranspose2d(8, 4, (3, 5), stride=(1, 2), padding=(1, 2), output_padding=(0, 1)),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(4, 1, (3, 5), stride=(1, 2), padding=(1, 2), output_padding=(0, 1)),
            nn.Tanh(),
        ),
    )


# ------------------------------------------------------- 11. sub-pixel super-resolution


def srgan_upsampler(width: int = 16) -> nn.Module:
    """SRGAN's generator head and tail (Ledig et al. 2017): a 9x9 conv + PReLU, two sub-pixel
    blocks (conv 3x3 to 4x the channels, PixelShuffle(2), PReLU) for x4, and a 9x9 conv to
    RGB; widths 64 -> 16. A pure nn.Sequential."""

    def subpixel_block() -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(width, width * 4, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(width)
        )

    return nn.Sequential(
        nn.Conv2d(3, width, 9, padding=4),
        nn.PReLU(),
        subpixel_block(),
        subpixel_block(),
        nn.Conv2d(width, 3, 9, padding=4),
    )


# ---------------------------------------------- 12. layers the trace cannot follow


class ShowAndTell(nn.Module):
    """Show and Tell (Vinyals et al. 2015), tiny: a CNN image encoder to an embedding, then an
    LSTM over [image embedding, word embeddings] (teacher-forced caption held in a buffer) and a
    Linear to the vocabulary. Output (N, length + 1, vocab)."""

    def __init__(self, vocab: int = 50, embed: int = 16, hidden: int = 32, length: int = 6):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(16, embed),
        )
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, vocab)
        self.register_buffer("caption", torch.arange(length) * 7 % vocab)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.encoder(images).unsqueeze(1)
        words = self.embed(self.caption.expand(images.size(0), -1))
        hiddens, _ = self.lstm(torch.cat([features, words], 1))
        return self.fc(hiddens)


class MAEDecoder(nn.Module):
    """A masked-autoencoder decoder (He et al. 2022), tiny: a Linear from the encoder's width,
    a learned position embedding, pre-norm transformer blocks, LayerNorm, and a patch-expanding
    ConvTranspose2d(d, 3, p, stride=p) head on the tokens viewed as a grid (instead of MAE's
    Linear + unpatchify). Input (N, grid*grid, enc_dim), output (N, 3, grid*p, grid*p)."""

    def __init__(
        self, enc_dim: int = 32, dim: int = 24, depth: int = 2, grid: int = 4, patch: int = 4
    ) -> None:
        super().__init__()
        self.grid = grid
        self.decoder_embed = nn.Linear(enc_dim, dim)
        self.pos_embed = nn.Parameter(torch.randn(1, grid * grid, dim) * 0.02)
        self.decoder_blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                dim, 4, dim * 4, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
            )
            for _ in range(depth)
        )
        self.decoder_norm = nn.LayerNorm(dim)
        self.head = nn.ConvTranspose2d(dim, 3, patch, stride=patch)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.decoder_embed(tokens) + self.pos_embed
        for block in self.decoder_blocks:
            x = block(x)
        x = self.decoder_norm(x)
        n, _, d = x.shape
        return self.head(x.transpose(1, 2).reshape(n, d, self.grid, self.grid))


# ---------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Arch:
    """An architecture to test: how to build it, its input, how it is pasted, and what the
    rules single out in it."""

    build: Callable[[], nn.Module]
    input_shape: Shape
    pure: bool  # print(model) shows only nn.Sequential containers (rule d)
    as_list: bool = False  # pasted as a plain list of layers instead of print(model)
    # rule (c): paths whose true input a custom forward hides (concatenation, parallel branch)
    hidden_inputs: Callable[[nn.Module], list[str]] | None = None
    # rule (f): paths of recurrent / attention / embedding layers, with their type names
    sequence_layers: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def text(self, model: nn.Module) -> str:
        return plain_list(model) if self.as_list else str(model)


def _paths(*paths: str) -> Callable[[nn.Module], list[str]]:
    return lambda model: list(paths)


def _unet_concat_inputs(model: nn.Module) -> list[str]:
    return [f"up{i}.conv.double_conv.0" for i in range(1, 5)]


ARCHITECTURES: dict[str, Arch] = {
    "pix2pix-unet": Arch(
        UnetGenerator, (1, 3, 64, 64), pure=False, hidden_inputs=after_concatenating_blocks
    ),
    "cyclegan-resnet": Arch(ResnetGenerator, (1, 3, 32, 32), pure=False),
    "unet-odd-input": Arch(UNet, (1, 3, 100, 150), pure=False, hidden_inputs=_unet_concat_inputs),
    "conv-vae": Arch(
        ConvVAE,
        (2, 1, 28, 28),
        pure=False,
        hidden_inputs=_paths("fc_mu", "fc_logvar", "fc_decode", "decoder.0"),
    ),
    "conv-autoencoder": Arch(
        ConvAutoencoder, (2, 1, 28, 28), pure=False, hidden_inputs=_paths("to_code", "decoder.0")
    ),
    "fsrcnn": Arch(FSRCNN, (1, 1, 16, 16), pure=False),
    "fcn8s": Arch(
        FCN8s,
        (1, 3, 32, 32),
        pure=False,
        hidden_inputs=_paths("score_pool3", "score_pool4", "upscore8", "upscore_pool4"),
    ),
    "enet": Arch(
        ENet,
        (1, 3, 64, 64),
        pure=False,
        hidden_inputs=_paths(
            "initial_block.ext_branch",
            "initial_block.batch_norm",
            "downsample1_0.ext_conv1.0",
            "upsample5_0.ext_conv1.0",
        ),
    ),
    "dcgan32-unflatten": Arch(dcgan32, (2, 32), pure=True),
    "lsgan-list": Arch(lsgan, (2, 64), pure=True, as_list=True),
    "separable-dilated-asymmetric": Arch(
        separable_dilated_spectrogram_decoder, (1, 16, 8, 8), pure=True
    ),
    "srgan-upsampler": Arch(srgan_upsampler, (1, 3, 12, 10), pure=True),
    "show-and-tell-lstm": Arch(
        ShowAndTell,
        (2, 3, 32, 32),
        pure=False,
        sequence_layers=(("embed", ("Embedding",)), ("lstm", ("LSTM",))),
    ),
    "mae-transformer-decoder": Arch(
        MAEDecoder,
        (2, 16, 32),
        pure=False,
        sequence_layers=tuple(
            (f"decoder_blocks.{i}", ("TransformerEncoderLayer", "MultiheadAttention"))
            for i in range(2)
        ),
    ),
}
PURE = [name for name, arch in ARCHITECTURES.items() if arch.pure]
WITH_HIDDEN_INPUTS = [name for name, arch in ARCHITECTURES.items() if arch.hidden_inputs]
WITH_SEQUENCE_LAYERS = [name for name, arch in ARCHITECTURES.items() if arch.sequence_layers]


@functools.cache
def _built(name: str) -> nn.Module:
    torch.manual_seed(sum(map(ord, name)))
    return seeded(ARCHITECTURES[name].build())


def build(name: str) -> nn.Module:
    """A fresh copy of the seeded float64 model (the same weights on every call)."""
    return copy.deepcopy(_built(name))


def example_input(name: str, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(ARCHITECTURES[name].input_shape, generator=generator, dtype=dtype)


@functools.cache
def _oracle(name: str) -> tuple[dict[str, tuple[Shape, Shape]], Shape]:
    return torch_shapes(build(name), example_input(name))


@functools.cache
def _trace(name: str) -> ShapeTrace:
    arch = ARCHITECTURES[name]
    return trace_shapes(arch.text(build(name)), arch.input_shape)


def _describe(row) -> str:
    return f"{row.path} [{row.type_name}, {row.status}] traced {row.in_shape} -> {row.out_shape}"


# ---------------------------------------------------------------------------------- tests


def test_the_registry_holds_what_it_says() -> None:
    assert len(ARCHITECTURES) >= 10
    for name, arch in ARCHITECTURES.items():
        model = build(name)
        assert is_pure_chain(model) == arch.pure, name
        if arch.hidden_inputs:
            paths = dict(model.named_modules())
            wanted = arch.hidden_inputs(model)
            assert wanted and all(path in paths for path in wanted), (name, wanted)
        for path, _ in arch.sequence_layers:
            assert path in dict(model.named_modules()), (name, path)
    # the pix2pix generator has a ReLU directly after each concatenating block
    assert len(after_concatenating_blocks(build("pix2pix-unet"))) == 5


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_ok_rows_have_torch_shapes(name: str) -> None:
    """Rule (a): every "ok" row has torch's (input, output) shape for its module."""
    seen, _ = _oracle(name)
    wrong = [
        f"{_describe(row)}; torch {seen[row.path][0]} -> {seen[row.path][1]}"
        for row in _trace(name).rows
        if row.status == OK and row.path in seen and (row.in_shape, row.out_shape) != seen[row.path]
    ]
    assert not wrong, "ok rows with shapes torch does not give:\n" + "\n".join(wrong)


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_the_trace_never_claims_a_wrong_output(name: str) -> None:
    """Rule (b): the traced output shape is torch's, or None (not known)."""
    _, output = _oracle(name)
    trace = _trace(name)
    assert trace.output_shape in (None, output), (
        f"trace claims {trace.output_shape}, torch gives {output}"
    )


@pytest.mark.parametrize("name", WITH_HIDDEN_INPUTS)
def test_rows_whose_input_a_forward_hides_are_not_ok(name: str) -> None:
    """Rule (c): a layer after a hidden concatenation, or on a parallel branch, is not "ok"
    unless its shapes are torch's (e.g. pix2pix's ReLU right after a skip concatenation)."""
    seen, _ = _oracle(name)
    trace = _trace(name)
    wrong = []
    for path in ARCHITECTURES[name].hidden_inputs(build(name)):  # type: ignore[misc]
        row = trace.row(path)
        if row.status == OK and (row.in_shape, row.out_shape) != seen[path]:
            wrong.append(f"{_describe(row)}; torch {seen[path][0]} -> {seen[path][1]}")
    assert not wrong, "rows after a hidden concatenation / branch marked ok:\n" + "\n".join(wrong)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", PURE)
def test_pure_chains_are_traced_and_their_code_keeps_the_output_shape(
    name: str, method: str
) -> None:
    """Rule (d): a pure chain's trace ends at torch's output, and the code convert_text writes
    runs and outputs torch's shape, for every method."""
    arch = ARCHITECTURES[name]
    seen, output = _oracle(name)
    result = convert_text(arch.text(build(name)), arch.input_shape, method)
    assert result.trace.output_shape == output
    wrong = [
        f"{_describe(row)}; torch {seen[row.path][0]} -> {seen[row.path][1]}"
        for row in result.trace.rows
        if (row.in_shape, row.out_shape) != seen[row.path]
    ]
    assert not wrong, "rows of a pure chain that differ from torch:\n" + "\n".join(wrong)
    converted = run_code(result.code).eval()
    with torch.no_grad():
        got = converted(example_input(name, torch.float32))
    assert tuple(got.shape) == output


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_convert_model_keeps_outputs(name: str, method: str) -> None:
    """Rule (e): exact methods keep the outputs (float64), resize methods the output shape."""
    model, x = build(name), example_input(name)
    with torch.no_grad():
        expected = first_tensor(model(x))
    converted, report = convert_model(model, method)
    assert report.complete
    assert not any(type(m) is nn.ConvTranspose2d for m in converted.modules())
    with torch.no_grad():
        got = first_tensor(converted.eval()(x))
    assert got.shape == expected.shape
    if method in EXACT_METHODS:
        scale = max(1.0, float(expected.abs().max()))
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9 * scale)


@pytest.mark.parametrize("name", WITH_SEQUENCE_LAYERS)
def test_sequence_layers_stop_the_trace_and_are_named(name: str) -> None:
    """Rule (f): an LSTM, attention or embedding layer stops the trace at its path (or at the
    container holding it, or a layer inside it); no output shape is claimed; the stopping
    row's note names the layer's type."""
    trace = _trace(name)
    assert trace.output_shape is None
    stopped = trace.stopped_at
    assert stopped is not None
    layers = ARCHITECTURES[name].sequence_layers
    matching = [
        kinds
        for path, kinds in layers
        if stopped == path or path.startswith(f"{stopped}.") or stopped.startswith(f"{path}.")
    ]
    assert matching, f"stopped at {stopped!r}, not at one of {[p for p, _ in layers]}"
    row = trace.row(stopped)
    assert any(kind in row.note for kind in matching[0]), (
        f"the note at {row.path} does not name {matching[0]}: {row.note!r}"
    )


# ------------------------------------------------------------------------- random chains


@st.composite
def transposed_chains(draw) -> tuple[Shape, nn.Sequential]:
    """A Sequential of 1-3 ConvTranspose2d of varied geometry (square and non-square strides,
    output_padding, padding beyond kernel_size - 1 that the exact rewrites must crop,
    dilation, groups, bias or not), with BatchNorm2d / ReLU between, and a tiny input."""
    channels = draw(st.sampled_from((2, 4)))
    size = [draw(st.integers(1, 5)), draw(st.integers(1, 5))]
    shape = (1, channels, *size)
    layers: list[nn.Module] = []
    c = channels
    for _ in range(draw(st.integers(1, 3))):
        out_c = draw(st.sampled_from((2, 4)))
        groups = draw(st.sampled_from((1, 2)))
        k = [draw(st.integers(1, 4)) for _ in range(2)]
        s = [draw(st.integers(1, 3)) for _ in range(2)]
        d = [draw(st.integers(1, 2)) for _ in range(2)]
        op = [draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d, strict=True)]
        p, out = [], []
        for n, kk, ss, dd, oo in zip(size, k, s, d, op, strict=True):
            full = (n - 1) * ss + dd * (kk - 1) + oo + 1  # the output with padding 0
            pp = draw(st.integers(0, min(dd * (kk - 1) + 2, (full - 1) // 2)))
            p.append(pp)
            out.append(full - 2 * pp)
        layers.append(
            nn.ConvTranspose2d(
                c,
                out_c,
                tuple(k),
                tuple(s),
                tuple(p),
                tuple(op),
                groups=groups,
                bias=draw(st.booleans()),
                dilation=tuple(d),
            )
        )
        if draw(st.booleans()):
            layers.append(nn.BatchNorm2d(out_c))
        if draw(st.booleans()):
            layers.append(nn.ReLU())
        c, size = out_c, out
        if max(size) > 40:
            break
    return shape, nn.Sequential(*layers)


@settings(max_examples=25, deadline=None)
@given(transposed_chains())
def test_random_transposed_chains_convert_to_code_that_runs(chain) -> None:
    """Rule (d) on random pure chains: for every method the generated code runs (no helper
    defined twice under one name) and outputs torch's shape."""
    shape, model = chain
    x = torch.randn(shape)
    with torch.no_grad():
        expected = tuple(model.eval()(x).shape)
    text = str(model)
    for method in METHODS:
        result = convert_text(text, shape, method)
        assert result.trace.output_shape == expected, method
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            converted = run_code(result.code).eval()
            with torch.no_grad():
                got = converted(x)
        assert tuple(got.shape) == expected, method
        assert math.prod(got.shape) > 0
