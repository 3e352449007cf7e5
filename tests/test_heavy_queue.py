"""core.hosted.HeavyQueue: one heavy run at a time, granted in arrival order, one per session.

Threads stand in for sessions. Every wait is bounded; nothing asserts a duration.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException, StopException
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData

from core import hosted
from core.errors import ConfigError
from core.hosted import AlreadyQueuedError, BusyError, HeavyQueue
from ui import heavy

LONG = 20.0  # seconds a test thread may wait in line (never reached when the test passes)


def until(condition: Callable[[], bool], what: str) -> None:
    """Wait (bounded) until `condition()` holds."""
    deadline = time.monotonic() + LONG
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


class Holder:
    """A thread that takes the slot as `owner` and keeps it until `release()`."""

    def __init__(self, queue: HeavyQueue, owner: str | None = None) -> None:
        self.inside, self.leave = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, args=(queue, owner))
        self.thread.start()
        assert self.inside.wait(LONG)

    def _run(self, queue: HeavyQueue, owner: str | None) -> None:
        with queue.slot(LONG, owner):
            self.inside.set()
            self.leave.wait(LONG)

    def release(self) -> None:
        self.leave.set()
        self.thread.join(LONG)


def line_up(
    queue: HeavyQueue, owner: str, order: list[str], errors: list, **kw
) -> threading.Thread:
    """Start a thread that waits in line as `owner`, notes when it gets the slot; return it once
    it is in line."""
    before = queue.waiting()

    def run() -> None:
        try:
            with queue.slot(LONG, owner, **kw):
                order.append(owner)
        except BusyError as err:
            errors.append((owner, err))

    thread = threading.Thread(target=run)
    thread.start()
    until(lambda: queue.waiting() > before or not thread.is_alive(), f"{owner} in line")
    return thread


def test_runs_get_the_slot_in_arrival_order():
    queue, order, errors = HeavyQueue(), [], []
    holder = Holder(queue, "first")
    threads = [line_up(queue, name, order, errors) for name in ("b", "c", "d", "e")]
    assert queue.waiting() == 4
    holder.release()
    for thread in threads:
        thread.join(LONG)
    assert order == ["b", "c", "d", "e"] and not errors
    assert not queue.busy() and queue.waiting() == 0


def test_a_session_that_asks_again_lines_up_behind_those_waiting():
    queue, order, errors = HeavyQueue(), [], []
    holder = Holder(queue, "a")
    b = line_up(queue, "b", order, errors)
    holder.release()  # a's run ends...
    again = line_up(queue, "a", order, errors)  # ...and a asks again at once
    b.join(LONG)
    again.join(LONG)
    assert order == ["b", "a"] and not errors


def test_an_owner_with_a_run_running_is_refused_not_stacked():
    queue = HeavyQueue()
    holder = Holder(queue, "a")
    with pytest.raises(AlreadyQueuedError, match="still running") as info, queue.slot(1, "a"):
        pass
    assert isinstance(info.value, ConfigError) and info.value.parameter == "run"
    assert queue.waiting() == 0  # nothing was queued for it
    holder.release()
    with queue.slot(0, "a"):  # once it has ended, the owner may run again
        assert queue.position("a") == 0


def test_an_automatic_run_lines_up_behind_its_owners_running_one():
    """wait_for_own (a render after a setting changed): behind the owner's run, and everyone
    already waiting, instead of refused."""
    queue, order, errors = HeavyQueue(), [], []
    holder = Holder(queue, "a")
    b = line_up(queue, "b", order, errors)
    again = line_up(queue, "a", order, errors, wait_for_own=True)
    assert queue.position("a") == 0  # its running run
    assert queue.waiting() == 2
    holder.release()
    b.join(LONG)
    again.join(LONG)
    assert order == ["b", "a"] and not errors


def test_a_newer_request_of_a_waiting_owner_takes_over_its_place():
    queue, order, errors = HeavyQueue(), [], []
    holder = Holder(queue, "x")
    old = line_up(queue, "a", order, errors)
    line_up(queue, "b", order, errors)
    assert queue.position("a") == 1 and queue.position("b") == 2
    newer = threading.Thread(target=lambda: _take(queue, "a", order))
    newer.start()
    old.join(LONG)  # the older request of "a" gives up its place...
    assert [owner for owner, _ in errors] == ["a"]
    assert isinstance(errors[0][1], AlreadyQueuedError)
    assert queue.waiting() == 2 and queue.position("a") == 1  # ...which the newer one keeps
    holder.release()
    newer.join(LONG)
    until(lambda: len(order) == 2, "both runs")
    assert order == ["a", "b"]


def _take(queue: HeavyQueue, owner: str, order: list[str]) -> None:
    with queue.slot(LONG, owner):
        order.append(owner)


def test_on_wait_reports_the_runs_ahead_as_the_line_moves():
    queue, order, errors, seen = HeavyQueue(), [], [], []
    first = Holder(queue, "first")
    second_may_end = threading.Event()

    def second_run() -> None:
        with queue.slot(LONG, "second"):
            second_may_end.wait(LONG)

    second = threading.Thread(target=second_run)
    second.start()
    until(lambda: queue.waiting() == 1, "second in line")
    third = line_up(queue, "third", order, errors, on_wait=lambda ahead, _: seen.append(ahead))
    until(lambda: 2 in seen, "third sees two runs ahead")
    first.release()
    until(lambda: 1 in seen, "third sees one run ahead")  # second runs now
    second_may_end.set()
    second.join(LONG)
    third.join(LONG)
    assert order == ["third"] and not errors
    assert seen[0] == 2 and seen == sorted(seen, reverse=True)


def stop(ahead: int, waited: float) -> None:
    """An `on_wait` that stops the waiting run, as a session's rerun stops its script run."""
    raise StopException


@pytest.mark.parametrize(
    ("owner", "hold_s"),
    [(None, hosted.HOLD_FOR_OWNER_S), ("a", 0.0)],
    ids=["without-an-owner", "once-the-hold-has-passed"],
)
def test_a_waiter_that_is_stopped_leaves_the_line(owner, hold_s):
    """Nobody can claim the place of a request without an owner; an owner's place is held for
    `hold_s` only (see the tests below for the hold itself)."""
    queue = HeavyQueue(hold_s=hold_s)
    holder = Holder(queue, "x")
    with pytest.raises(StopException), queue.slot(LONG, owner, on_wait=stop):
        pass
    assert queue.waiting() == 0 and queue.position("a") is None
    holder.release()


class Rerunning:
    """A session as Streamlit runs it: one thread whose script run waits in line as `owner`,
    is stopped by a rerun (an exception raised in `on_wait`) once `interrupt` is set, and whose
    rerun, in the same thread after the stopped run has exited, asks again once `again` is set
    (unless `ask_again` is False)."""

    def __init__(self, queue: HeavyQueue, owner: str, order: list[str], ask_again=True) -> None:
        self.interrupt, self.stopped, self.again = (threading.Event() for _ in range(3))
        self.asked_again = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._session, args=(queue, owner, order, ask_again))
        before = queue.waiting()
        self.thread.start()
        until(lambda: queue.waiting() > before, f"{owner} in line")

    def _session(self, queue: HeavyQueue, owner: str, order: list[str], ask_again: bool) -> None:
        def rerun_when_told(ahead: int, waited: float) -> None:
            if self.interrupt.is_set():
                raise RerunException(RerunData())

        try:
            with queue.slot(LONG, owner, on_wait=rerun_when_told):
                order.append(f"{owner} (stopped run)")
        except RerunException:
            self.stopped.set()
        if not (ask_again and self.again.wait(LONG)):
            return
        try:
            with queue.slot(LONG, owner, on_wait=lambda *_: self.asked_again.set()):
                order.append(owner)
        except BusyError as err:
            self.errors.append(err)


def test_a_rerun_of_a_waiting_session_keeps_its_place():
    """The wait is stopped by the rerun (same thread), and the rerun asks again: it is still
    ahead of those who came after it."""
    queue, order, errors = HeavyQueue(hold_s=3600), [], []
    holder = Holder(queue, "x")
    a = Rerunning(queue, "a", order)
    b = line_up(queue, "b", order, errors)
    assert queue.position("a") == 1 and queue.position("b") == 2
    a.interrupt.set()
    assert a.stopped.wait(LONG)
    assert queue.position("a") == 1 and queue.position("b") == 2  # held for a's rerun
    a.again.set()
    assert a.asked_again.wait(LONG)  # the rerun waits in line...
    assert queue.position("a") == 1 and queue.position("b") == 2  # ...in the same place
    assert queue.waiting() == 2
    holder.release()
    a.thread.join(LONG)
    b.join(LONG)
    assert order == ["a", "b"] and not errors and not a.errors


def test_a_held_place_at_the_head_does_not_stall_the_line():
    """A stopped session that does not ask again (its rerun needs no run) holds its place, but
    when the slot frees, it goes to the next waiter at once, long before the hold would pass."""
    queue, order, errors = HeavyQueue(hold_s=3600), [], []
    holder = Holder(queue, "x")
    a = Rerunning(queue, "a", order, ask_again=False)
    b = line_up(queue, "b", order, errors)
    a.interrupt.set()
    a.thread.join(LONG)
    assert a.stopped.is_set() and queue.position("a") == 1  # held, ahead of b
    holder.release()
    b.join(LONG)  # b's wait (LONG) is far shorter than the hold: it must not wait for it
    assert order == ["b"] and not errors
    assert queue.position("a") is None and queue.waiting() == 0


def test_a_rerun_after_the_hold_has_passed_lines_up_at_the_end():
    queue, order, errors = HeavyQueue(hold_s=0.0), [], []
    holder = Holder(queue, "x")
    a = Rerunning(queue, "a", order)
    b = line_up(queue, "b", order, errors)
    a.interrupt.set()
    assert a.stopped.wait(LONG)
    assert queue.position("a") is None  # the hold has passed: the place is gone
    a.again.set()
    assert a.asked_again.wait(LONG)
    assert queue.position("b") == 1 and queue.position("a") == 2
    holder.release()
    a.thread.join(LONG)
    b.join(LONG)
    assert order == ["b", "a"] and not errors and not a.errors


def test_a_wait_in_line_outlasts_one_capped_fit():
    """A run waiting in line outlasts a fit holding the slot for its whole budget, rather than
    telling the user to try again while it runs (the generator page's render waits exactly
    `ONE_RUN_WAIT_S`: tests/test_app_generator.py reads it from the page)."""
    assert hosted.ONE_RUN_WAIT_S > hosted.FIT_TIME_BUDGET_S
    assert heavy.FIT_WAIT_S >= hosted.ONE_RUN_WAIT_S


def test_the_line_is_bounded_and_a_wait_times_out():
    queue, order, errors = HeavyQueue(max_waiting=2), [], []
    holder = Holder(queue, "x")
    threads = [line_up(queue, name, order, errors) for name in ("a", "b")]
    with pytest.raises(BusyError, match="already wait") as full, queue.slot(LONG, "c"):
        pass
    assert not isinstance(full.value, AlreadyQueuedError)
    holder.release()
    for thread in threads:
        thread.join(LONG)
    holder = Holder(queue, "x")
    with pytest.raises(BusyError, match="1 run ahead of yours") as late, queue.slot(0.05, "d"):
        pass
    assert "after waiting 0.05 s" in late.value.message
    with pytest.raises(BusyError, match="try again"), queue.slot(0, "e"):  # 0: do not wait
        pass
    assert queue.waiting() == 0
    holder.release()


def test_the_holding_thread_may_nest_and_only_the_holder_releases():
    queue = HeavyQueue()
    with queue.slot(0, "a") as waited, queue.slot(0, "a"), queue.slot(0):
        assert waited >= 0
        assert queue.busy()
    assert not queue.busy() and queue.finished() == 1
    with pytest.raises(RuntimeError, match="does not hold"):
        queue.release()


def test_the_process_slot_is_the_queue():
    assert not hosted.slot_busy()
    with hosted.heavy_run_slot(owner="test_the_process_slot_is_the_queue"):
        assert hosted.slot_busy()
        assert hosted.HEAVY_QUEUE.position("test_the_process_slot_is_the_queue") == 0
    assert not hosted.slot_busy()


def test_release_memory_and_the_arena_limit_apply_where_glibc_is():
    hosted.release_memory()  # gc, and malloc_trim where glibc has it: must not raise
    glibc = hosted._glibc() is not None
    assert hosted.limit_arenas() is glibc
