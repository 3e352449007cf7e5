"""A Streamlit client without a browser: the websocket protocol with the installed package's
own protobuf messages (`streamlit.proto`), as the browser speaks it.

One `Session` is one browser tab: it connects to ws://127.0.0.1:PORT/_stcore/stream, asks for a
script run with a BackMsg `rerun_script` (query string, page, widget states, the hashes of the
cached messages it holds) and reads ForwardMsgs until `script_finished`. Like the browser, it

- keeps the widgets it has set and sends all of their states with every rerun;
- takes the query string the app writes (`page_info_changed`) into the next rerun;
- remembers the hash of every cacheable message it received, and answers `ref_hash` messages
  from that cache (so the server may send a reference instead of an unchanged large element).

It renders nothing and fetches no media: it measures the server, not a browser. Used by
`tests/load/ws_load.py` (many users) and `bench/bench_server.py` (CPU per change). Loopback
only: `connect` refuses any host but 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect

HOST = "127.0.0.1"
FINISHED = {
    ForwardMsg.FINISHED_SUCCESSFULLY: "ok",
    ForwardMsg.FINISHED_WITH_COMPILE_ERROR: "compile error",
    ForwardMsg.FINISHED_EARLY_FOR_RERUN: "early for rerun",
    ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY: "fragment ok",
}
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@dataclass
class RunResult:
    """What one script run sent: time to `script_finished`, messages and bytes, errors shown."""

    seconds: float
    status: str
    messages: int
    bytes: int
    references: int  # ref_hash messages (an element the client already holds)
    errors: list[str] = field(default_factory=list)  # exception elements and st.error texts
    notes: list[str] = field(default_factory=list)  # other alerts (info, warning, ...), progress


class ProtocolError(RuntimeError):
    """The server sent something this client cannot follow (e.g. an unknown ref_hash)."""


class Session:
    """One browser tab on the app served at 127.0.0.1:`port`, opened on `page` (a url path)."""

    def __init__(self, port: int, page: str = "", query: str = "") -> None:
        self.port = port
        self.page = page
        self.query = query
        self.page_script_hash = ""
        self.widgets: dict[str, WidgetState] = {}  # widget id -> last state sent
        self.triggers: list[WidgetState] = []  # button clicks for the next rerun only
        self.labels: dict[str, tuple[str, str]] = {}  # label -> (element type, widget id)
        self.cache: dict[str, ForwardMsg] = {}  # hash -> cacheable message received
        self.session_id = ""
        self._ws: Any = None

    async def connect(self, timeout: float = 30.0) -> None:
        """Open the websocket (same origin, subprotocol "streamlit", no compression)."""
        url = f"ws://{HOST}:{self.port}/_stcore/stream"
        self._ws = await asyncio.wait_for(
            connect(
                url,
                subprotocols=["streamlit"],
                origin=f"http://{HOST}:{self.port}",
                compression=None,
                max_size=MAX_MESSAGE_BYTES,
                open_timeout=timeout,
                ping_interval=None,
            ),
            timeout,
        )

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    async def __aenter__(self) -> Session:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------------- widgets

    def widget_id(self, label: str) -> str:
        """The id of the widget with this label in the last run (KeyError if none)."""
        return self.labels[label][1]

    def set_int(self, label: str, value: int) -> None:
        state = WidgetState(id=self.widget_id(label))
        state.int_value = int(value)
        self.widgets[state.id] = state

    def set_float(self, label: str, value: float) -> None:
        state = WidgetState(id=self.widget_id(label))
        state.double_value = float(value)
        self.widgets[state.id] = state

    def set_string(self, label: str, value: str) -> None:
        state = WidgetState(id=self.widget_id(label))
        state.string_value = value
        self.widgets[state.id] = state

    def click(self, label: str) -> None:
        """Press the button with this label in the next rerun (a trigger: that run only)."""
        state = WidgetState(id=self.widget_id(label))
        state.trigger_value = True
        self.triggers.append(state)

    # ------------------------------------------------------------------------- runs

    def _rerun_message(self) -> bytes:
        msg = BackMsg()
        client = msg.rerun_script
        client.query_string = self.query
        client.page_script_hash = self.page_script_hash
        client.page_name = self.page
        client.widget_states.widgets.extend(self.widgets.values())
        client.widget_states.widgets.extend(self.triggers)
        self.triggers = []
        client.cached_message_hashes.extend(self.cache)
        client.context_info.timezone = "UTC"
        client.context_info.locale = "en-US"
        client.context_info.url = f"http://{HOST}:{self.port}/{self.page}"
        return msg.SerializeToString()

    def _take(self, msg: ForwardMsg, result: RunResult) -> None:
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":
            result.references += 1
            if msg.ref_hash not in self.cache:
                raise ProtocolError(f"ref_hash {msg.ref_hash} of a message never received")
            msg = self.cache[msg.ref_hash]
            kind = msg.WhichOneof("type")
        elif msg.metadata.cacheable and msg.hash:
            self.cache[msg.hash] = msg
        if kind == "new_session":
            self.session_id = self.session_id or msg.new_session.initialize.session_id
            self.page_script_hash = msg.new_session.page_script_hash
        elif kind == "navigation":
            self.page_script_hash = msg.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            etype = element.WhichOneof("type")
            widget = getattr(element, etype, None) if etype else None
            if etype == "exception":
                result.errors.append(f"exception: {element.exception.type}")
            elif etype == "alert" and element.alert.format == element.alert.ERROR:
                result.errors.append(f"error: {element.alert.body[:200]}")
            elif etype == "alert":
                result.notes.append(element.alert.body[:300])
            elif etype == "progress":
                result.notes.append(f"progress: {element.progress.text[:200]}")
            elif widget is not None and getattr(widget, "id", "") and hasattr(widget, "label"):
                self.labels[widget.label] = (etype, widget.id)

    async def request_rerun(self) -> None:
        """Ask for a rerun with the current widget states, without waiting for it."""
        await self._ws.send(self._rerun_message())

    async def run(self, timeout: float = 120.0) -> RunResult:
        """Ask for a rerun with the current widget states; read until `script_finished`."""
        start = time.perf_counter()
        await self.request_rerun()
        return await self.read_run(start, timeout)

    async def read_run(self, start: float | None = None, timeout: float = 120.0) -> RunResult:
        """Read ForwardMsgs until a run finishes (not one cut short by a newer rerun request)."""
        start = time.perf_counter() if start is None else start
        result = RunResult(0.0, "", 0, 0, 0)
        deadline = start + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"no script_finished within {timeout:g} s")
            data = await asyncio.wait_for(self._ws.recv(), left)
            msg = ForwardMsg()
            msg.ParseFromString(data)
            result.messages += 1
            result.bytes += len(data)
            if msg.WhichOneof("type") == "script_finished":
                status = FINISHED.get(msg.script_finished, str(msg.script_finished))
                if status == "early for rerun":
                    continue  # our own rerun request superseded a run in progress
                result.status = status
                result.seconds = time.perf_counter() - start
                return result
            self._take(msg, result)
