"""A session's turn at the heavy-run slot (`core.hosted.HEAVY_QUEUE`), as a page shows it.

Runs take the slot in arrival order, one per session: while a run waits, a notice says how many
runs are ahead of it and how long it has waited, and it starts by itself when its turn comes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.hosted import FIT_TIME_BUDGET_S, HEAVY_QUEUE, MAX_WAITING, ONE_RUN_WAIT_S, BusyError

# How long a fit waits in line before the page says "try again": two minutes, and never less
# than one capped fit holding the slot (under the local limits a fit may run ten minutes).
FIT_WAIT_S = max(120.0, ONE_RUN_WAIT_S)


def session_owner() -> str | None:
    """This session's id: a session has at most one run queued or running."""
    ctx = get_script_run_ctx()
    return None if ctx is None else ctx.session_id


def waiting_text(what: str, ahead: int, waited: float) -> str:
    """The notice of a run waiting in line."""
    runs = f"{ahead} run{'s' if ahead != 1 else ''}"
    return (
        f"Waiting for your turn: your {what} is number {ahead + 1} in the server's queue of "
        f"heavy runs (generator renders and fits, torch checks; {runs} ahead of it), waiting "
        f"{waited:.0f} s. It starts by itself when its turn comes; runs take turns in arrival "
        "order, one per session."
    )


def busy_caption(render_wait_s: float) -> str:
    """What the page says while another run holds the slot."""
    return (
        "Another generator run is in progress on this server. Runs take turns in arrival "
        f"order, one per session: a render waits up to {render_wait_s:g} s for its turn and a "
        f"**Fit** up to {FIT_WAIT_S:g} s (a fit ends within about {FIT_TIME_BUDGET_S:g} s; at "
        f"most {MAX_WAITING} runs wait at once); the page shows your place in the queue."
    )


@contextmanager
def turn(what: str, timeout: float, *, clicked: bool = True) -> Iterator[float]:
    """Hold the heavy-run slot for this session's `what` ("render", "fit", "check") for the
    `with` block, after waiting in line up to `timeout` seconds with a notice of its place;
    yields the seconds waited. Raises `core.hosted.BusyError` (the notice cleared) when it does
    not get its turn.

    `clicked`: the run was asked for by a button: while this session's previous run still holds
    the slot it is refused ("still running"), so clicks never stack runs. A run the page starts
    by itself (a render after a setting changed; the rerun ends the previous script run, whose
    run may still be finishing) lines up behind it instead."""
    notice = st.empty()

    def show(ahead: int, waited: float) -> None:
        notice.info(waiting_text(what, ahead, waited), icon=":material/hourglass_top:")

    try:
        waited = HEAVY_QUEUE.acquire(timeout, session_owner(), show, wait_for_own=not clicked)
    except BusyError:
        notice.empty()
        raise
    try:
        notice.empty()
        yield waited
    finally:
        HEAVY_QUEUE.release()


class LayerProgress:
    """A live conversion's progress bar: drawn before the first layer, moved after each one.

    Pass it as `progress` to `core.converter.live.convert_model` (or `check_conversion`): it is
    called as progress(done, total, path) after each transposed convolution. The bar is there
    from the start, so a conversion whose first layer takes long (a resize method fits its
    weights) does not look stuck.

    Args:
        placeholder: where the bar is drawn (`st.empty()`; anything with `progress` and `empty`).
        what: the first words of the bar's text.
    """

    def __init__(self, placeholder: object, what: str = "Converting") -> None:
        self.placeholder = placeholder
        self.what = what
        self.updates: list[tuple[int, int, str]] = []  # (done, total, path), as heard
        placeholder.progress(0.0, text=f"{what}: building the model…")  # type: ignore[attr-defined]

    def __call__(self, done: int, total: int, path: str) -> None:
        """One more layer done (done = 1 .. total)."""
        self.updates.append((done, total, path))
        self.placeholder.progress(  # type: ignore[attr-defined]
            done / max(total, 1), text=f"{self.what} {done}/{total}: {path or 'model'}"
        )

    def close(self) -> None:
        """Take the bar away once the conversion is over."""
        self.placeholder.empty()  # type: ignore[attr-defined]
