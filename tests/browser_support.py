"""Drive the real app in headless Chromium: start `streamlit run` on a free port, open pages,
wait for reruns and charts. Shared by tests/test_browser.py, tests/test_load_smoke.py,
tests/load/load_test.py, bench/bench_browser.py and docs/screenshots/make_screenshots.py."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGES = {  # url path -> the page's title
    "": "Layer designer",
    "overlap": "Overlap",
    "generator": "Live generator",
    "solver": "Size solver",
    "presets": "Presets",
    "converter": "Model converter",
}
EXCEPTION = '[data-testid="stException"]'
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'

# True once every plotly chart on the page has drawn and no element is still a skeleton.
_SETTLED_JS = """() => {
    if (document.querySelector('[data-testid="stSkeleton"]')) return false;
    const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]');
    return Array.from(charts).every(c => c.querySelector('.main-svg'));
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def streamlit_command(port: int) -> list[str]:
    """`streamlit run app.py` headless on 127.0.0.1:`port`, no file watcher, no usage stats."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]


def start_streamlit(port: int, log: Any = subprocess.DEVNULL) -> subprocess.Popen:
    """`streamlit run app.py` on 127.0.0.1:`port` in a session of its own (so that
    `stop_streamlit` ends it and anything it started), output to the open file `log`."""
    return subprocess.Popen(
        streamlit_command(port),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_healthy(base: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    """Wait until the server at `base` answers its health check; RuntimeError if it exits or
    does not answer within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as reply:
                if reply.read().strip() == b"ok":
                    return
        except OSError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"streamlit did not answer at {base} within {timeout:g} s")
        time.sleep(0.2)


def stop_streamlit(process: subprocess.Popen) -> None:
    """End the session `start_streamlit` started: SIGTERM, then SIGKILL after 15 s."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(15)


@contextlib.contextmanager
def streamlit_server(timeout: float = 60.0) -> Iterator[str]:
    """`streamlit run app.py` on a free localhost port; yields its base URL, stops it after."""
    port = free_port()
    process = start_streamlit(port)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, timeout)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_streamlit(process)


def require_chromium() -> None:
    """Skip the calling test where Debian's Chromium is missing; fail instead under
    DECONV_REQUIRE_BROWSER=1 (CI), where a missing browser must not pass silently."""
    import pytest

    if CHROMIUM.exists():
        return
    message = f"Debian chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("DECONV_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message}, and DECONV_REQUIRE_BROWSER=1")
    pytest.skip(message)


def launch(playwright: Any, extra_args: tuple[str, ...] = ()) -> Any:
    """Headless Debian Chromium with the flags a sandboxed CI machine needs (with Playwright's
    async API, await the result)."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *extra_args]
    )


def wait_settled(page: Any, timeout_ms: float = 60_000) -> None:
    """Wait for the current script run to finish and every chart to draw."""
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    page.wait_for_function(_SETTLED_JS, timeout=timeout_ms)


def wait_query(page: Any, key: str, value: str, timeout_ms: float = 60_000) -> None:
    """Wait until the address bar's query has key=value (written at the end of a run)."""
    page.wait_for_function(
        "([k, v]) => new URLSearchParams(window.location.search).get(k) === v",
        arg=[key, value],
        timeout=timeout_ms,
    )


def open_page(page: Any, base: str, path: str = "", query: str = "") -> None:
    page.goto(f"{base}/{path}" + (f"?{query}" if query else ""))
    page.get_by_role("heading", name=PAGES[path], level=1).wait_for(timeout=60_000)
    wait_settled(page)


def set_number(page: Any, label: str, value: int) -> None:
    """Type a value into the number input with this label and commit it (Enter)."""
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")


def chart_shape(page: Any, index: int = 0) -> list[int] | None:
    """[rows, columns] of the first trace of the index-th plotly chart, as drawn in the browser
    (read from plotly's full data, where typed arrays are already decoded)."""
    return page.evaluate(
        """(i) => {
            const charts = '[data-testid="stPlotlyChart"] .js-plotly-plot';
            const gd = document.querySelectorAll(charts)[i];
            if (!gd || !gd._fullData || !gd._fullData.length) return null;
            const t = gd._fullData[0];
            return [t.y ? t.y.length : 0, t.x ? t.x.length : 0];
        }""",
        index,
    )


def wait_chart_shape(page: Any, shape: list[int], index: int = 0, timeout_ms: float = 60_000):
    """Wait until the index-th chart is drawn with `shape` = [rows, columns]."""
    page.wait_for_function(
        """([i, rows, cols]) => {
            const charts = '[data-testid="stPlotlyChart"] .js-plotly-plot';
            const gd = document.querySelectorAll(charts)[i];
            if (!gd || !gd._fullData || !gd._fullData.length) return false;
            const t = gd._fullData[0];
            return t.y && t.x && t.y.length === rows && t.x.length === cols;
        }""",
        arg=[index, *shape],
        timeout=timeout_ms,
    )
