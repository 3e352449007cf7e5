"""In a real browser: time from a parameter change to the updated view, designer and overlap pages.

Starts `streamlit run app.py` on a free port, opens each page in headless Chromium, and changes
kernel_size back and forth (3 <-> 4, which changes the output size). For each change it measures
the wall time from committing the new value (Enter in the number box) until
  - "updated": designer: the layer's code shows the new kernel; overlap: the overlap heatmap is
    redrawn at the new output size (what the user waits for);
  - "run done": the whole page has rerun and the URL carries the new value.
Prints median and p95 per page, side by side. Not a test: no thresholds.

    python bench/bench_browser.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "load"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from browser_support import (
    CHROMIUM,
    launch,
    open_page,
    set_number,
    streamlit_server,
    wait_chart_shape,
    wait_query,
    wait_settled,
)
from process_stats import percentile

from core.geometry.output_size import output_size
from ui.state import LayerConfig

KERNELS = (4, 3)  # alternate; the default layer has kernel_size 3


def measure(page, base: str, path: str, repeats: int, warmup: int) -> dict[str, list[float]]:
    open_page(page, base, path)
    times: dict[str, list[float]] = {"updated": [], "run done": []}
    for i in range(warmup + repeats):
        k = KERNELS[i % 2]
        out = list(output_size(LayerConfig(kernel_size=(k, k)).layer(), 16))
        start = time.perf_counter()
        set_number(page, "kernel_size (px)", k)
        if path == "overlap":
            wait_chart_shape(page, out, 0)
        else:
            page.get_by_text(f"kernel_size={k}, stride=").first.wait_for()
        updated = time.perf_counter() - start
        wait_query(page, "k", str(k))
        done = time.perf_counter() - start
        wait_settled(page)  # let every chart finish before the next change
        if i >= warmup:
            times["updated"].append(updated)
            times["run done"].append(done)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"Debian chromium not found at {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    results = {}
    with streamlit_server() as base, sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(120_000)
        page = context.new_page()
        for name, path in (("designer", ""), ("overlap", "overlap")):
            results[name] = measure(page, base, path, args.repeats, args.warmup)
        browser.close()

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"Parameter change -> updated view, headless Chromium, {os.cpu_count()} CPUs, "
        f"load average {load:.1f}, {args.repeats} changes per page after {args.warmup} warm-up"
    )
    print(f"{'page':<10} {'until':<10} {'median s':>9} {'p95 s':>7} {'min s':>7} {'max s':>7}")
    for name, measured in results.items():
        for until, times in measured.items():
            print(
                f"{name:<10} {until:<10} {statistics.median(times):>9.3f} "
                f"{percentile(times, 0.95):>7.3f} {min(times):>7.3f} {max(times):>7.3f}"
            )
    overlap = statistics.median(results["overlap"]["updated"])
    designer = statistics.median(results["designer"]["updated"])
    print(f"overlap / designer, median until updated: {overlap / designer:.2f}x")


if __name__ == "__main__":
    main()
