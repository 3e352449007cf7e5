"""ConvTranspose2d against its exact replacements, Upsample + Conv2d and the fused layer.

A typical generator block (default: batch 8, 64 -> 32 channels, 32x32 -> 64x64, k4 s2 p1),
forward passes in inference mode, float32. Every module is checked against its reference first,
then timed interleaved (one round = every module once, repeated), medians and ratios printed, on
the CPU and, where one is present, on the GPU, side by side.
Warm-up matters on the CPU: for the first few dozen rounds glibc hands every large intermediate
(the 4x upsampled image, the zero-inserted image) out as fresh mmap'd pages and takes them back
after the call, so each call pays page faults (the upsample alone then costs ~4x more); after
that its adaptive mmap threshold keeps them on the heap. Hence 40 warm-up rounds by default; run
with --warmup 3 to see the cold regime (MALLOC_MMAP_THRESHOLD_=1000000000 removes it).
Targets: fused >= 1.5x faster than Upsample + Conv2d; sub-pixel >= 0.8x the speed of
ConvTranspose2d.

Run: python bench/bench_replacements.py [--rounds 30] [--batch 8] [--size 32]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.replacements.weights import fuse_resize_conv, replace_conv_transpose


def build(cin: int, cout: int) -> dict[str, tuple[nn.Module, str]]:
    """name -> (module, name of the module whose output it must equal)."""
    torch.manual_seed(0)
    original = nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)
    upsample = nn.Upsample(scale_factor=2, mode="nearest")
    conv = nn.Conv2d(cin, cout, 3, padding=1)
    resize = nn.Sequential(upsample, conv)
    fused = fuse_resize_conv(upsample, conv)
    return {
        "ConvTranspose2d(k4 s2 p1)": (original, "ConvTranspose2d(k4 s2 p1)"),
        "sub-pixel (exact)": (
            replace_conv_transpose(original, "subpixel")[0],
            "ConvTranspose2d(k4 s2 p1)",
        ),
        "zero insertion (exact)": (
            replace_conv_transpose(original, "zero-insertion")[0],
            "ConvTranspose2d(k4 s2 p1)",
        ),
        "Upsample(nearest) + Conv2d(3)": (resize, "Upsample(nearest) + Conv2d(3)"),
        "fused ConvTranspose2d(k4)": (fused, "Upsample(nearest) + Conv2d(3)"),
        "fused, run as sub-pixel": (
            replace_conv_transpose(fused, "subpixel")[0],
            "Upsample(nearest) + Conv2d(3)",
        ),
    }


def timer(device: torch.device) -> Callable[[], float]:
    if device.type == "cuda":

        def now() -> float:
            torch.cuda.synchronize(device)
            return time.perf_counter()

        return now
    return time.perf_counter


def bench(device: torch.device, args: argparse.Namespace) -> dict[str, float]:
    """Median milliseconds per forward pass, per module."""
    modules = {
        name: (m.to(device).eval(), ref)
        for name, (m, ref) in build(args.in_channels, args.out_channels).items()
    }
    x = torch.randn(args.batch, args.in_channels, args.size, args.size, device=device)
    now = timer(device)
    times: dict[str, list[float]] = {name: [] for name in modules}
    with torch.inference_mode():
        # The check runs in full float32: CUDA's default TF32 convolutions round to 10 mantissa
        # bits, which would exceed the tolerance without any modules disagreeing.
        tf32 = torch.backends.cudnn.allow_tf32
        torch.backends.cudnn.allow_tf32 = False
        try:
            outputs = {name: m(x) for name, (m, _) in modules.items()}
        finally:
            torch.backends.cudnn.allow_tf32 = tf32
        for name, (_, ref) in modules.items():
            error = (outputs[name] - outputs[ref]).abs().max().item()
            scale = outputs[ref].abs().max().item()
            if outputs[name].shape != outputs[ref].shape or error > 1e-4 * scale:
                raise SystemExit(f"{name} does not match {ref} on {device}: max error {error}")
        for _ in range(args.warmup):
            for m, _ in modules.values():
                m(x)
        for _ in range(args.rounds):
            for name, (m, _) in modules.items():
                start = now()
                for _ in range(args.calls):
                    m(x)
                times[name].append((now() - start) / args.calls * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=5, help="forward calls per timing")
    parser.add_argument("--warmup", type=int, default=40, help="untimed rounds first")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--in-channels", type=int, default=64)
    parser.add_argument("--out-channels", type=int, default=32)
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args()

    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    results = {d.type: bench(d, args) for d in devices}

    n = args.size
    print(
        f"torch {torch.__version__}, float32, forward (inference mode), batch {args.batch}, "
        f"{args.in_channels}->{args.out_channels} channels, {n}x{n} -> {2 * n}x{2 * n}; "
        f"median of {args.rounds} interleaved rounds x {args.calls} calls"
    )
    labels = [f"cpu ({torch.get_num_threads()} threads)"]
    if "cuda" in results:
        labels.append(torch.cuda.get_device_name())
    base = "ConvTranspose2d(k4 s2 p1)"
    width = max(len(name) for name in results["cpu"])
    header = f"{'module':<{width}}" + "".join(f" | {label:>28}" for label in labels)
    print(header)
    print("-" * len(header))
    for name in results["cpu"]:
        cells = []
        for device in results:
            ms = results[device][name]
            cells.append(f"{ms:9.3f} ms {results[device][base] / ms:6.2f}x speed")
        print(f"{name:<{width}}" + "".join(f" | {c:>28}" for c in cells))
    print("(speed = ConvTranspose2d's time / this module's time; higher is faster)")
    print()
    for device, r in results.items():
        fused = r["Upsample(nearest) + Conv2d(3)"] / r["fused ConvTranspose2d(k4)"]
        subpixel = r[base] / r["sub-pixel (exact)"]
        print(
            f"{device}: fused vs Upsample+Conv2d {fused:.2f}x faster (target >= 1.5x: "
            f"{'met' if fused >= 1.5 else 'MISSED'}); sub-pixel vs ConvTranspose2d "
            f"{subpixel:.2f}x the speed (target >= 0.8x: "
            f"{'met' if subpixel >= 0.8 else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
