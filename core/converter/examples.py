"""Model texts to try on the converter page, each with the input shape it is meant for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExampleText:
    """A model text to try, with the input shape it is meant for."""

    title: str
    text: str
    input_shape: tuple[int, ...]
    about: str


ARTICLE_GENERATOR = """\
# A three-layer generator: 8x8 -> 64x64 with k=4, s=2, p=1.
# The common "Upsample(2) + Conv2d(k=4, p=1)" rewrite ends at 57x57; converting it here keeps 64x64.
nn.ConvTranspose2d(256, 128, kernel_size=4, stride=2, padding=1)
nn.BatchNorm2d(128)
nn.ReLU()
nn.ConvTranspose2d(128, 64, kernel_size=4, stride=2, padding=1)
nn.BatchNorm2d(64)
nn.ReLU()
nn.ConvTranspose2d(64, 3, kernel_size=4, stride=2, padding=1)
nn.Tanh()
"""
DCGAN_GENERATOR = "\n".join(
    [
        "Generator(",
        "  (main): Sequential(",
        "    (0): ConvTranspose2d(100, 512, kernel_size=(4, 4), stride=(1, 1), bias=False)",
        "    (1): BatchNorm2d(512, eps=1e-05, momentum=0.1, affine=True, bias=True, "
        "track_running_stats=True)",
        "    (2): ReLU(inplace=True)",
        "    (3): ConvTranspose2d(512, 256, kernel_size=(4, 4), stride=(2, 2), "
        "padding=(1, 1), bias=False)",
        "    (4): BatchNorm2d(256, eps=1e-05, momentum=0.1, affine=True, bias=True, "
        "track_running_stats=True)",
        "    (5): ReLU(inplace=True)",
        "    (6): ConvTranspose2d(256, 128, kernel_size=(4, 4), stride=(2, 2), "
        "padding=(1, 1), bias=False)",
        "    (7): BatchNorm2d(128, eps=1e-05, momentum=0.1, affine=True, bias=True, "
        "track_running_stats=True)",
        "    (8): ReLU(inplace=True)",
        "    (9): ConvTranspose2d(128, 64, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), "
        "bias=False)",
        "    (10): BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, bias=True, "
        "track_running_stats=True)",
        "    (11): ReLU(inplace=True)",
        "    (12): ConvTranspose2d(64, 3, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), "
        "bias=False)",
        "    (13): Tanh()",
        "  )",
        ")",
        "",
    ]
)
UNET_DECODER = "\n".join(
    [
        "UNetDecoder(",
        "  (ups): ModuleList(",
        "    (0): Up(",
        "      (up): ConvTranspose2d(256, 128, kernel_size=(2, 2), stride=(2, 2))",
        "      (conv): DoubleConv(",
        "        (block): Sequential(",
        "          (0): Conv2d(256, 128, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), "
        "bias=False)",
        "          (1): BatchNorm2d(128, eps=1e-05, momentum=0.1, affine=True, bias=True, "
        "track_running_stats=True)",
        "          (2): ReLU(inplace=True)",
        "          (3): Conv2d(128, 128, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), "
        "bias=False)",
        "          (4): BatchNorm2d(128, eps=1e-05, momentum=0.1, affine=True, bias=True, "
        "track_running_stats=True)",
        "          (5): ReLU(inplace=True)",
        "        )",
        "      )",
        "    )",
        "    (1): Up(",
        "      (up): ConvTranspose2d(128, 64, kernel_size=(2, 2), stride=(2, 2))",
        "      (conv): DoubleConv(",
        "        (block): Sequential(",
        "          (0): Conv2d(128, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), "
        "bias=False)",
        "          (1): BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, bias=True, "
        "track_running_stats=True)",
        "          (2): ReLU(inplace=True)",
        "          (3): Conv2d(64, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), "
        "bias=False)",
        "          (4): BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, bias=True, "
        "track_running_stats=True)",
        "          (5): ReLU(inplace=True)",
        "        )",
        "      )",
        "    )",
        "    (2): Up(",
        "      (up): ConvTranspose2d(64, 32, kernel_size=(2, 2), stride=(2, 2))",
        "      (conv): DoubleConv(",
        "        (block): Sequential(",
        "          (0): Conv2d(64, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), "
        "bias=False)",
        "          (1): BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=True, bias=True, "
        "track_running_stats=True)",
        "          (2): ReLU(inplace=True)",
        "          (3): Conv2d(32, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), "
        "bias=False)",
        "          (4): BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=True, bias=True, "
        "track_running_stats=True)",
        "          (5): ReLU(inplace=True)",
        "        )",
        "      )",
        "    )",
        "  )",
        "  (head): Conv2d(32, 2, kernel_size=(1, 1), stride=(1, 1))",
        ")",
        "",
    ]
)
EXAMPLES: dict[str, ExampleText] = {
    "article": ExampleText(
        "A three-layer generator (k4 s2 p1)",
        ARTICLE_GENERATOR,
        (1, 256, 8, 8),
        "A plain list of layers. The common Upsample(2) + Conv2d(k=4, p=1) rewrite, which keeps "
        "the kernel and padding, gives 57x57 instead of 64x64; the conversion here keeps every "
        "size.",
    ),
    "dcgan": ExampleText(
        "DCGAN generator (print(model))",
        DCGAN_GENERATOR,
        (1, 100, 1, 1),
        "The PyTorch DCGAN tutorial's generator: latent 100x1x1 -> 3x64x64.",
    ),
    "unet": ExampleText(
        "U-Net decoder (print(model))",
        UNET_DECODER,
        (1, 256, 8, 8),
        "Each Up block concatenates a skip connection that print(model) does not show: the "
        "trace flags the channel jump on the first Conv2d of each block and carries on.",
    ),
}


# A model file for the converter's source mode: the PyTorch tutorial's DCGAN generator, with a
# last layer of kernel 3 and output_padding 1.
SOURCE_EXAMPLE = '''\
"""A DCGAN generator (Radford et al. 2016), as in the PyTorch tutorial."""
import torch.nn as nn

NZ = 100  # size of the latent vector
NGF = 64  # generator feature maps


class Generator(nn.Module):
    def __init__(self, ngf=NGF, nc=3):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(NZ, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, nc, kernel_size=3, stride=2, padding=1,
                               output_padding=1),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.main(z)
'''
