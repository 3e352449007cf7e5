"""Load without browsers: many simulated users on Streamlit's own websocket protocol.

    python tests/load/ws_load.py --users 50,100,200 [--duration 60] [--think 5] [--json out.json]

Starts `streamlit run app.py` on a free loopback port and, as a hosted server would be, first
has one session open the Live generator (torch loaded, one render). Then, for each number of
users given (one level after another, on the same server), that many simulated users connect
(`tests/load/ws_client.py`: one websocket and one session each, the browser's messages, no
rendering), spread over `--ramp` seconds, and each of them, until `--duration` seconds after the
last one connected:

- opens the Layer designer (its first run is timed apart, as "first load");
- waits a think time (uniform between 0.5x and 1.5x `--think` seconds), then changes the
  kernel size (3 -> 4 -> 5 -> 3 ...) and times the change until the run's `script_finished`.

Only changes started after every user connected count. Per level it reports the changes made,
errors (exception elements, error messages, timeouts), the p50 / p95 / max latency of a change,
the server's CPU (utime + stime from /proc, as cores busy over the level) and its RSS (peak,
sampled every 0.25 s), and the driver's own CPU. The capacity figure is the largest level whose
p95 stays under `--target` seconds (1 s) with no errors, every smaller level measured too.

Bounded in count and time: at most 400 users, 600 s per level, a timeout on every wait; only
127.0.0.1 is contacted; it stops by itself. Exit status 0 when no level had errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))

from browser_support import free_port, streamlit_command, wait_healthy  # noqa: E402
from process_stats import RssPeak, cpu_seconds, percentile, rss_mib  # noqa: E402
from ws_client import Session  # noqa: E402

from core.errors import ConfigError  # noqa: E402
from core.parsing import parse_ints  # noqa: E402

MAX_USERS = 400
MAX_DURATION_S = 600.0
CHANGE_TIMEOUT_S = 60.0
KERNELS = (4, 5, 3)  # kernel sizes each user sets in turn (the default is 3)
LABEL = "kernel_size (px)"


@dataclass
class Level:
    users: int
    changes_ms: list[float] = field(default_factory=list)
    first_load_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def user(
    port: int, index: int, level: Level, start_at: float, window: tuple[float, float], think: float
) -> None:
    """One simulated user: open the designer, then change the kernel size after think times."""
    rng = random.Random(index)
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    try:
        async with Session(port) as session:
            result = await session.run(timeout=CHANGE_TIMEOUT_S)
            level.first_load_ms.append(result.seconds * 1000)
            level.errors += [f"user {index} first load: {e}" for e in result.errors]
            turn = 0
            while True:
                await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
                if time.monotonic() >= window[1]:
                    return
                session.set_int(LABEL, KERNELS[turn % len(KERNELS)])
                turn += 1
                started = time.monotonic()
                result = await session.run(timeout=CHANGE_TIMEOUT_S)
                if result.errors or result.status != "ok":
                    level.errors += [f"user {index}: {e}" for e in result.errors or [result.status]]
                if started >= window[0]:
                    level.changes_ms.append(result.seconds * 1000)
    except (TimeoutError, OSError, RuntimeError) as exc:
        level.errors.append(f"user {index}: {type(exc).__name__}: {str(exc)[:200]}")


async def run_level(port: int, pid: int, users: int, args: argparse.Namespace) -> dict:
    level = Level(users)
    now = time.monotonic()
    starts = [now + args.ramp * i / max(1, users) for i in range(users)]
    window = (now + args.ramp + 1.0, now + args.ramp + 1.0 + args.duration)  # changes measured
    peak = RssPeak(pid, period=0.25)
    peak.start()
    cpu0, driver0 = cpu_seconds(pid), time.process_time()
    tasks = [user(port, i, level, starts[i], window, args.think) for i in range(users)]
    await asyncio.wait_for(
        asyncio.gather(*tasks), timeout=args.ramp + args.duration + 2 * CHANGE_TIMEOUT_S + 30
    )
    wall = time.monotonic() - now
    cpu = cpu_seconds(pid) - cpu0
    driver = time.process_time() - driver0
    changes = level.changes_ms
    return {
        "users": users,
        "think_s": args.think,
        "measured_s": args.duration,
        "changes": len(changes),
        "changes_per_s": len(changes) / args.duration,
        "errors": len(level.errors),
        "error_list": level.errors[:20],
        "change_p50_ms": statistics.median(changes) if changes else None,
        "change_p95_ms": percentile(changes, 0.95) if changes else None,
        "change_max_ms": max(changes) if changes else None,
        "first_load_p95_ms": percentile(level.first_load_ms, 0.95) if level.first_load_ms else None,
        "server_cores_busy": cpu / wall,
        "server_cpu_ms_per_change": 1000 * cpu / max(1, len(changes)),
        "server_rss_peak_mib": peak.stop(),
        "server_rss_end_mib": rss_mib(pid),
        "driver_cores_busy": driver / wall,
    }


async def warm_generator(port: int) -> None:
    async with Session(port, "generator") as session:
        result = await session.run(timeout=300)
        if result.errors:
            raise RuntimeError(f"generator warm-up: {result.errors}")


async def scenario(port: int, pid: int, args: argparse.Namespace) -> list[dict]:
    if args.warm_generator:
        await warm_generator(port)
    results = []
    for users in args.levels:
        results.append(await run_level(port, pid, users, args))
        print_level(results[-1])
        await asyncio.sleep(2.0)  # let the closed sessions' last messages drain
    return results


def print_level(r: dict) -> None:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.0f}"

    print(
        f"{r['users']:>5} users: {r['changes']:>5} changes ({r['changes_per_s']:.1f}/s), "
        f"{r['errors']} errors, change p50 {ms(r['change_p50_ms'])} ms, p95 "
        f"{ms(r['change_p95_ms'])} ms, max {ms(r['change_max_ms'])} ms; server "
        f"{r['server_cores_busy']:.2f} cores, {r['server_cpu_ms_per_change']:.0f} ms CPU per "
        f"change, RSS peak {r['server_rss_peak_mib']:.0f} MiB; driver "
        f"{r['driver_cores_busy']:.2f} cores",
        flush=True,
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="25,50,100", help="user counts, one level each")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds per level")
    parser.add_argument("--think", type=float, default=5.0, help="mean seconds between changes")
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds to connect all users")
    parser.add_argument("--target", type=float, default=1.0, help="p95 target, seconds")
    parser.add_argument("--no-warm-generator", dest="warm_generator", action="store_false")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    try:
        args.levels = list(parse_ints(args.users, "--users", 1, MAX_USERS, example="50,100"))
    except ConfigError as err:
        parser.error(err.message)
    if not (0 < args.duration <= MAX_DURATION_S and 0 < args.think <= 60 and 0 <= args.ramp <= 120):
        parser.error(f"--duration (0, {MAX_DURATION_S:g}], --think (0, 60], --ramp [0, 120]")
    return args


def capacity_users(results: list[dict], target_s: float) -> int:
    """The capacity: the largest user count such that it and every smaller level measured had
    no errors and a p95 change under `target_s` (a failing level caps it, even if a larger one
    passed by chance).

    Args:
        results: the levels' reports (`users`, `errors`, `change_p95_ms`), in any order.
        target_s: the p95 target, seconds.

    Returns:
        That user count, or 0 when the smallest level failed.
    """

    def passes(r: dict) -> bool:
        p95 = r["change_p95_ms"]
        return r["errors"] == 0 and p95 is not None and p95 < target_s * 1000

    capacity = 0
    for users in sorted({r["users"] for r in results}):
        if not all(passes(r) for r in results if r["users"] == users):
            break
        capacity = users
    return capacity


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    port = free_port()
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"ws_load_{port}.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        streamlit_command(port),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server)
        print(
            f"{os.cpu_count()} CPUs, think time {args.think:g} s (0.5x-1.5x), {args.duration:g} s "
            f"measured per level after a {args.ramp:g} s ramp; designer changes",
            flush=True,
        )
        results = asyncio.run(scenario(port, server.pid, args))
    finally:
        if server.poll() is None:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(15)
            if server.poll() is None:
                server.kill()
                server.wait(15)
        log.close()
    summary = {
        "levels": results,
        "capacity_users": capacity_users(results, args.target),
        "target_s": args.target,
    }
    print(
        f"largest level with designer changes under {args.target:g} s at p95 and no errors, "
        f"every smaller level too: {summary['capacity_users']} users"
    )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0 if all(r["errors"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
