"""How long converting trained weights takes, against one forward pass of the layer converted.

Part 1: nn.ConvTranspose2d(1024, 512, 4, stride=2, padding=1), the widest decoder layer of a
pix2pix U-Net. Timed side by side in interleaved rounds (one round = each operation once, the
order rotating from round to round), medians printed: one forward pass of the layer on a
(1, 1024, 32, 32) float32 input in inference mode, and `replace_conv_transpose` for each exact
method and for resize-nearest and resize-bicubic (the widest interpolation grid), each with its
ratio to the forward. Target: the exact methods within 10x of the forward (measuring their error
with one unit impulse per channel, as an earlier version did, took ~128 s here).

Part 2: `convert_model(unet, "subpixel")` of the pix2pix U-Net generator (Isola et al. 2017,
`UnetGenerator(3, 3, num_downs=8, ngf=64)` with batch norm and dropout: 8 ConvTranspose2d
layers, 1024 -> 512 three times), interleaved with one forward pass of the generator on a
(1, 3, 256, 256) image; the converted generator's output is checked against the original's
first.

Every replacement is checked first: an exact one must give the layer's outputs (float32
tolerance) and report a relative error below 1e-12.
Run: python bench/bench_conversion.py [--rounds 9] [--unet-rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_replacements import timer  # bench/ is the script's own directory

from core.converter.live import convert_model
from core.replacements.registry import EXACT_METHODS as EXACT
from core.replacements.weights import replace_conv_transpose

METHODS = (*EXACT, "resize-nearest", "resize-bicubic")  # bicubic: the widest interpolation grid
TARGET = 10.0  # the exact methods: at most this many forward passes


class UnetBlock(nn.Module):
    """pix2pix's UnetSkipConnectionBlock: down (LeakyReLU, conv k4 s2 p1, BN), the inner block,
    up (ReLU, ConvTranspose2d k4 s2 p1, BN[, Dropout]), and the input concatenated (skip)."""

    def __init__(
        self,
        outer: int,
        inner: int,
        sub: nn.Module | None = None,
        *,
        in_channels: int | None = None,
        outermost: bool = False,
        dropout: bool = False,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        down = nn.Conv2d(in_channels or outer, inner, 4, 2, 1, bias=False)
        up_in = inner if sub is None else inner * 2
        if outermost:
            layers = [
                down,
                sub,
                nn.ReLU(True),
                nn.ConvTranspose2d(up_in, outer, 4, 2, 1),
                nn.Tanh(),
            ]
        elif sub is None:  # innermost
            layers = [
                nn.LeakyReLU(0.2, True),
                down,
                nn.ReLU(True),
                nn.ConvTranspose2d(up_in, outer, 4, 2, 1, bias=False),
                nn.BatchNorm2d(outer),
            ]
        else:
            layers = [
                nn.LeakyReLU(0.2, True),
                down,
                nn.BatchNorm2d(inner),
                sub,
                nn.ReLU(True),
                nn.ConvTranspose2d(up_in, outer, 4, 2, 1, bias=False),
                nn.BatchNorm2d(outer),
                *([nn.Dropout(0.5)] if dropout else []),
            ]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)  # as pix2pix: x after its in-place LeakyReLU


def unet_generator(ngf: int = 64, num_downs: int = 8) -> nn.Module:
    """pix2pix's UnetGenerator(3, 3, num_downs, ngf), eval mode (dropout off)."""
    block = UnetBlock(ngf * 8, ngf * 8)
    for _ in range(num_downs - 5):
        block = UnetBlock(ngf * 8, ngf * 8, block, dropout=True)
    for mult in (4, 2, 1):
        block = UnetBlock(ngf * mult, ngf * mult * 2, block)
    return UnetBlock(3, ngf, block, in_channels=3, outermost=True).eval()


def interleaved(operations: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds per operation: every round runs each once, the order rotating."""
    now = timer(torch.device("cpu"))
    names = list(operations)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = now()
            operations[name]()
            times[name].append(now() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def check_layer(layer: nn.ConvTranspose2d, x: torch.Tensor) -> dict[str, float]:
    """Each method's reported relative error; exact replacements must match the layer."""
    errors = {}
    with torch.inference_mode():
        expected = layer(x)
    for method in METHODS:
        module, error = replace_conv_transpose(layer, method)
        errors[method] = error
        with torch.inference_mode():
            y = module(x)
        if y.shape != expected.shape:
            raise SystemExit(f"{method}: output {tuple(y.shape)}, expected {tuple(expected.shape)}")
        if method in EXACT:
            difference = (y - expected).abs().max().item()
            if error >= 1e-12 or difference > 1e-4 * expected.abs().max().item():
                raise SystemExit(f"{method}: reported error {error}, max difference {difference}")
    return errors


def part_one(rounds: int) -> None:
    torch.manual_seed(0)
    layer = nn.ConvTranspose2d(1024, 512, 4, stride=2, padding=1)
    x = torch.randn(1, 1024, 32, 32)
    errors = check_layer(layer, x)

    def forward() -> None:
        with torch.inference_mode():
            layer(x)

    forward_name = "forward, (1, 1024, 32, 32) float32"
    operations: dict[str, Callable[[], object]] = {forward_name: forward}
    for method in METHODS:
        operations[f"replace_conv_transpose {method}"] = lambda method=method: (
            replace_conv_transpose(layer, method)
        )
    interleaved(operations, 2)  # warm-up
    medians = interleaved(operations, rounds)
    base = medians[forward_name]
    print(
        f"ConvTranspose2d(1024, 512, 4, stride=2, padding=1), torch {torch.__version__}, "
        f"CPU, {torch.get_num_threads()} threads; medians of {rounds} interleaved rounds\n"
    )
    print("| operation | median | vs forward | reported relative error |")
    print("|---|---:|---:|---:|")
    for name, seconds in medians.items():
        method = name.removeprefix("replace_conv_transpose ")
        error = f"{errors[method]:.2e}" if method in errors else ""
        print(f"| {name} | {seconds * 1e3:.0f} ms | {seconds / base:.2f}x | {error} |")
    print()
    for method in EXACT:
        ratio = medians[f"replace_conv_transpose {method}"] / base
        verdict = "met" if ratio <= TARGET else "MISSED"
        print(f"{method}: {ratio:.1f}x the forward (target <= {TARGET:.0f}x: {verdict})")
    print()


def part_two(rounds: int) -> None:
    torch.manual_seed(0)
    unet = unet_generator()
    for module in unet.modules():  # trained-looking batch-norm statistics
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
    x = torch.randn(1, 3, 256, 256)
    layers = [m for m in unet.modules() if isinstance(m, nn.ConvTranspose2d)]
    params = sum(p.numel() for p in unet.parameters())
    calls: list[tuple[int, int, str]] = []
    converted, report = convert_model(unet, "subpixel", progress=lambda *a: calls.append(a))
    with torch.inference_mode():
        expected, got = unet(x), converted(x)
    difference = (got - expected).abs().max().item()
    if difference > 1e-4 or report.count != len(layers) or len(calls) != len(layers):
        raise SystemExit(f"U-Net conversion: max difference {difference}, {report.count} rows")

    def forward() -> None:
        with torch.inference_mode():
            unet(x)

    operations: dict[str, Callable[[], object]] = {
        "forward, (1, 3, 256, 256) float32": forward,
        'convert_model(unet, "subpixel")': lambda: convert_model(unet, "subpixel"),
    }
    medians = interleaved(operations, rounds)
    base = medians["forward, (1, 3, 256, 256) float32"]
    print(
        f"pix2pix U-Net generator (ngf 64, 8 downsamplings, {params / 1e6:.1f}M parameters, "
        f"{len(layers)} ConvTranspose2d: "
        f"{', '.join(f'{m.in_channels}->{m.out_channels}' for m in layers)}); medians of "
        f"{rounds} interleaved rounds; converted output equal (max difference {difference:.1e}), "
        f"max reported relative error {report.max_relative_error:.1e}\n"
    )
    print("| operation | median | vs forward |")
    print("|---|---:|---:|")
    for name, seconds in medians.items():
        print(f"| {name} | {seconds:.2f} s | {seconds / base:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=9, help="rounds for the single layer")
    parser.add_argument("--unet-rounds", type=int, default=3, help="rounds for the U-Net")
    parser.add_argument("--skip-unet", action="store_true")
    args = parser.parse_args()
    part_one(args.rounds)
    if not args.skip_unet:
        part_two(args.unet_rounds)


if __name__ == "__main__":
    main()
