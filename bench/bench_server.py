"""Server CPU per parameter change: this app's designer and overlap pages against a trivial
Streamlit app, measured side by side in one run.

Starts two servers on free loopback ports: this app (`streamlit run app.py`, its own
`.streamlit/config.toml`) and a trivial app written to a temporary folder (one `number_input`,
Streamlit's defaults). Both get the same command-line flags (headless, no file watcher, no usage
statistics). The app is first brought to the state a hosted server is in: a session opens the
Live generator, which loads torch and renders at initialisation. Then one client per page
(`tests/load/ws_client.py`: Streamlit's own websocket protocol, no browser) changes a number
input back and forth, waiting for each run to finish:

- trivial app: its number_input, 1 <-> 2;
- designer and overlap: the sidebar's kernel_size, 3 <-> 4 (the output size changes): after the
  warm-up both layers have been seen, so whatever the app caches per configuration is reused;
- "overlap new": the overlap page, where every change sets a layer geometry not seen before in
  the run (kernel_size, padding and dilation together, input 16 px): nothing is reused from a
  cache, the cost of a configuration nobody asked for yet.

Each server's CPU time (utime + stime of the server process from /proc/<pid>/stat, children
excluded) is read before and after a block of changes; blocks of the three pages are interleaved
(the order rotated every round) and the medians of the per-change CPU are compared. Prints CPU
per change, its ratio to the trivial app's, wall time per change and bytes sent per change.
Not a test: no thresholds.

    python bench/bench_server.py [--rounds 9] [--changes 10]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "load"))
sys.path.insert(0, str(ROOT))

from browser_support import free_port, streamlit_command, wait_healthy  # noqa: E402
from process_stats import cpu_seconds, rss_mib  # noqa: E402
from ws_client import Session  # noqa: E402

from core.errors import ConfigError  # noqa: E402
from core.geometry.output_size import output_size  # noqa: E402
from ui.state import LayerConfig  # noqa: E402

TRIVIAL_APP = 'import streamlit as st\n\nst.number_input("value", 0, 100, 1)\n'


def alternate(label: str, values: tuple[int, int]):
    """Changes that set `label` to each of `values` in turn."""
    return ({label: values[i % 2]} for i in itertools.count())


def new_geometries():
    """Changes that each set a layer geometry (kernel_size, padding, dilation) not set before,
    valid on the default layer's 16 px input (and the animation's 4 px), in a fixed shuffled
    order; none is the
    alternating pages' (k 3 or 4, p 1, d 1)."""
    found = []
    for k, p, d in itertools.product(range(1, 12), range(9), range(1, 4)):
        if k in (3, 4) and p == 1 and d == 1:
            continue
        cfg = LayerConfig(kernel_size=(k, k), padding=(p, p), dilation=(d, d))
        try:
            output_size(cfg.layer(), 16)
            output_size(cfg.layer(), 4)  # the page's animation runs it on 4 px
        except ConfigError:
            continue
        found.append({"kernel_size (px)": k, "padding (px)": p, "dilation (px)": d})
    random.Random(0).shuffle(found)
    return iter(found)


# (name, server, page, the changes it makes, one dict of widget label -> value per change)
TARGETS = (
    ("trivial", "trivial", "", lambda: alternate("value", (2, 1))),
    ("designer", "app", "", lambda: alternate("kernel_size (px)", (4, 3))),
    ("overlap", "app", "overlap", lambda: alternate("kernel_size (px)", (4, 3))),
    ("overlap new", "app", "overlap", new_geometries),
)


def start(script: str, cwd: Path, port: int, log) -> subprocess.Popen:
    command = streamlit_command(port)
    command[command.index("app.py")] = script
    return subprocess.Popen(
        command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)


async def change(session: Session, values: dict[str, int]):
    for label, value in values.items():
        session.set_int(label, value)
    result = await session.run()
    if result.errors or result.status != "ok":
        raise RuntimeError(f"{values}: {result.status} {result.errors}")
    return result


async def block(session: Session, changes_made, changes: int, pid: int):
    """`changes` changes; (CPU s per change, wall s per change, bytes sent per change)."""
    cpu0, wall0, sent = cpu_seconds(pid), time.perf_counter(), 0
    for _ in range(changes):
        sent += (await change(session, next(changes_made))).bytes
    await asyncio.sleep(0.3)  # let work that follows script_finished land in this block
    return (
        (cpu_seconds(pid) - cpu0) / changes,
        (time.perf_counter() - wall0 - 0.3) / changes,
        sent / changes,
    )


async def measure(ports: dict[str, int], pids: dict[str, int], rounds: int, changes: int):
    # The hosted state: torch loaded and one render done, as after a visitor of the generator.
    async with Session(ports["app"], "generator") as gen:
        result = await gen.run(timeout=300)
        if result.errors:
            raise RuntimeError(f"generator: {result.errors}")
    sessions, changes_made = {}, {}
    for name, server, page, make_changes in TARGETS:
        session = Session(ports[server], page)
        await session.connect()
        await session.run()
        changes_made[name] = make_changes()
        for _ in range(2):  # warm up: two changes
            await change(session, next(changes_made[name]))
        sessions[name] = session
    samples: dict[str, dict[str, list[float]]] = {
        name: {"cpu": [], "wall": [], "bytes": []} for name, *_ in TARGETS
    }
    for r in range(rounds):
        order = TARGETS[r % len(TARGETS) :] + TARGETS[: r % len(TARGETS)]
        for name, server, *_ in order:
            session, made = sessions[name], changes_made[name]
            cpu, wall, sent = await block(session, made, changes, pids[server])
            samples[name]["cpu"].append(cpu)
            samples[name]["wall"].append(wall)
            samples[name]["bytes"].append(sent)
    for session in sessions.values():
        await session.close()
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--changes", type=int, default=10, help="changes per block")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "trivial_app.py").write_text(TRIVIAL_APP)
        ports = {"app": free_port(), "trivial": free_port()}
        logs = {name: open(folder / f"{name}.log", "w") for name in ports}  # noqa: SIM115
        servers = {
            "app": start("app.py", ROOT, ports["app"], logs["app"]),
            "trivial": start("trivial_app.py", folder, ports["trivial"], logs["trivial"]),
        }
        try:
            for name, process in servers.items():
                wait_healthy(f"http://127.0.0.1:{ports[name]}", process)
            pids = {name: process.pid for name, process in servers.items()}
            samples = asyncio.run(measure(ports, pids, args.rounds, args.changes))
            rss = {name: rss_mib(pid) for name, pid in pids.items()}
        finally:
            for process in servers.values():
                stop(process)
            for log in logs.values():
                log.close()
    load = os.getloadavg()[0]
    print(
        f"Server CPU per parameter change, {os.cpu_count()} CPUs, load average {load:.1f}: "
        f"medians of {args.rounds} interleaved blocks of {args.changes} changes"
    )
    print(f"{'page':<12} {'CPU ms':>8} {'vs trivial':>10} {'wall ms':>8} {'KiB sent':>9}")
    floor = statistics.median(samples["trivial"]["cpu"])
    for name, measured in samples.items():
        cpu = statistics.median(measured["cpu"])
        print(
            f"{name:<12} {cpu * 1000:>8.1f} {cpu / floor:>9.2f}x "
            f"{statistics.median(measured['wall']) * 1000:>8.1f} "
            f"{statistics.median(measured['bytes']) / 1024:>9.1f}"
        )
    print(f"server RSS at the end: app {rss['app']:.0f} MiB, trivial {rss['trivial']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
