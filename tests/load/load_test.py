"""Load test: N concurrent real users against `streamlit run app.py` on 127.0.0.1.

    python tests/load/load_test.py --users 20 [--port 0] [--time-limit 600] [--json out.json]

Starts the app on a free loopback port, opens ONE headless Chromium (Debian's /usr/bin/chromium,
driven by Playwright) with one browser context (an independent session) per user, and has every
user, concurrently:

1. open the Layer designer and change the kernel size three times, timing each change until the
   "Output (H × W)" metric shows the new size;
2. go to the Overlap page (sidebar link, same session) and change the stride twice, timing each
   change until that page's output metric shows the new size;
3. go to the Live generator, wait for the render at initialisation (its images), then switch to
   fit mode with a few steps and press Fit once; a "server busy" message (the one-heavy-run-at-a-
   time slot refusing a second run) is counted as a refusal and retried after a pause.

It reports errors (exception elements, failed loads, timeouts, error messages other than the
busy refusal), latency percentiles (p50/p95 of a parameter change to the updated output, per
page), the time to a first rendered page and a generator run, and the server's memory: the peak
of VmRSS summed over the server process and its children, sampled every 0.25 s from /proc, and
the server's own VmHWM. Exit status 0 when there were no errors, 1 otherwise.

Bounded in count and time: at most 40 users, a global time limit, a timeout on every wait. Only
127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "load"))
from browser_support import (  # noqa: E402
    CHROMIUM,
    free_port,
    launch,
    start_streamlit,
    stop_streamlit,
    wait_healthy,
)
from process_stats import (  # noqa: E402
    machine_cpu_seconds,
    percentile,
    process_tree,
    status_kib,
    total_cpu_seconds,
)

MAX_USERS = 40
HOST = "127.0.0.1"  # the only address contacted (browser_support serves the app there)
# Many browser contexts in one Chromium: shared memory in /tmp, not the small /dev/shm.
EXTRA_CHROMIUM_ARGS = ("--disable-dev-shm-usage",)

# What each user does; kept small so that 20 users finish in a few minutes on 2 cores.
DESIGNER_KERNELS = (4, 5, 3)  # kernel_size values set in turn on the designer
OVERLAP_STRIDES = (3, 2)  # stride values set in turn on the overlap page
FIT_STEPS = 5
BUSY_RETRIES = 200  # bounded by --time-limit in practice
BUSY_PAUSE_S = 2.0
BUSY_PATTERN = re.compile(r"busy", re.IGNORECASE)


# ----------------------------------------------------------------------------- server


class MemorySampler(threading.Thread):
    """Samples VmRSS of the server and its children; keeps the peak sum."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kib = 0
        self.samples = 0
        self.stop_event = threading.Event()
        self.server_cpu: dict[int, float] = {}  # pid -> last CPU seconds seen (server tree)
        self.client_cpu: dict[int, float] = {}  # pid -> last CPU seconds seen (browser tree)

    def run(self) -> None:
        while not self.stop_event.is_set():
            server = process_tree(self.pid)
            total = sum(status_kib(p, "VmRSS") or 0 for p in server)
            self.peak_kib = max(self.peak_kib, total)
            self.samples += 1
            for p in server:
                self.server_cpu[p] = total_cpu_seconds([p])
            for p in process_tree(os.getpid()):
                if p != os.getpid() and p not in self.server_cpu:
                    self.client_cpu[p] = total_cpu_seconds([p])
            self.stop_event.wait(self.interval)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=5)


# ----------------------------------------------------------------------------- users


@dataclass
class UserResult:
    user: int
    first_render_s: float | None = None
    designer_ms: list[float] = field(default_factory=list)
    overlap_ms: list[float] = field(default_factory=list)
    generator_render_s: float | None = None
    fit_s: float | None = None
    busy_refusals: int = 0
    errors: list[str] = field(default_factory=list)
    step: str = ""  # what the user is doing, named in the error if it fails


RUNNING = '[data-testid="stStatusWidgetRunningIcon"]'  # shown while a script run is going on


async def _idle(page, timeout_ms: float) -> None:
    """Wait until the page is not running a script."""
    await page.wait_for_function(f"() => !document.querySelector('{RUNNING}')", timeout=timeout_ms)


async def _after_action(page, timeout_ms: float) -> None:
    """Wait for the run an action triggers: its start (if seen within 3 s), then its end."""
    with contextlib.suppress(Exception):
        await page.locator(RUNNING).first.wait_for(state="attached", timeout=3000)
    await _idle(page, timeout_ms)


async def _metric(page, label: str) -> str | None:
    """The value of the st.metric whose label starts with `label`, or None."""
    return await page.evaluate(
        """(label) => {
            for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
                const l = m.querySelector('[data-testid="stMetricLabel"]');
                const v = m.querySelector('[data-testid="stMetricValue"]');
                if (l && v && l.innerText.trim().startsWith(label)) return v.innerText.trim();
            }
            return null;
        }""",
        label,
    )


async def _wait_metric_change(page, label: str, old: str | None, timeout_ms: float) -> str:
    await page.wait_for_function(
        """([label, old]) => {
            for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
                const l = m.querySelector('[data-testid="stMetricLabel"]');
                const v = m.querySelector('[data-testid="stMetricValue"]');
                if (l && v && l.innerText.trim().startsWith(label)) {
                    return v.innerText.trim() !== old;
                }
            }
            return false;
        }""",
        arg=[label, old],
        timeout=timeout_ms,
    )
    return await _metric(page, label)


async def _check_page(page, where: str, result: UserResult) -> None:
    """Record exception elements and error alerts (other than 'busy') shown on the page."""
    exceptions = await page.locator('[data-testid="stException"]').all_inner_texts()
    for text in exceptions:
        result.errors.append(f"{where}: exception element: {text[:300]}")
    alerts = await page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
    for text in alerts:
        if not BUSY_PATTERN.search(text):
            result.errors.append(f"{where}: error message: {text[:300]}")


async def _set_number(page, label: str, value: int) -> None:
    box = page.locator('[data-testid="stSidebar"]').get_by_label(label, exact=True)
    await box.fill(str(value))
    await box.press("Enter")


async def _time_changes(
    page, where: str, name: str, values: tuple[int, ...], timings: list[float], result, timeout_ms
) -> None:
    """Set the sidebar's `name` widget to each value in turn; time each change until the page's
    output metric shows the new size (ms, appended to `timings`), then check the page."""
    for value in values:
        result.step = f"{where}: {name} {value}"
        old = await _metric(page, "Output")
        start = time.perf_counter()
        await _set_number(page, f"{name} (px)", value)
        await _wait_metric_change(page, "Output", old, timeout_ms)
        timings.append((time.perf_counter() - start) * 1000)
        await _idle(page, timeout_ms)
        await _check_page(page, f"{where} {name}={value}", result)


async def run_user(browser, base_url: str, index: int, timeout_ms: float) -> UserResult:
    result = UserResult(index)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(timeout_ms)
    result.step = "designer: first render"
    try:
        # 1. Designer: first render, then kernel-size changes.
        start = time.perf_counter()
        await page.goto(base_url + "/", wait_until="domcontentloaded")
        await page.wait_for_function(
            """() => [...document.querySelectorAll('[data-testid="stMetricLabel"]')]
                .some(l => l.innerText.trim().startsWith('Output'))""",
            timeout=timeout_ms,
        )
        result.first_render_s = time.perf_counter() - start
        await _check_page(page, "designer load", result)
        kernels = DESIGNER_KERNELS
        await _time_changes(
            page, "designer", "kernel_size", kernels, result.designer_ms, result, timeout_ms
        )

        # 2. Overlap page in the same session.
        result.step = "overlap: open"
        await (
            page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Overlap").click()
        )
        await page.get_by_role("heading", name="Overlap").first.wait_for(timeout=timeout_ms)
        await page.wait_for_function(
            """() => [...document.querySelectorAll('[data-testid="stMetricLabel"]')]
                .some(l => l.innerText.trim().startsWith('Output'))""",
            timeout=timeout_ms,
        )
        await _idle(page, timeout_ms)
        await _check_page(page, "overlap load", result)
        await _time_changes(
            page, "overlap", "stride", OVERLAP_STRIDES, result.overlap_ms, result, timeout_ms
        )

        # 3. Live generator: render at initialisation, then one fit.
        result.step = "generator: render at init"
        start = time.perf_counter()
        await (
            page.locator('[data-testid="stSidebarNav"]')
            .get_by_role("link", name="Live generator")
            .click()
        )
        await page.get_by_role("heading", name="Live generator").first.wait_for()
        await _wait_generator_render(page, result, timeout_ms)
        result.generator_render_s = time.perf_counter() - start
        await _check_page(page, "generator render", result)
        result.step = "generator: fit"
        await _fit_once(page, result, timeout_ms)
        await _check_page(page, "generator fit", result)
    except Exception as exc:  # every failure is one reported error
        message = str(exc).splitlines()[0][:300] if str(exc) else ""
        result.errors.append(f"{result.step}: {type(exc).__name__}: {message}")
    finally:
        with contextlib.suppress(Exception):
            await context.close()
    return result


async def _busy_shown(page) -> bool:
    texts = await page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
    return any(BUSY_PATTERN.search(t) for t in texts)


async def _wait_generator_render(page, result: UserResult, timeout_ms: float) -> None:
    """Wait for the init render's images; a busy refusal is retried by rerunning the page."""
    images = page.locator('[data-testid="stMain"] [data-testid="stImage"] img')
    await _after_action(page, timeout_ms)
    for _ in range(BUSY_RETRIES):
        if await images.count():
            return
        if not await _busy_shown(page):
            await images.first.wait_for(timeout=timeout_ms)
            return
        result.busy_refusals += 1
        await asyncio.sleep(BUSY_PAUSE_S)
        await page.locator("body").press("r")  # Streamlit's rerun shortcut
        await _after_action(page, timeout_ms)
    raise TimeoutError("the generator stayed busy for every retry")


async def _fit_once(page, result: UserResult, timeout_ms: float) -> None:
    await page.get_by_text("Fit a target image", exact=True).click()
    await _after_action(page, timeout_ms)
    steps = page.locator('[data-testid="stMain"]').get_by_label("Steps", exact=True)
    await steps.fill(str(FIT_STEPS))
    await steps.press("Enter")
    await _after_action(page, timeout_ms)
    for _ in range(BUSY_RETRIES):
        start = time.perf_counter()
        await page.get_by_role("button", name="Fit").click()
        await _after_action(page, timeout_ms)
        if not await _busy_shown(page):
            # The run may not have started within _after_action's 3 s on a loaded machine:
            # wait for its outcome (a busy message left from a previous try only costs a retry).
            await page.wait_for_function(
                """() => {
                    const main = document.querySelector('[data-testid="stMain"]');
                    return /Done in/.test(main ? main.innerText : '')
                        || [...document.querySelectorAll('[data-testid="stAlertContentError"]')]
                            .some(a => /busy/i.test(a.innerText))
                        || document.querySelector('[data-testid="stException"]');
                }""",
                timeout=timeout_ms,
            )
            await _idle(page, timeout_ms)
        if await _busy_shown(page):
            result.busy_refusals += 1
            await asyncio.sleep(BUSY_PAUSE_S)
            continue
        main = await page.locator('[data-testid="stMain"]').inner_text()
        if "Done in" not in main:
            raise RuntimeError("the fit ended without 'Done in' or a busy message")
        result.fit_s = time.perf_counter() - start
        return
    raise TimeoutError("the fit stayed busy for every retry")


async def run_users(base_url: str, users: int, timeout_ms: float, ramp_s: float):
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await launch(playwright, EXTRA_CHROMIUM_ARGS)
        try:

            async def staggered(i: int) -> UserResult:
                await asyncio.sleep(ramp_s * i / max(users, 1))
                return await run_user(browser, base_url, i, timeout_ms)

            return await asyncio.gather(*(staggered(i) for i in range(users)))
        finally:
            await browser.close()


# ----------------------------------------------------------------------------- report


def summarise(
    results: list[UserResult], peak_kib: int, hwm_kib: int, seconds: float, cpu: dict
) -> dict:
    def stats(values: list[float]) -> dict:
        return {
            "n": len(values),
            "p50": percentile(values, 0.5),
            "p95": percentile(values, 0.95),
            "max": max(values) if values else None,
        }

    errors = [f"user {r.user}: {e}" for r in results for e in r.errors]
    return {
        "users": len(results),
        "errors": len(errors),
        "error_list": errors,
        "designer_change_ms": stats([v for r in results for v in r.designer_ms]),
        "overlap_change_ms": stats([v for r in results for v in r.overlap_ms]),
        "first_render_s": stats([r.first_render_s for r in results if r.first_render_s]),
        "generator_render_s": stats(
            [r.generator_render_s for r in results if r.generator_render_s]
        ),
        "fit_s": stats([r.fit_s for r in results if r.fit_s]),
        "busy_refusals": sum(r.busy_refusals for r in results),
        "server_peak_rss_mib": round(peak_kib / 1024, 1),
        "server_vmhwm_mib": round(hwm_kib / 1024, 1),
        "wall_s": round(seconds, 1),
        "cpus": os.cpu_count(),
        **{key: round(value, 1) for key, value in cpu.items()},
    }


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} {unit}" if unit == "ms" else f"{value:.1f} {unit}"


def print_report(summary: dict) -> None:
    print(f"users: {summary['users']}   errors: {summary['errors']}   wall: {summary['wall_s']} s")
    for key, unit in (
        ("designer_change_ms", "ms"),
        ("overlap_change_ms", "ms"),
        ("first_render_s", "s"),
        ("generator_render_s", "s"),
        ("fit_s", "s"),
    ):
        s = summary[key]
        print(
            f"  {key:<20} n={s['n']:<3} p50 {_fmt(s['p50'], unit):>9}   "
            f"p95 {_fmt(s['p95'], unit):>9}   max {_fmt(s['max'], unit):>9}"
        )
    print(f"  busy refusals (retried): {summary['busy_refusals']}")
    print(
        f"  CPU seconds during the run: server {summary['server_cpu_s']}, browser "
        f"{summary['browser_cpu_s']}, whole machine {summary['machine_cpu_s']} "
        f"(of {summary['cpus']} x {summary['wall_s']} s available; the rest is other processes)"
    )
    print(
        f"  server peak RSS (server + children, sampled): {summary['server_peak_rss_mib']} MiB;"
        f" server VmHWM: {summary['server_vmhwm_mib']} MiB"
    )
    for line in summary["error_list"][:40]:
        print(f"  ERROR {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=3)
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds, whole run")
    parser.add_argument("--step-timeout", type=float, default=120.0, help="seconds per wait")
    parser.add_argument("--ramp", type=float, default=2.0, help="seconds to start all users")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args(argv)
    if not 1 <= args.users <= MAX_USERS:
        parser.error(f"--users must be between 1 and {MAX_USERS}")
    if not CHROMIUM.exists():
        parser.error(f"{CHROMIUM} is missing (apt-get install chromium)")

    port = args.port or free_port()
    log_path = Path(tempfile.gettempdir()) / f"deconv_load_{port}.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed after the server stops
    server = start_streamlit(port, log)
    sampler = None
    try:
        wait_healthy(f"http://{HOST}:{port}", server, timeout=90.0)
        sampler = MemorySampler(server.pid)
        sampler.start()
        machine_start = machine_cpu_seconds()
        server_start = total_cpu_seconds(process_tree(server.pid))
        start = time.perf_counter()
        results = asyncio.run(
            asyncio.wait_for(
                run_users(f"http://{HOST}:{port}", args.users, args.step_timeout * 1000, args.ramp),
                timeout=args.time_limit,
            )
        )
        seconds = time.perf_counter() - start
        hwm = status_kib(server.pid, "VmHWM") or 0
        cpu = {
            "server_cpu_s": sum(sampler.server_cpu.values()) - server_start,
            "browser_cpu_s": sum(sampler.client_cpu.values()),
            "machine_cpu_s": machine_cpu_seconds() - machine_start,
        }
    finally:
        if sampler is not None:
            sampler.stop()
        stop_streamlit(server)
        log.close()
    summary = summarise(results, sampler.peak_kib, hwm, seconds, cpu)
    summary["server_log"] = str(log_path)
    print_report(summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0 if summary["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
