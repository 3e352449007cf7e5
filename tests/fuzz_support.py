"""Shared pieces of the fuzz tests: hostile values, a hang guard and a memory-bounded runner.

`call_guarded` runs one call in a worker thread and fails the test if it does not return within
HANG_LIMIT_S (a hang detector, far above any legitimate call; not a speed assertion), or if it
raises anything but `ConfigError`. `assert_clear_error` checks the error names its parameter.
`run_bounded` runs a snippet in a fresh interpreter under an address-space limit, so an input
that would allocate gigabytes fails cleanly (MemoryError) instead of taking the machine down,
and reports the interpreter's peak resident memory.
"""

from __future__ import annotations

import ast
import fractions
import json
import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st
from tests_paths import ROOT

from core.errors import ConfigError

# A call that takes longer than this is treated as hung. Every legitimate call into core's
# geometry takes milliseconds; the limit is generous so that a loaded CI machine never trips it.
HANG_LIMIT_S = 10.0

# Longest message a ConfigError may carry: it is shown next to a widget or as one CLI line.
MAX_MESSAGE_CHARS = 2_000


def describe_call(fn: Callable, args: tuple, kwargs: dict) -> str:
    parts = [_short_repr(a) for a in args] + [f"{k}={_short_repr(v)}" for k, v in kwargs.items()]
    name = getattr(fn, "__qualname__", repr(fn))
    return f"{name}({', '.join(parts)})"


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def call_guarded(
    fn: Callable, *args: Any, limit_s: float = HANG_LIMIT_S, **kwargs: Any
) -> tuple[Any, ConfigError | None]:
    """(result, None) or (None, the ConfigError); fails the test on a hang (no return within
    `limit_s` seconds) or any other error."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # everything is reported below
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(limit_s)
    call = describe_call(fn, args, kwargs)
    if worker.is_alive():
        pytest.fail(f"{call} did not return within {limit_s:g} s (hang)")
    error = box.get("error")
    if error is None:
        return box.get("value"), None
    if not isinstance(error, ConfigError):
        raise AssertionError(
            f"{call} raised {type(error).__name__}: {error} (only ConfigError is allowed)"
        ) from error
    assert_clear_error(error, call)
    return None, error


# Words that name a parameter as well as its own spelling does.
SYNONYMS = {
    "ndim": ("spatial axes", "1d", "2d", "3d"),
    "upload": ("image", "file"),
    "layers": ("layer", "stack"),
    "text": ("paste",),
}


def _spellings(parameter: str) -> set[str]:
    base = re.sub(r"\[\d+\]$", "", parameter).lower()
    return {base, base.replace("_", " "), base.replace("_", "-"), *SYNONYMS.get(base, ())}


def assert_clear_error(error: ConfigError, call: str = "") -> None:
    """A ConfigError names a parameter, and its message is non-empty, bounded and names it."""
    parameter = getattr(error, "parameter", None)
    message = str(error)
    assert isinstance(parameter, str) and parameter.strip(), f"{call}: no parameter in {error!r}"
    assert message.strip(), f"{call}: empty message for parameter {parameter!r}"
    assert len(message) <= MAX_MESSAGE_CHARS, f"{call}: {len(message)}-character message"
    assert "Traceback" not in message, f"{call}: traceback in the message"
    located = re.match(r"line \d+, column \d+: \S", message)  # model-text errors point at text
    assert located or any(s in message.lower() for s in _spellings(parameter)), (
        f"{call}: message does not name its parameter {parameter!r}: {message!r}"
    )


# ----------------------------------------------------------------------------- strategies

HUGE_INTS = (2**62, -(2**62), 2**63, 2**64 + 1, -(2**63) - 1, 10**6, 10**9, 2**31, 10**100)
huge_ints = st.sampled_from(HUGE_INTS)
any_ints = st.one_of(st.integers(-3, 40), st.integers(), huge_ints)


junk_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([2.0, 0.5, -1.0, 1e300]),
    st.text(max_size=6),
    st.sampled_from(["4", " 4", "2**62", "nan", "", "\n", "\x00", "é", "🙂", "'; import os"]),
    st.binary(max_size=4),
    st.complex_numbers(max_magnitude=1e6),
    st.fractions(max_denominator=3),
    st.just(Decimal("4")),
    st.just(fractions.Fraction(7, 2)),
    st.just(object()),
    st.sampled_from([np.float64(2.0), np.int64(3), np.int8(-1), np.bool_(True), np.uint64(2**63)]),
)

junk_containers = st.one_of(
    st.lists(st.one_of(any_ints, junk_scalars), max_size=5),
    st.lists(st.one_of(any_ints, junk_scalars), max_size=5).map(tuple),
    st.lists(st.lists(st.integers(0, 4), max_size=3), max_size=3),  # nested
    st.dictionaries(st.text(max_size=3), st.integers(0, 4), max_size=2),
    st.sets(st.integers(0, 4), max_size=3),
    st.builds(range, st.sampled_from([0, 2, 3, 2**40])),
    st.builds(np.array, st.lists(st.integers(0, 5), max_size=3)),
    st.sampled_from([np.zeros((2, 2)), np.array(["a", "b"]), np.array([[1, 2]])]),
)

hostile = st.one_of(any_ints, junk_scalars, junk_containers)


def small_or(strategy: st.SearchStrategy, low: int = 0, high: int = 8) -> st.SearchStrategy:
    """Mostly plausible small ints (so later checks are reached), sometimes `strategy`."""
    return st.one_of(st.integers(low, high), st.integers(low, high), strategy)


# ----------------------------------------------------------------------------- memory bound

_PRELUDE = """
import json, resource, sys, tracemalloc
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
sys.path.insert(0, {root!r})


def _hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def report(**values):
    print("@@RESULT@@" + json.dumps(values, default=repr))
"""


def run_bounded(code: str, limit_bytes: int = 3 << 30, timeout: float = 120.0) -> dict:
    """Run `code` in a new interpreter capped at `limit_bytes` of address space.

    The snippet calls `report(**values)`; `_hwm()` gives the peak resident bytes so far. Returns
    the reported dict plus "returncode" and "stderr".
    """
    program = _PRELUDE.format(limit=int(limit_bytes), root=str(ROOT)) + textwrap.dedent(code)
    proc = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    result: dict = {"returncode": proc.returncode, "stderr": proc.stderr[-4000:]}
    for line in proc.stdout.splitlines():
        if line.startswith("@@RESULT@@"):
            result.update(json.loads(line.removeprefix("@@RESULT@@")))
    return result


# ----------------------------------------------------------------------------- the app


def app_page_files() -> list[str]:
    """The page files app.py routes to: the string arguments of its st.Page(...) calls."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    return [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "attr", getattr(node.func, "id", "")) == "Page"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ]
