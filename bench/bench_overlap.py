"""Overlap map of a 5-layer generator stack (32 -> 64 -> ... -> 1024, k4 s2 p1): the separable numpy
computation (core.overlap.counts.stack_overlap) against torch's all-ones transposed convolutions.

    python bench/bench_overlap.py [--repeats 30]

Both run in the same process, interleaved, on the CPU; medians are printed with their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
from torch_oracle import torch_overlap

from core.geometry.layer import TransposedConv
from core.overlap.counts import stack_overlap

INPUT = 32
LAYERS = [TransposedConv.make(1, 1, 4, 2, 1)] * 5


def separable() -> np.ndarray:
    return stack_overlap(LAYERS, INPUT)


def torch_all_ones(dtype: torch.dtype) -> torch.Tensor:
    return torch_overlap(LAYERS, (INPUT, INPUT), dtype)  # the tests' oracle


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    counts = separable()
    for dtype in (torch.float32, torch.float64):
        assert np.array_equal(counts, torch_all_ones(dtype)[0, 0].numpy().astype(np.int64))
    candidates = {
        "separable numpy (core.overlap)": (separable,),
        "torch conv_transpose2d float32": (torch_all_ones, torch.float32),
        "torch conv_transpose2d float64": (torch_all_ones, torch.float64),
    }
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(3):  # warm-up
        for fn, *rest in candidates.values():
            fn(*rest)
    for _ in range(args.repeats):
        for name, (fn, *rest) in candidates.items():
            times[name].append(timed(fn, *rest))

    shape = " x ".join(map(str, counts.shape))
    print(f"Overlap map {shape}, 5 layers k4 s2 p1 from {INPUT} x {INPUT}; results equal.")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"median of {args.repeats} interleaved runs"
    )
    base = statistics.median(times["separable numpy (core.overlap)"])
    for name, values in times.items():
        median = statistics.median(values)
        ratio = (
            ""
            if values is times["separable numpy (core.overlap)"]
            else (f"   {median / base:6.1f}x the separable time")
        )
        print(f"  {name:<32} {median * 1e3:8.2f} ms{ratio}")


if __name__ == "__main__":
    main()
