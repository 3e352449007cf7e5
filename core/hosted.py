"""Bounds for the hosted demo: size caps, a time budget per fit, a one-heavy-run slot granted in
arrival order, and giving memory back.

Plain Python (no torch, no Streamlit), so the page and `core.generator.images` can read the caps
and take the slot without importing torch. `core.generator` re-exports the caps and enforces them.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import hashlib
import math
import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

from core.bounded_cache import BoundedCache, deep_sizeof
from core.errors import ConfigError
from core.limits import Limit, limits_mode

V = TypeVar("V")

# The live generator's caps: every request is checked against these before any work. Small on
# the hosted demo; `DECONV_LAB_LIMITS=local` (core.limits) raises them on a machine of your own.
MODE = limits_mode()
GENERATOR_LIMITS = {
    "resolution": Limit("the generated image's side", 256, 1024, " px"),
    "batch": Limit("the images rendered at once", 16, 64),
    "channels": Limit("the generator's channels", 256, 1024),
    "steps": Limit("a fit's steps", 500, 5000),
    "stages": Limit("the generator's upsampling stages", 6, 8),
    "latent": Limit("the latent vector's length", 512, 2048),
    "kernel": Limit("the generator's kernel side", 11, 31, " px"),
    # Wall-clock seconds one fit may run (and so hold the heavy-run slot): the other caps still
    # allow fits of several minutes on one CPU thread, so a fit stops at this budget.
    "fit_seconds": Limit("the time one fit may run", 30, 600, " s"),
    # Estimated activation memory of one variant's forward (renders) or forward + backward
    # (fits), from `GeneratorConfig.activation_bytes`: the caps above, all at their largest,
    # would otherwise ask for tens of GiB under the local limits.
    "activation_mib": Limit("the activation memory one run may take", 1024, 8192, " MiB"),
}
MAX_RESOLUTION = GENERATOR_LIMITS["resolution"].value(MODE)  # output image side, pixels
MAX_BATCH = GENERATOR_LIMITS["batch"].value(MODE)  # images rendered at once
MAX_CHANNELS = GENERATOR_LIMITS["channels"].value(MODE)  # channels of any generator layer
MAX_STEPS = GENERATOR_LIMITS["steps"].value(MODE)  # fit-mode optimisation steps
MAX_STAGES = GENERATOR_LIMITS["stages"].value(MODE)  # upsampling stages after the 4x4 start
MAX_LATENT_DIM = GENERATOR_LIMITS["latent"].value(MODE)  # length of the latent vector
MAX_KERNEL = GENERATOR_LIMITS["kernel"].value(MODE)  # kernel side of any upsampling conv
FIT_TIME_BUDGET_S = float(GENERATOR_LIMITS["fit_seconds"].value(MODE))
MAX_ACTIVATION_BYTES = GENERATOR_LIMITS["activation_mib"].value(MODE) * 2**20


def cap_note(key: str) -> str:
    """Which generator cap `key` is and how to raise it, in plain words (`core.limits`)."""
    return GENERATOR_LIMITS[key].explain(MODE)


MAX_TIME_BUDGET_S = 3600.0  # the largest budget a caller may ask for

# One heavy run (render or fit) at a time per process, in arrival order (`HeavyQueue`): a run
# waits in line for the slot, at most `MAX_WAITING` runs wait at once, and a session (an owner)
# has at most one run queued or running.
MAX_WAITING = 8
WAIT_POLL_S = 0.5  # how often a waiting run wakes (to report its place, or to be stopped)
# How long a waiting run's place is held for its owner after its wait was interrupted by an
# exception (in Streamlit: the session's rerun stops the script run waiting in line, and the
# rerun starts in the same thread only after that run has exited). The rerun's request within
# this time takes the place over; unclaimed, the place is dropped after it, or as soon as it
# reaches the head of the line with the slot free, so a held place never stalls the line.
HOLD_FOR_OWNER_S = 5.0
# How long a run waiting in line outlasts one capped fit holding the slot: the fit stops at its
# budget up to one block of steps (`TimeBudget.allows`), then builds its result.
FIT_OVERRUN_S = 10.0
ONE_RUN_WAIT_S = FIT_TIME_BUDGET_S + FIT_OVERRUN_S


class BusyError(ConfigError):
    """The slot stayed taken (or the line is full); the message tells the user to try again."""


class AlreadyQueuedError(BusyError):
    """The owner already has a run queued or running: runs of one owner never stack."""


class _Ticket:
    """One request for the slot: who asked, from which thread; `held_until`: the monotonic time
    until which an interrupted request's place is held for its owner (None: someone waits)."""

    __slots__ = ("held_until", "owner", "superseded", "thread")

    def __init__(self, owner: Hashable | None) -> None:
        self.owner = owner
        self.thread = threading.get_ident()
        self.superseded = False
        self.held_until: float | None = None


def _check_timeout(timeout: object) -> float:
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 <= timeout <= threading.TIMEOUT_MAX  # inf would overflow a wait
    ):
        raise ConfigError(
            "timeout",
            f"timeout must be a number of seconds from 0 to {threading.TIMEOUT_MAX:g}, "
            f"got {timeout!r}",
        )
    return float(timeout)


def _runs(n: int) -> str:
    return f"{n} run{'s' if n != 1 else ''}"


class HeavyQueue:
    """A slot for one heavy run at a time, granted in arrival order (first come, first served).

    - A request joins the end of the line; the slot goes to the head of the line when the
      running run ends. A session whose run just ended and that asks again lines up behind
      everyone already waiting: nobody takes the slot twice while another waits.
    - `owner` (e.g. a session id) has at most one ticket waiting. A request while the owner's
      run is running is refused (`AlreadyQueuedError`: runs never stack), unless it asks
      `wait_for_own` (an automatic run, such as a render after a setting changed: a session's
      rerun ends its previous script run, so the run still holding the slot is one the page
      no longer shows): then it lines up behind everyone like any other. A request while the
      owner's ticket is waiting takes that ticket over, keeping its place in line: the newer
      request (a rerun of the same page) replaces the older one, whose wait ends with
      `AlreadyQueuedError`.
    - A wait interrupted by an exception (raised by `on_wait`: in Streamlit, the session's
      rerun stopping the script run that waits) does not give up the owner's place at once:
      the place is held for `hold_s` seconds, and the owner's next request (the rerun, in the
      same thread once the stopped run has exited) takes it over, keeping its place as above.
      A held place nobody claims is dropped after `hold_s`, or as soon as it reaches the head
      of the line while the slot is free: the slot then goes straight to the next waiter.
      A wait that times out, a superseded one, and one without an owner leave the line.
    - At most `max_waiting` requests wait at once (held places included); more are refused
      (`BusyError`).
    - Re-entrant: the thread that holds the slot may take it again (nested), without waiting.

    Args:
        max_waiting: how many requests may wait in line at once.
        hold_s: how long an interrupted owner's place is held (`HOLD_FOR_OWNER_S`).
    """

    def __init__(self, max_waiting: int = MAX_WAITING, hold_s: float = HOLD_FOR_OWNER_S) -> None:
        self.max_waiting = max_waiting
        self.hold_s = hold_s
        self._cond = threading.Condition()
        self._waiting: list[_Ticket] = []
        self._running: _Ticket | None = None
        self._depth = 0
        self._finished = 0

    # ------------------------------------------------------------------------- state

    def busy(self) -> bool:
        """True while a run holds the slot (for a status line; may race)."""
        return self._running is not None

    def waiting(self) -> int:
        """How many runs wait in line now (places held for their owners included).

        Returns:
            The length of the line.
        """
        with self._cond:
            self._prune()
            return len(self._waiting)

    def finished(self) -> int:
        """How many runs have held and released the slot since the process started."""
        return self._finished

    def position(self, owner: Hashable) -> int | None:
        """Runs ahead of `owner`'s ticket (0: it is running or next), or None without one.

        Args:
            owner: who asks (a session id).

        Returns:
            The number of runs ahead (the running one and held places included), or None.
        """
        with self._cond:
            self._prune()
            if self._running is not None and self._running.owner == owner:
                return 0
            for index, ticket in enumerate(self._waiting):
                if ticket.owner == owner:
                    return index + (self._running is not None)
        return None

    # ------------------------------------------------------------------------- the slot

    def _prune(self) -> None:
        """Drop held places whose time has passed, and those at the head of the line while the
        slot is free (nobody claimed them in time); lock held."""
        now = time.monotonic()
        kept = [t for t in self._waiting if t.held_until is None or t.held_until > now]
        while kept and self._running is None and kept[0].held_until is not None:
            kept.pop(0)
        if len(kept) != len(self._waiting):
            self._waiting[:] = kept
            self._cond.notify_all()

    def _hold(self, ticket: _Ticket) -> None:
        """Keep an interrupted ticket's place for its owner for `hold_s` seconds (a ticket
        without an owner, or one no longer in line, simply leaves); lock held."""
        if ticket.owner is None or ticket not in self._waiting:
            self._leave(ticket)
            return
        ticket.held_until = time.monotonic() + self.hold_s
        self._prune()

    def _ready(self, ticket: _Ticket) -> bool:
        """The slot is free and `ticket` is first in line (held places at the head dropped);
        lock held."""
        self._prune()
        return self._running is None and bool(self._waiting) and self._waiting[0] is ticket

    def _ahead(self, ticket: _Ticket) -> int:
        return self._waiting.index(ticket) + (self._running is not None)

    def _join(self, owner: Hashable | None, wait_for_own: bool) -> _Ticket:
        """A ticket for `owner` in the line (taking over the owner's waiting or held one); lock
        held."""
        self._prune()
        ticket = _Ticket(owner)
        if owner is not None:
            running = self._running is not None and self._running.owner == owner
            if running and not wait_for_own:
                raise AlreadyQueuedError(
                    "run",
                    "your previous generator run is still running: wait for it to end, then "
                    "press the button again (one run per session at a time)",
                )
            for index, old in enumerate(self._waiting):
                if old.owner == owner:
                    old.superseded = True
                    self._waiting[index] = ticket
                    self._cond.notify_all()
                    return ticket
        if len(self._waiting) >= self.max_waiting:
            raise BusyError(
                "run",
                f"the server is busy: {_runs(len(self._waiting))} already wait for the "
                "generator: try again in a minute",
            )
        self._waiting.append(ticket)
        return ticket

    def _leave(self, ticket: _Ticket) -> None:
        """Take a waiting ticket out of the line; lock held."""
        if ticket in self._waiting:
            self._waiting.remove(ticket)
            self._cond.notify_all()

    def acquire(
        self,
        timeout: float = 0.0,
        owner: Hashable | None = None,
        on_wait: Callable[[int, float], None] | None = None,
        wait_for_own: bool = False,
    ) -> float:
        """Wait in line for the slot, up to `timeout` seconds; return the seconds waited.

        `on_wait(ahead, waited)` is called (outside the lock, in the waiting thread) before the
        first wait and then at least every `WAIT_POLL_S` seconds while waiting: `ahead` is the
        number of runs before this one (the running one included). An exception it raises
        (e.g. the page being stopped by a rerun) propagates; with an `owner`, the ticket's place
        is held for the owner's next request for `hold_s` seconds (see the class), else it
        leaves the line.

        Args:
            timeout: seconds to wait in line at most (0: do not wait).
            owner: who asks (a session id): an owner's runs never stack.
            on_wait: called while waiting, e.g. to show the place in line.
            wait_for_own: line up behind the owner's running run instead of being refused.

        Returns:
            The seconds waited.

        Raises:
            BusyError: the slot stayed taken for `timeout` seconds, or the line is full.
            AlreadyQueuedError: the owner's run is running (without `wait_for_own`), or a newer
                request of the owner took this one's place.
        """
        timeout = _check_timeout(timeout)
        start = time.monotonic()
        me = threading.get_ident()
        with self._cond:
            if self._running is not None and self._running.thread == me:
                self._depth += 1  # nested in the same thread's run
                return 0.0
            ticket = self._join(owner, wait_for_own)
        try:
            while True:
                with self._cond:
                    if ticket.superseded:
                        raise AlreadyQueuedError(
                            "run",
                            "a newer request from this session took this run's place in line",
                        )
                    if self._ready(ticket):
                        self._waiting.pop(0)
                        self._running, self._depth = ticket, 1
                        return time.monotonic() - start
                    waited = time.monotonic() - start
                    ahead = self._ahead(ticket)
                    if waited >= timeout:
                        self._leave(ticket)
                        after = f" after waiting {timeout:g} s" if timeout > 0 else ""
                        raise BusyError(
                            "run",
                            f"the server is busy with another generator run{after} "
                            f"({_runs(ahead)} ahead of yours): try again in a few seconds",
                        )
                    if on_wait is None:
                        self._cond.wait(min(WAIT_POLL_S, timeout - waited))
                        continue
                on_wait(ahead, waited)  # outside the lock: it may draw, or be stopped
                with self._cond:
                    if not (ticket.superseded or self._ready(ticket)):
                        left = timeout - (time.monotonic() - start)
                        self._cond.wait(max(0.0, min(WAIT_POLL_S, left)))
        except BaseException:
            with self._cond:
                # A timeout or a superseded request is already out of the line; an interrupted
                # wait keeps its place for its owner's rerun.
                self._hold(ticket)
            raise

    def release(self) -> None:
        """End the calling thread's hold on the slot (the outermost one frees it)."""
        with self._cond:
            if self._running is None or self._running.thread != threading.get_ident():
                raise RuntimeError("release() by a thread that does not hold the heavy-run slot")
            self._depth -= 1
            if self._depth == 0:
                self._running = None
                self._finished += 1
                self._cond.notify_all()

    @contextmanager
    def slot(
        self,
        timeout: float = 0.0,
        owner: Hashable | None = None,
        on_wait: Callable[[int, float], None] | None = None,
        wait_for_own: bool = False,
    ) -> Iterator[float]:
        """`acquire` for the `with` block, `release` after it; yields the seconds waited."""
        waited = self.acquire(timeout, owner, on_wait, wait_for_own)
        try:
            yield waited
        finally:
            self.release()


HEAVY_QUEUE = HeavyQueue()


def heavy_run_slot(
    timeout: float = 0.0,
    *,
    owner: Hashable | None = None,
    on_wait: Callable[[int, float], None] | None = None,
    wait_for_own: bool = False,
) -> AbstractContextManager[float]:
    """Hold the process-wide heavy-run slot for the `with` block; yields the seconds waited.

    The slot is granted in arrival order (`HeavyQueue`): one render or fit runs at a time.

    Args:
        timeout: how long to wait in line, in seconds (0: do not wait).
        owner: who asks (e.g. a session id): an owner's runs never stack.
        on_wait: `on_wait(ahead, waited)`, called while waiting, e.g. to show the place in line.
        wait_for_own: line up behind the owner's running run instead of being refused.

    Returns:
        A context manager that holds the slot for its `with` block and yields the seconds
        waited in line.

    Raises:
        BusyError: (a `ConfigError`, parameter "run") when the slot stays taken or the line is
            full.
        AlreadyQueuedError: (a `BusyError`) when the owner already has a run running.

    Example:
        >>> with heavy_run_slot(owner="example") as waited:  # the slot is free: no wait
        ...     print(f"waited {waited:.0f} s; busy now: {slot_busy()}")
        waited 0 s; busy now: True
        >>> slot_busy()  # released when the block ends
        False
    """
    return HEAVY_QUEUE.slot(timeout, owner, on_wait, wait_for_own)


# Decoded uploads, shared by all sessions: a file attached to the page is decoded once, not on
# every rerun. Keyed by the file's SHA-256 and the decoding's arguments; bounded by bytes.
UPLOAD_CACHE_BYTES = 16 * 2**20
_DECODED: BoundedCache[Any] = BoundedCache(UPLOAD_CACHE_BYTES, deep_sizeof)


def decoded_once(data: bytes, decode: Callable[..., V], *args: Hashable) -> V:
    """`decode(data, *args)`, run once per file content and arguments (errors are not kept)."""
    digest = hashlib.sha256(data).hexdigest() if isinstance(data, (bytes, bytearray)) else None
    if digest is None:
        return decode(data, *args)
    key = (digest, decode.__module__, decode.__qualname__, args)
    return _DECODED.get_or_make(key, lambda: decode(data, *args))


def release_memory() -> None:
    """Collect garbage and hand the C heap's free pages back to the system.

    Python frees a large object's memory into the C allocator, which keeps it for reuse: after
    a heavy run, or after sessions holding heavy results are shut down, the process stays at its
    peak. glibc's `malloc_trim(0)` returns the free pages of every arena; elsewhere only the
    collection runs.
    """
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


MALLOC_ARENAS = 2  # glibc heaps ("arenas") a server process allocates from (`limit_arenas`)
_M_ARENA_MAX = -8  # mallopt's parameter number for the arena limit (glibc's malloc.h)


def limit_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Let glibc's malloc use at most `arenas` heaps from now on; True where it applied.

    glibc gives threads heaps of their own, up to 8 per core, and a heap whose freed pages are
    scattered between live blocks keeps them: a server whose every script run is a new thread
    ends up with many half-empty heaps after heavy runs. The same setting as the environment
    variable MALLOC_ARENA_MAX, applied from inside the process (call it early, e.g. at the first
    script run); with the interpreter's lock held most of the time, threads rarely contend.
    """
    libc = _glibc()
    if libc is None:
        return False
    mallopt = libc.mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt(_M_ARENA_MAX, int(arenas)) == 1


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018  (present in glibc only)
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return None
    return libc


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    libc = _glibc()
    if libc is None:
        return None
    trim = libc.malloc_trim
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


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
    return HEAVY_QUEUE.busy()
