"""Live-generator throughput: images per second per variant, side by side, per device.

For each device (the CPU, and CUDA where available) every variant of one generator config
renders a batch and trains one fit step (batch 1), in interleaved repeats: within a repeat every
(CPU thread count, variant) pair runs once, the variant order rotating from repeat to repeat so
that drift in machine load hits all alike. The table shows medians and the ratio to
ConvTranspose2d. It then times the page's two default calls end to end (render_at_init with 8
images, fit with the default steps), the thread counts again interleaved, and finally runs the
largest fit the hosted caps allow (6 stages, 256 channels, 500 steps, 1 CPU thread) under the
page's time budget (core.hosted.FIT_TIME_BUDGET_S), to show where it stops.
Run: python bench/bench_generator.py [--repeats 9] [--batch 16] [--devices cpu,cuda]
     [--cpu-threads 1,2] [--skip-budget]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.generator.config import DEFAULT_FIT_STEPS, DEFAULT_N_IMAGES, VARIANTS, GeneratorConfig
from core.generator.devices import autocast_context, pick_device, resolve_precision, synchronize
from core.generator.model import build_generator, sample_latents
from core.generator.run import fit, render_at_init
from core.hosted import FIT_TIME_BUDGET_S, MAX_BATCH, MAX_CHANNELS, MAX_STAGES, MAX_STEPS


def throughput(config, names, device, precision, threads, batch, repeats):
    """Median images/s (forward, `batch` images) and fit steps/s (batch 1) per (threads, variant).

    `threads`: CPU thread counts to compare ([None] on a GPU: leave torch's setting).
    """
    models = {v: build_generator(config, v, seed=0).to(device) for v in names}
    optimisers = {v: torch.optim.Adam(m.parameters(), lr=1e-3) for v, m in models.items()}
    z = sample_latents(config, batch, seed=0).to(device)
    target = torch.zeros(1, config.image_channels, *config.image_size, device=device)

    def forward(v):
        with torch.no_grad(), autocast_context(device, precision):
            models[v](z)

    def train_step(v):
        optimisers[v].zero_grad(set_to_none=True)
        with autocast_context(device, precision):
            out = models[v](z[:1])
        F.mse_loss(out.float(), target).backward()
        optimisers[v].step()

    def timed(fn, v):
        synchronize(device)
        t0 = time.perf_counter()
        fn(v)
        synchronize(device)
        return time.perf_counter() - t0

    saved = torch.get_num_threads()
    render = {(t, v): [] for t in threads for v in names}
    steps = {(t, v): [] for t in threads for v in names}
    try:
        for t in threads:  # warm-up: allocator, cuDNN/oneDNN kernel choice
            if t is not None:
                torch.set_num_threads(t)
            for v in names:
                for _ in range(2):
                    forward(v)
                    train_step(v)
        for r in range(repeats):
            order = names[r % len(names) :] + names[: r % len(names)]
            for t in threads:
                if t is not None:
                    torch.set_num_threads(t)
                for v in order:
                    render[t, v].append(batch / timed(forward, v))
                    steps[t, v].append(1 / timed(train_step, v))
    finally:
        torch.set_num_threads(saved)
    params = {v: m.parameter_count() for v, m in models.items()}
    median = statistics.median
    return (
        {k: median(x) for k, x in render.items()},
        {k: median(x) for k, x in steps.items()},
        params,
    )


def end_to_end(config, names, device, precision, threads, repeats):
    """Median seconds of the page's default calls per CPU thread count (interleaved)."""
    times = {(t, call): [] for t in threads for call in ("render", "fit")}
    for _ in range(repeats):
        for t in threads:
            t0 = time.perf_counter()
            render_at_init(config, names, seed=0, device=device, precision=precision, cpu_threads=t)
            times[t, "render"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            fit(
                config, names, None, DEFAULT_FIT_STEPS, seed=0, device=device,
                precision=precision, cpu_threads=t,
            )  # fmt: skip
            times[t, "fit"].append(time.perf_counter() - t0)
    return {key: statistics.median(v) for key, v in times.items()}


def budget_check(names, device, precision) -> str:
    """The largest fit the caps allow, under the page's time budget: where does it stop?"""
    config = GeneratorConfig(stages=MAX_STAGES, base_channels=MAX_CHANNELS)
    h, w = config.image_size
    t0 = time.perf_counter()
    result = fit(
        config, names, None, MAX_STEPS, seed=0, device=device, precision=precision,
        cpu_threads=1, time_budget=FIT_TIME_BUDGET_S,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    training = sum(v.seconds for v in result.variants.values())  # the steps alone
    rate = result.steps_done / training
    where = "1 CPU thread on the CPU" if device.type == "cpu" else f"on {device}, {precision}"
    return (
        f"  largest capped fit ({MAX_STAGES} stages, {MAX_CHANNELS} channels, {h}x{w}, "
        f"{MAX_STEPS} steps, {len(names)} variants, {where}) under the "
        f"{FIT_TIME_BUDGET_S:g} s budget: {result.steps_done} of {MAX_STEPS} steps in "
        f"{seconds:.1f} s (stopped for time: {result.stopped_for_time}); all {MAX_STEPS} "
        f"would take about {MAX_STEPS / rate:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--devices", default="cpu,cuda", help="comma list; missing ones skipped")
    parser.add_argument("--stages", type=int, default=4)
    parser.add_argument("--base-channels", type=int, default=64)
    parser.add_argument("--end-to-end-repeats", type=int, default=3)
    parser.add_argument(
        "--skip-budget", action="store_true", help="skip the largest-fit time-budget check"
    )
    parser.add_argument(
        "--cpu-threads",
        default=f"1,{torch.get_num_threads()}",
        help="comma list of torch CPU thread counts to compare (CPU only)",
    )
    args = parser.parse_args()

    config = GeneratorConfig(stages=args.stages, base_channels=args.base_channels)
    names = VARIANTS
    h, w = config.image_size
    print(
        f"generator: {config.stages} stages, ConvTranspose2d(k={config.kernel_size}, "
        f"s={config.stride}, p={config.padding}, op={config.output_padding}), channels "
        f"{config.channels}, {h}x{w} images; forward batch {args.batch}, fit batch 1; medians "
        f"of {args.repeats} interleaved repeats; torch {torch.__version__}\n"
    )
    for requested in args.devices.split(","):
        if requested == "cuda" and not torch.cuda.is_available():
            print("cuda: not available on this machine, skipped\n")
            continue
        device = pick_device(requested)
        precision = resolve_precision(device, "auto")
        if device.type == "cpu":
            threads = list(dict.fromkeys(int(t) for t in args.cpu_threads.split(",")))
        else:
            threads = [None]
        render, steps, params = throughput(
            config, names, device, precision, threads, args.batch, args.repeats
        )
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
        print(f"device: {name.upper() if name == 'cpu' else name}, {precision}")
        for t in threads:
            if t is not None:
                print(f"  torch CPU threads: {t}")
            print(
                f"  {'variant':<18}{'params':>9}{'images/s':>11}{'vs convT':>10}"
                f"{'fit steps/s':>13}{'vs convT':>10}"
            )
            for v in names:
                rv, sv = render[t, v], steps[t, v]
                print(
                    f"  {v:<18}{params[v]:>9,}{rv:>11.0f}"
                    f"{rv / render[t, 'convtranspose']:>9.2f}x"
                    f"{sv:>13.1f}{sv / steps[t, 'convtranspose']:>9.2f}x"
                )
        seconds = end_to_end(config, names, device, precision, threads, args.end_to_end_repeats)
        print(
            f"  defaults end to end, {len(names)} variants (median of {args.end_to_end_repeats}):"
        )
        for t in threads:
            label = f"{t} CPU thread(s)" if t is not None else str(device)
            print(
                f"    {label:<16} render_at_init ({DEFAULT_N_IMAGES} images shown; batch norm "
                f"runs its fixed batch of {MAX_BATCH}) {seconds[t, 'render']:.2f} s; "
                f"fit ({DEFAULT_FIT_STEPS} steps) {seconds[t, 'fit']:.2f} s"
            )
        if not args.skip_budget:
            print(budget_check(names, device, precision))
        print()


if __name__ == "__main__":
    main()
