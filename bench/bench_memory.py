"""Server memory before, at the peak of and after heavy live-generator sessions: does it come back?

Starts `streamlit run app.py` on a free loopback port (its own `.streamlit/config.toml`; the
session cleanup time `server.disconnectedSessionTTL` is Streamlit's 120 s unless `--ttl` is
given) and drives it with `tests/load/ws_client.py` (Streamlit's websocket protocol, no browser):

1. ordinary use: `--ordinary` sessions, one after another, each change the designer's kernel size
   twice, the overlap page's twice and render the live generator at its defaults, then close;
   after the cleanup time (+ `--grace`), the server's RSS is the "ordinary" figure;
2. heavy use: `--heavy` sessions at once render the live generator at the largest settings
   (6 stages, 256 channels, 16 images; a session told the server is busy retries), then all
   close; RSS is sampled every 0.2 s for the peak;
3. after: RSS every 10 s until the cleanup time + `--grace` has passed since the close.

RSS is VmRSS of the server process from /proc/<pid>/status. Prints the timeline and the ratio of
the final RSS to the ordinary figure. Not a test: no thresholds. Loopback only, bounded in time.

    python bench/bench_memory.py [--ordinary 3] [--heavy 9] [--ttl 120] [--grace 20]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "load"))

from browser_support import free_port, streamlit_command, wait_healthy  # noqa: E402
from process_stats import RssPeak, rss_mib  # noqa: E402
from ws_client import Session  # noqa: E402

HEAVY_QUERY = "gen_stages=6&gen_ch=256&gen_n=16"
BUSY_PAUSE_S = 2.0
RUN_TIMEOUT_S = 300.0


async def run_until_done(session: Session, deadline: float) -> int:
    """Run the page; rerun while the server says it is busy. Returns the busy refusals."""
    refusals = 0
    while True:
        result = await session.run(timeout=RUN_TIMEOUT_S)
        busy = [e for e in result.errors if "busy" in e]
        if len(busy) < len(result.errors):
            raise RuntimeError(f"{session.page}: {result.errors}")
        if not busy:
            return refusals
        if time.monotonic() > deadline:
            raise TimeoutError("the generator stayed busy")
        refusals += 1
        await asyncio.sleep(BUSY_PAUSE_S)


async def ordinary_session(port: int) -> None:
    for page in ("", "overlap"):
        async with Session(port, page) as session:
            await session.run()
            for kernel in (4, 3):
                session.set_int("kernel_size (px)", kernel)
                await session.run()
    async with Session(port, "generator") as session:
        await run_until_done(session, time.monotonic() + 600)


async def heavy_session(port: int, deadline: float) -> int:
    async with Session(port, "generator", HEAVY_QUERY) as session:
        return await run_until_done(session, deadline)


async def wait_reporting(pid: int, seconds: float, since: float, timeline: list) -> None:
    end = time.monotonic() + seconds
    while True:
        timeline.append((time.monotonic() - since, rss_mib(pid)))
        left = end - time.monotonic()
        if left <= 0:
            return
        await asyncio.sleep(min(10.0, left))


async def scenario(port: int, pid: int, args) -> dict:
    figures = {"fresh": rss_mib(pid)}
    for _ in range(args.ordinary):
        await ordinary_session(port)
    figures["ordinary, sessions open"] = rss_mib(pid)
    await asyncio.sleep(args.ttl + args.grace)
    figures["ordinary"] = rss_mib(pid)
    peak = RssPeak(pid)
    peak.start()
    start = time.monotonic()
    refusals = await asyncio.gather(*(heavy_session(port, start + 900) for _ in range(args.heavy)))
    figures["heavy seconds"] = time.monotonic() - start
    figures["busy refusals"] = sum(refusals)
    closed = time.monotonic()
    figures["at close"] = rss_mib(pid)
    timeline: list[tuple[float, float]] = []
    await wait_reporting(pid, args.ttl + args.grace, closed, timeline)
    figures["peak"] = peak.stop()
    figures["after"] = timeline[-1][1]
    figures["timeline"] = timeline
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ordinary", type=int, default=3, help="ordinary sessions (1-20)")
    parser.add_argument("--heavy", type=int, default=9, help="heavy sessions at once (1-20)")
    parser.add_argument("--ttl", type=int, default=120, help="server.disconnectedSessionTTL, s")
    parser.add_argument("--grace", type=float, default=20.0, help="seconds past the TTL")
    args = parser.parse_args(argv)
    if not (1 <= args.ordinary <= 20 and 1 <= args.heavy <= 20 and 1 <= args.ttl <= 600):
        parser.error("--ordinary and --heavy take 1 to 20 sessions, --ttl 1 to 600 s")
    port = free_port()
    command = [*streamlit_command(port), "--server.disconnectedSessionTTL", str(args.ttl)]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        figures = asyncio.run(scenario(port, process.pid, args))
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)
    print(
        f"Server RSS (MiB), session cleanup time {args.ttl} s; {args.ordinary} ordinary "
        f"sessions, then {args.heavy} heavy generator sessions at once ({HEAVY_QUERY})"
    )
    for name in ("fresh", "ordinary, sessions open", "ordinary", "peak", "at close", "after"):
        print(f"  {name:<24} {figures[name]:>7.0f}")
    print(
        f"  heavy sessions took {figures['heavy seconds']:.0f} s, "
        f"{figures['busy refusals']} busy refusals retried"
    )
    print("  after the close: " + ", ".join(f"{t:.0f} s {m:.0f}" for t, m in figures["timeline"]))
    print(f"after / ordinary: {figures['after'] / figures['ordinary']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
