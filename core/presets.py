"""Common ConvTranspose2d configurations, and three wrong Upsample + Conv2d replacements, as data.

`PRESETS` are layers people actually use (DCGAN, pix2pix, U-Net, the Keras-'same'-style k3 s2 p1
op1). `ARTICLE_CASES` are the three replacements a popular article on ConvTranspose2d proposes:
each is stored as the layers the article wrote, never as sizes; the
sizes come from `core.converter.shape_trace`, which uses torch's arithmetic, so what the app shows
is computed, not typed in. Plain Python: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.converter.model_text import parse_model_text
from core.converter.shape_trace import ShapeTrace, trace_shapes, transposed_conv
from core.errors import ConfigError
from core.geometry.layer import TransposedConv
from core.geometry.output_size import output_size


@dataclass(frozen=True)
class Preset:
    """A named ConvTranspose2d on a typical input size."""

    key: str
    title: str
    source: str
    note: str
    layer: TransposedConv
    input_size: int

    @property
    def output_size(self) -> tuple[int, ...]:
        return output_size(self.layer, self.input_size)

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "title": self.title,
            "source": self.source,
            "note": self.note,
            "layer": self.layer.kwargs(),
            "torch": self.layer.torch_repr(),
            "input_size": self.input_size,
            "output_size": list(self.output_size),
        }


PRESETS: tuple[Preset, ...] = (
    Preset(
        "dcgan",
        "DCGAN block (k4 s2 p1)",
        "Radford et al. 2016, DCGAN generator",
        "Doubles the size exactly (2n). k = 2s, so every output phase gets two kernel taps: even "
        "overlap in the interior, uneven at the border.",
        TransposedConv.make(128, 64, 4, 2, 1, bias=False),
        16,
    ),
    Preset(
        "k3s2p1op1",
        "k3 s2 p1 op1 (Keras-'same' style)",
        "ResNet-style decoders, ports of Keras Conv2DTranspose(3, 2, padding='same')",
        "Doubles the size (2n) only thanks to output_padding=1; without it the output is 2n - 1. "
        "k is not divisible by s, so output phases get 2 and 1 taps: the classic checkerboard.",
        TransposedConv.make(64, 32, 3, 2, 1, 1),
        16,
    ),
    Preset(
        "pix2pix",
        "pix2pix U-Net decoder (k4 s2 p1, skip concatenated)",
        "Isola et al. 2017, pix2pix UnetSkipConnectionBlock",
        "The decoder's input has twice the channels because the encoder's skip is concatenated "
        "(1024 = 512 + 512); geometry as DCGAN: 2n, even interior overlap.",
        TransposedConv.make(1024, 512, 4, 2, 1, bias=False),
        8,
    ),
    Preset(
        "unet",
        "U-Net up-convolution (k2 s2)",
        "Ronneberger et al. 2015, U-Net '2x2 up-convolution'",
        "Kernel equal to the stride: every output pixel gets exactly one tap, so the output is "
        "a tiling of kernels with no overlap at all (no checkerboard from overlap, but blocky).",
        TransposedConv.make(1024, 512, 2, 2),
        28,
    ),
    Preset(
        "k5s2p2op1",
        "k5 s2 p2 op1 (TensorFlow-style 5x5)",
        "DCGAN ports from TensorFlow (5x5 kernels, 'same' padding)",
        "Doubles the size with output_padding=1; 5 taps over stride 2 gives phases 3 and 2 taps: "
        "uneven, checkerboard-prone.",
        TransposedConv.make(128, 64, 5, 2, 2, 1),
        16,
    ),
    Preset(
        "x4",
        "4x upsampling in one layer (k8 s4 p2)",
        "Super-resolution heads and fast decoders",
        "Quadruples the size (4n) with k = 2s: even interior overlap, but a large kernel.",
        TransposedConv.make(64, 3, 8, 4, 2),
        16,
    ),
)


def preset(key: str) -> Preset:
    """The preset with this key (ConfigError lists the valid keys)."""
    for p in PRESETS:
        if isinstance(key, str) and p.key == key:
            return p
    raise ConfigError(
        "preset", f"unknown preset {key!r}: use one of {', '.join(p.key for p in PRESETS)}"
    )


# The advice the three cases follow: replace ConvTranspose2d by Upsample + Conv2d against
# checkerboard artifacts, keeping the transposed convolution's kernel and padding. One public
# tutorial that gives it, with exactly the first case's layers (64 -> 32 channels, kernel 3,
# padding 1, on a 16 x 16 input), is named and linked on the Presets page; the other two cases
# apply the same advice to output_padding and to a three-layer generator.
ARTICLE_TITLE: str | None = (
    "PyTorch ConvTranspose2d: Troubleshooting and The Upsample + Conv2d Method"
)
ARTICLE_URL: str | None = "https://runebook.dev/en/docs/pytorch/generated/torch.nn.convtranspose2d"


@dataclass(frozen=True)
class ArticleCase:
    """One of the article's replacements: the original layers, what the article wrote instead,
    and what went wrong, as layer-list text (one `nn.` layer per line)."""

    key: str
    title: str
    mistake: str
    original: str
    article: str
    input_shape: tuple[int, int, int, int]  # (N, C, H, W)

    def original_trace(self) -> ShapeTrace:
        return trace_shapes(self.original, self.input_shape)

    def article_trace(self) -> ShapeTrace:
        return trace_shapes(self.article, self.input_shape)

    def original_layers(self) -> list[TransposedConv]:
        """The ConvTranspose2d layers of the original, as core layers."""
        leaves = parse_model_text(self.original).leaves()
        return [transposed_conv(leaf) for leaf in leaves if leaf.type_name == "ConvTranspose2d"]

    def sizes(self) -> dict[str, tuple[int, ...] | None]:
        """Spatial output sizes (H, W) of the original and of the article's replacement."""
        out = {}
        for name, trace in (("original", self.original_trace()), ("article", self.article_trace())):
            shape = trace.output_shape
            out[name] = None if shape is None else tuple(shape[2:])
        return out


ARTICLE_CASES: tuple[ArticleCase, ...] = (
    ArticleCase(
        "k3s2p1",
        "k3 s2 p1, replaced by Upsample(2) + Conv2d(k3, p1)",
        "The transposed convolution gives 2n - 1 (no output_padding), the replacement 2n: the "
        "article assumed both double the size. Solve the padding instead of copying it.",
        "nn.ConvTranspose2d(64, 32, kernel_size=3, stride=2, padding=1)",
        "nn.Upsample(scale_factor=2, mode='nearest')\nnn.Conv2d(64, 32, kernel_size=3, padding=1)",
        (1, 64, 16, 16),
    ),
    ArticleCase(
        "k3s2p1op1",
        "k3 s2 p1 op1, replaced by Upsample(2) + pad + Conv2d(k3, p1)",
        "Imitating output_padding by padding one more row and column after the upsample adds a "
        "pixel the transposed convolution never had: 2n + 1 instead of 2n.",
        "nn.ConvTranspose2d(64, 32, kernel_size=3, stride=2, padding=1, output_padding=1)",
        "nn.Upsample(scale_factor=2, mode='nearest')\n"
        "nn.ZeroPad2d((0, 1, 0, 1))\n"
        "nn.Conv2d(64, 32, kernel_size=3, padding=1)",
        (1, 64, 16, 16),
    ),
    ArticleCase(
        "generator",
        "Three-layer generator, k4 s2 p1 kept after the upsample",
        "Keeping kernel_size=4, padding=1 in the Conv2d after Upsample(2) gives 2n - 1 per layer "
        "instead of 2n, and the error compounds: three layers end 7 pixels short.",
        "nn.ConvTranspose2d(256, 128, kernel_size=4, stride=2, padding=1)\n"
        "nn.ReLU()\n"
        "nn.ConvTranspose2d(128, 64, kernel_size=4, stride=2, padding=1)\n"
        "nn.ReLU()\n"
        "nn.ConvTranspose2d(64, 3, kernel_size=4, stride=2, padding=1)\n"
        "nn.Tanh()",
        "nn.Upsample(scale_factor=2, mode='nearest')\n"
        "nn.Conv2d(256, 128, kernel_size=4, padding=1)\n"
        "nn.ReLU()\n"
        "nn.Upsample(scale_factor=2, mode='nearest')\n"
        "nn.Conv2d(128, 64, kernel_size=4, padding=1)\n"
        "nn.ReLU()\n"
        "nn.Upsample(scale_factor=2, mode='nearest')\n"
        "nn.Conv2d(64, 3, kernel_size=4, padding=1)\n"
        "nn.Tanh()",
        (1, 256, 8, 8),
    ),
)


def article_case(key: str) -> ArticleCase:
    """The article case with this key (ConfigError lists the valid keys)."""
    for case in ARTICLE_CASES:
        if isinstance(key, str) and case.key == key:
            return case
    raise ConfigError(
        "case",
        f"unknown article case {key!r}: use one of {', '.join(c.key for c in ARTICLE_CASES)}",
    )
