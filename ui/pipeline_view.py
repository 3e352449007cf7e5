"""Both pipelines side by side, the one section the designer and the overlap page share.

Draws the transposed convolution's gather view and one replacement's own pipeline
(`core.replacements.pipelines`) with `ui.figures.pipelines`, each animated in the browser, and
traces one output cell in both: chosen by clicking a cell of either output, or with the row and
column boxes (which phones and keyboards can use). It runs in a fragment, so tracing a cell reruns
only this section.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.errors import ConfigError
from core.geometry.layer import TransposedConv
from core.replacements.pipelines import CONV_TRANSPOSE, Pipeline, pipeline, trace_output
from ui import state
from ui.figures.pipelines import output_cell, pipeline_figure
from ui.figures.style import PLOTLY_CONFIG


def _equations(layer: TransposedConv, size: tuple[int, int], view: Pipeline) -> dict:
    """The sum written out for every output cell of the window (the hover of the output)."""
    rows, cols = view.output.shape
    return {
        (r, c): trace_output(layer, size, (r, c), view.method).equation(most=6)
        for r in range(rows)
        for c in range(cols)
    }


def _clicked(event: Any, view: Pipeline) -> tuple[int, int] | None:
    """The output cell a click on a figure selected, if it was one."""
    points = getattr(getattr(event, "selection", None), "points", None) or []
    for point in points:
        cell = output_cell(view, point.get("x"), point.get("y"))
        if cell is not None:
            return cell
    return None


def _draw(view: Pipeline, layer, size, cell, key: str) -> tuple[int, int] | None:
    trace = trace_output(layer, size, cell, view.method)
    event = st.plotly_chart(
        pipeline_figure(view, trace, _equations(layer, size, view)),
        width="stretch",
        key=key,
        config={**PLOTLY_CONFIG, "displayModeBar": False},
        on_select="rerun",
        selection_mode="points",
    )
    st.markdown(f"Traced: `{trace.equation()}`")  # the finding itself: full contrast
    return _clicked(event, view)


@st.fragment
def pipelines_section(layer: TransposedConv, input_size: tuple[int, int], method: str, key: str):
    """The gather view of `layer` beside `method`'s pipeline, with one output cell traced.

    Args:
        layer: the 2D layer on screen.
        input_size: its input's (H, W).
        method: the replacement to draw beside it (a core.replacements.registry method).
        key: a prefix for this section's widget keys (one per page).
    """
    if not st.toggle(
        "Show both pipelines, step by step",
        key=f"{key}_show",
        help="Draws the two pipelines with play, pause and a step slider (in your browser).",
    ):
        return
    try:
        original = pipeline(layer, input_size, CONV_TRANSPOSE)
        replacement = pipeline(layer, input_size, method)
    except ConfigError as err:
        state.show_error(err)
        return
    rows, cols = original.output.shape
    row_key, col_key, pending_key = f"{key}_row", f"{key}_col", f"{key}_clicked"
    if pending_key in st.session_state:  # a click on a figure in the last run picks the cell
        st.session_state[row_key], st.session_state[col_key] = st.session_state.pop(pending_key)
    for widget, limit in ((row_key, rows), (col_key, cols)):
        st.session_state[widget] = min(st.session_state.get(widget, 1), limit - 1)
    a, b, _ = st.columns([1, 1, 4])
    row = a.number_input("Trace row", 0, rows - 1, key=row_key)
    col = b.number_input("Trace column", 0, cols - 1, key=col_key)
    cell = (int(row), int(col))
    st.caption(
        f"Every input pixel and every weight is 1 here, so each output cell counts the "
        f"(input pixel, kernel tap) pairs that reach it. Showing {original.window_note}. Press "
        "▶ Play or drag the slider (it runs in your browser); click an output cell, or set the "
        "row and column, to trace which inputs and taps reach it."
    )
    clicked = _draw(original, layer, input_size, cell, f"{key}_original")
    clicked = _draw(replacement, layer, input_size, cell, f"{key}_replacement") or clicked
    if clicked is not None and clicked != cell:
        st.session_state[pending_key] = clicked
        st.rerun(scope="fragment")
