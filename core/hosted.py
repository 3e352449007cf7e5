"""Bounds for the hosted demo: size caps and a one-heavy-run-per-process slot.

Plain Python (no torch, no Streamlit), so the page and `core.images` can read the caps and take
the slot without importing torch. `core.generator` re-exports the caps and enforces them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
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


def slot_busy() -> bool:
    """True while some thread holds the heavy-run slot (for a status line; may race)."""
    return bool(_HOLDER)
