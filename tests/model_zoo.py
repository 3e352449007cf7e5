"""Small torch models whose `print(model)` the shape-trace and conversion tests paste: the DCGAN
tutorial's generator, a U-Net decoder (skips concatenated in `forward`), a VAE decoder, an ESPCN
head, custom modules in ModuleList/ModuleDict, and a 1D/3D chain; and the helpers that prepare a
model for comparison (`seeded`) and run the code core writes for one (`run_code`)."""

from __future__ import annotations

import itertools

import torch
from torch import nn


class Generator(nn.Module):
    """The PyTorch DCGAN tutorial's generator: latent (N, nz, 1, 1) -> (N, nc, 64, 64)."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class DoubleConv(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Up(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, 2, stride=2)
        self.conv = DoubleConv(cin, cout)


class UNetDecoder(nn.Module):
    """A U-Net decoder: each Up block upsamples, concatenates a skip, and convolves."""

    def __init__(self, channels: tuple[int, ...] = (256, 128, 64, 32), classes: int = 2) -> None:
        super().__init__()
        self.ups = nn.ModuleList(Up(a, b) for a, b in itertools.pairwise(channels))
        self.skip_channels = channels[1:]
        self.head = nn.Conv2d(channels[-1], classes, 1)

    def forward(self, x: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        for up, skip in zip(self.ups, skips, strict=True):
            x = up.conv(torch.cat([skip, up.up(x)], dim=1))
        return self.head(x)

    def skips_for(self, x: torch.Tensor) -> list[torch.Tensor]:
        n, _, h, w = x.shape
        return [
            torch.zeros(n, c, h * 2 ** (i + 1), w * 2 ** (i + 1))
            for i, c in enumerate(self.skip_channels)
        ]


def vae_decoder(latent: int = 16) -> nn.Module:
    return nn.Sequential(
        nn.Linear(latent, 64 * 4 * 4),
        nn.ReLU(),
        nn.Unflatten(1, (64, 4, 4)),
        nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1),
        nn.BatchNorm2d(32),
        nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1),
        nn.GroupNorm(4, 16),
        nn.SiLU(),
        nn.ConvTranspose2d(16, 1, 3, stride=1, padding=1),
        nn.Sigmoid(),
    )


def super_resolution_head(scale: int = 3) -> nn.Module:
    """ESPCN (Shi et al. 2016): convolutions at low resolution, then PixelShuffle."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 5, padding=2),
        nn.Tanh(),
        nn.Conv2d(64, 32, 3, padding=1),
        nn.Tanh(),
        nn.Conv2d(32, 3 * scale**2, 3, padding=1),
        nn.PixelShuffle(scale),
    )


class UpBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, 4, 2, 1)
        self.norm = nn.GroupNorm(4, cout)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.up(x)))


class NestedGenerator(nn.Module):
    """Custom modules inside ModuleList and ModuleDict, run in registration order."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(32, 64 * 2 * 2), nn.Unflatten(1, (64, 2, 2)))
        self.blocks = nn.ModuleList([UpBlock(64, 32), UpBlock(32, 16), UpBlock(16, 16)])
        self.to_rgb = nn.ModuleDict({"conv": nn.Conv2d(16, 3, 3, padding=1), "act": nn.Tanh()})

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.stem(z)
        for block in self.blocks:
            x = block(x)
        return self.to_rgb["act"](self.to_rgb["conv"](x))


def volumetric_and_sequence() -> nn.Module:
    return nn.Sequential(
        nn.ConvTranspose3d(4, 4, (3, 4, 4), stride=(1, 2, 2), padding=(1, 1, 1)),
        nn.BatchNorm3d(4),
        nn.Upsample(scale_factor=(1, 1.5, 2), mode="trilinear"),
        nn.Conv3d(4, 2, 3, padding=(1, 0, 1), stride=(1, 2, 1)),
        nn.MaxPool3d(2, ceil_mode=True),
        nn.Flatten(2),
        nn.ConvTranspose1d(2, 3, 5, stride=3, padding=1, output_padding=2, dilation=2),
        nn.AvgPool1d(2),
        nn.ReflectionPad1d(2),
        nn.Conv1d(3, 3, 3, dilation=2, padding="same", groups=3),
        nn.InstanceNorm1d(3, affine=True),
        nn.Upsample(scale_factor=2.5, mode="linear"),
        nn.AdaptiveMaxPool1d(8),
        nn.GLU(dim=-1),
    )


def seeded(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random BatchNorm statistics drawn from `seed` (weights are as built), float64, eval mode:
    BatchNorm's default statistics (0 and 1) would hide a wrongly carried normalisation. torch's
    global generator is seeded too, so the inputs a test draws next are reproducible."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.5, 0.5, generator=generator)
            module.running_var.uniform_(0.5, 1.5, generator=generator)
    return model.double().eval()


def run_code(code: str) -> nn.Module:
    """Execute code that core wrote (from numbers) and return the `model` it builds."""
    namespace: dict = {}
    exec(compile(code, "<converted>", "exec"), namespace)  # written by core from numbers
    return namespace["model"]
