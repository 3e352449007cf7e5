"""Helpers for the AppTest suites: open a page of the app, read what it shows, run its code."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from streamlit.testing.v1 import AppTest
from tests_paths import ROOT

from core.hosted import heavy_run_slot
from core.limits import ENV_VAR

APP = ROOT / "app.py"
TIMEOUT = 60  # seconds per script run: generous for a loaded 2-core CI machine


def open_page(page: str = "designer", query: Mapping[str, str] | None = None) -> AppTest:
    """Run the app on `page` (a file stem in pages/), starting from a URL with `query`."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(dict(query or {}))
    if page != "designer":
        at.switch_page(f"pages/{page}.py")
    return at.run()


def assert_clean(at: AppTest) -> None:
    """No exception element anywhere on the page."""
    assert not at.exception, [e.value for e in at.exception]


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def plotly_figures(at: AppTest) -> list[dict[str, Any]]:
    """The plotly figures on the page, as the JSON dicts Streamlit sends to the browser."""
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def plotly_array(value: Any) -> np.ndarray:
    """A figure's data array as plotly serialises it: a list, or a base64 typed array."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape is None:
            return flat
        dims = [int(v) for v in str(shape).split(",")] if isinstance(shape, str) else shape
        return flat.reshape(dims)
    return np.asarray(value)


def run_snippet(code: str) -> dict[str, Any]:
    """Execute a generated, self-contained snippet and return its namespace."""
    namespace: dict[str, Any] = {"__name__": "snippet"}
    exec(compile(code, "<snippet>", "exec"), namespace)  # our own generated code
    return namespace


def forward_shape(module: torch.nn.Module, in_channels: int, size: tuple[int, int]) -> tuple:
    """Spatial output size of `module` on a (1, C, H, W) input."""
    with torch.no_grad():
        return tuple(module(torch.zeros(1, in_channels, *size)).shape[-2:])


@contextlib.contextmanager
def another_session_holds_the_slot(
    owner: str | None = None, release_after: float | None = None
) -> Iterator[None]:
    """Hold the one-heavy-run slot in another thread, as session `owner` would, for the body (or
    until `release_after` seconds have passed, if given)."""
    holding, release = threading.Event(), threading.Event()

    def other_session() -> None:
        with heavy_run_slot(owner=owner):
            holding.set()
            release.wait(30 if release_after is None else release_after)

    thread = threading.Thread(target=other_session)
    thread.start()
    try:
        assert holding.wait(10)
        yield
    finally:
        release.set()
        thread.join()


def run_under_limits(script: str, setting: str | None) -> str:
    """Run `script` (python -c) in a fresh interpreter whose DECONV_LAB_LIMITS is `setting`
    (None: unset), from the project root; its stdout. The limits are read once, at import, so a
    test of another setting needs its own interpreter."""
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    if setting is not None:
        env[ENV_VAR] = setting
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout
