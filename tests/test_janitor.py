"""ui.janitor: expired closed sessions are shut down, and memory is released after."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

from ui import janitor


class FakeSession:
    def __init__(self) -> None:
        self.shut_down = False

    def shutdown(self) -> None:
        self.shut_down = True


class FakeStorage:
    """Streamlit's expiring session cache, as far as the janitor uses it."""

    def __init__(self, expired: list) -> None:
        self._expired = expired

    def expire(self) -> list:
        expired, self._expired = self._expired, []
        return expired


def test_expired_sessions_are_shut_down_on_the_event_loop():
    sessions = [FakeSession(), FakeSession()]
    cache = FakeStorage([(f"id{i}", SimpleNamespace(session=s)) for i, s in enumerate(sessions)])
    count = asyncio.run(janitor._shut_down_expired(cache, threading.Lock()))
    assert count == 2 and all(s.shut_down for s in sessions)
    assert asyncio.run(janitor._shut_down_expired(cache, threading.Lock())) == 0


def test_without_a_running_server_nothing_is_touched():
    assert janitor._session_storage() is None  # no Streamlit runtime in this process
    assert janitor.shut_down_expired_sessions() == 0


def test_rss_is_read_from_proc():
    assert janitor.rss_bytes() > 0
