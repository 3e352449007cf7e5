"""Give memory back once heavy runs end and closed sessions expire.

A closed session is kept for `server.disconnectedSessionTTL` seconds (Streamlit's session
cleanup time, 120 s by default) so that a reconnecting browser finds its state. After that
Streamlit forgets it only when a later session is stored (its session storage drops expired
entries on a write), and without shutting it down: on a quiet server a closed session's state,
images and uploads stay in memory indefinitely. And memory Python frees stays with the C
allocator: after heavy runs the process keeps its peak.

So the server limits glibc's heaps once (`core.hosted.limit_arenas`: a new thread per script run
would otherwise spread freed memory over many half-empty heaps), and one daemon thread per
server process, every `PERIOD_S` seconds:

1. shuts down the closed sessions whose cleanup time has passed, as Streamlit does for a
   session it closes (`AppSession.shutdown`: its files, images and state are released);
2. after that, after a heavy run ended, or when the process grew by `GROWTH_BYTES` since the
   last release, collects garbage and returns the free heap to the system
   (`core.hosted.release_memory`).

Step 1 reaches into Streamlit's session manager, which has no public call for it; every access is
guarded, so a Streamlit without those internals only skips it (step 2 still runs).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Any

from core.hosted import HEAVY_QUEUE, limit_arenas, release_memory

PERIOD_S = 10.0
GROWTH_BYTES = 64 * 2**20
_LOG = logging.getLogger(__name__)
_STARTED = threading.Event()
_START_LOCK = threading.Lock()


def start() -> None:
    """Limit glibc's heaps (`core.hosted.limit_arenas`) and start the janitor thread, once per
    process (later calls do nothing)."""
    if _STARTED.is_set():
        return
    with _START_LOCK:
        if _STARTED.is_set():
            return
        limit_arenas()
        threading.Thread(target=_loop, name="deconv-janitor", daemon=True).start()
        _STARTED.set()


def rss_bytes() -> int:
    """Resident memory of this process (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _session_storage() -> tuple[Any, Any, Any] | None:
    """(expiring cache, its lock, the event loop) of Streamlit's stored sessions, or None."""
    try:
        from streamlit import runtime

        if not runtime.exists():
            return None
        instance = runtime.get_instance()
        manager = getattr(instance, "_session_mgr", None)
        cache = getattr(getattr(manager, "_session_storage", None), "_cache", None)
        lock = getattr(manager, "_storage_lock", None)
        loop = instance._get_async_objs().eventloop
    except Exception:  # Streamlit's internals moved: skip this step
        return None
    if not callable(getattr(cache, "expire", None)) or lock is None:
        return None
    return cache, lock, loop


async def _shut_down_expired(cache: Any, lock: Any) -> int:
    """On the server's event loop: take the expired sessions out, shut each one down."""
    with lock:
        expired = cache.expire()
    for _, info in expired:
        session = getattr(info, "session", None)
        if session is not None:
            session.shutdown()
    return len(expired)


def shut_down_expired_sessions() -> int:
    """Shut down the closed sessions whose cleanup time has passed; how many there were."""
    storage = _session_storage()
    if storage is None:
        return 0
    cache, lock, loop = storage
    try:
        future = asyncio.run_coroutine_threadsafe(_shut_down_expired(cache, lock), loop)
        return future.result(timeout=30)
    except Exception:
        _LOG.warning("could not shut down expired sessions", exc_info=True)
        return 0


def _loop() -> None:
    runs_seen = HEAVY_QUEUE.finished()
    released_at = rss_bytes()
    while True:
        time.sleep(PERIOD_S)
        try:
            expired = shut_down_expired_sessions()
            runs = HEAVY_QUEUE.finished()
            grown = rss_bytes() - released_at > GROWTH_BYTES
            if expired or runs != runs_seen or grown:
                release_memory()
                runs_seen, released_at = runs, rss_bytes()
        except Exception:  # never let the thread die
            _LOG.warning("memory janitor pass failed", exc_info=True)
