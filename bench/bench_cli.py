"""How long `python -m core` takes to answer, next to how long `import torch` alone takes.

Both are started as fresh processes, interleaved, repeated; medians and their ratio are printed.
Run: python bench/bench_cli.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "python -m core ... --json": [
        sys.executable,
        "-m",
        "core",
        "--in-channels",
        "64",
        "--out-channels",
        "32",
        "--kernel-size",
        "4",
        "--stride",
        "2",
        "--padding",
        "1",
        "--input-size",
        "16",
        "16",
        "--json",
    ],
    "python -m core solve 4 8 16 32 64": [
        sys.executable,
        "-m",
        "core",
        "solve",
        "4",
        "8",
        "16",
        "32",
        "64",
    ],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    "python -c 'pass' (interpreter start)": [sys.executable, "-c", "pass"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, command in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    torch_time = statistics.median(times["python -c 'import torch'"])
    print(f"{'command':<40} {'median ms':>10} {'p90 ms':>8} {'vs import torch':>16}")
    for name, values in times.items():
        median = statistics.median(values)
        p90 = sorted(values)[int(0.9 * (len(values) - 1))]
        print(f"{name:<40} {median * 1e3:>10.0f} {p90 * 1e3:>8.0f} {median / torch_time:>15.2f}x")


if __name__ == "__main__":
    main()
