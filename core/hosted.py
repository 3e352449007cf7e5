"""Bounds for the hosted demo: size caps, a time budget per fit and a one-heavy-run slot.

Plain Python (no torch, no Streamlit), so the page and `core.generator.images` can read the caps
and take the slot without importing torch. `core.generator` re-exports the caps and enforces them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from core.errors import ConfigError

# Hosted-demo caps: every live-generator request is checked against these before any work.
MAX_RESOLUTION = 256  # output image side, pixels
MAX_BATCH = 16  # images rendered at once
MAX_CHANNELS = 256  # channels of any generator layer
MAX_STEPS = 500  # fit-mode optimisation steps
MAX_STAGES = 6  # upsampling stages after the 4x4 start
MAX_LATENT_DIM = 512  # length of the latent vector
MAX_KERNEL = 11  # kernel side of any upsampling or resize convolution
# Wall-clock seconds one fit may run (and so hold the heavy-run slot, refusing other fits): the
# caps above still allow a fit of several minutes on one CPU thread (6 stages, 256 channels,
# 500 steps), so the page stops a fit at this budget and shows the steps it managed.
FIT_TIME_BUDGET_S = 30.0
MAX_TIME_BUDGET_S = 3600.0  # the largest budget a caller may ask for

# One heavy run (render or fit) at a time per process. Re-entrant, so a page that wraps a call
# that itself takes the slot does not deadlock against itself on the same thread.
_SLOT = threading.RLock()
_HOLDER: list[int] = []  # thread ids currently inside the slot (nesting depth by repetition)


class BusyError(ConfigError):
    """Another heavy run holds the slot; the message tells the user to try again."""


@contextmanager
def heavy_run_slot(timeout: float = 0.0) -> Iterator[float]:
    """Hold the process-wide heavy-run slot for the `with` block; yields the seconds waited.

    `timeout` is how long to wait for a run in another thread to finish (0: do not wait).
    Raises `BusyError` (a `ConfigError`, parameter "run") when the slot stays taken.
    """
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 <= timeout <= threading.TIMEOUT_MAX  # inf would overflow Lock.acquire
    ):
        raise ConfigError(
            "timeout",
            f"timeout must be a number of seconds from 0 to {threading.TIMEOUT_MAX:g}, "
            f"got {timeout!r}",
        )
    start = time.monotonic()
    acquired = _SLOT.acquire(timeout=float(timeout)) if timeout > 0 else _SLOT.acquire(False)
    if not acquired:
        waited = f" after waiting {timeout:g} s" if timeout > 0 else ""
        raise BusyError(
            "run",
            f"the server is busy with another generator run{waited}: try again in a few seconds",
        )
    _HOLDER.append(threading.get_ident())
    try:
        yield time.monotonic() - start
    finally:
        _HOLDER.pop()
        _SLOT.release()


class TimeBudget:
    """A wall-clock budget for one run, checked by the run between blocks of work.

    `seconds`: the budget (a positive number up to MAX_TIME_BUDGET_S), or None for no limit.
    The clock starts at construction. `allows(next_block_s)` says whether a block of work
    expected to take `next_block_s` more seconds still ends within the budget; the run stops
    before a block that would not, so it ends within the budget up to the estimate's error.
    """

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        if seconds is not None and (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not math.isfinite(seconds)
            or not 0 < seconds <= MAX_TIME_BUDGET_S
        ):
            raise ConfigError(
                "time_budget",
                f"time_budget must be None or a number of seconds in (0, {MAX_TIME_BUDGET_S:g}], "
                f"got {seconds!r}",
            )
        self.seconds = None if seconds is None else float(seconds)
        self._clock = clock
        self._start = clock()

    @property
    def elapsed(self) -> float:
        """Seconds since the budget started."""
        return self._clock() - self._start

    @property
    def remaining(self) -> float:
        """Seconds left (inf without a limit; never below 0)."""
        return math.inf if self.seconds is None else max(0.0, self.seconds - self.elapsed)

    def allows(self, next_block_s: float = 0.0) -> bool:
        """True when a block expected to take `next_block_s` seconds ends within the budget."""
        if self.seconds is None:
            return True
        return self.elapsed + max(0.0, float(next_block_s)) <= self.seconds


def slot_busy() -> bool:
    """True while some thread holds the heavy-run slot (for a status line; may race)."""
    return bool(_HOLDER)
