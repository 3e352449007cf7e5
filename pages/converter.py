"""Model converter: paste `print(model)`, get every ConvTranspose2d replaced, shapes checked."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from core.errors import ConfigError
from core.replacements import METHODS
from core.text_conversion import EXAMPLES, convert_text
from ui import caps, routing, state, text

routing.require_router()

METHOD_HELP = {
    "subpixel": "exact: Conv2d at input resolution + PixelShuffle",
    "zero-insertion": "exact: zero insertion + Conv2d",
    "resize-nearest": "artifact-free: nearest Upsample + Conv2d, same size",
    "resize-bilinear": "artifact-free: bilinear Upsample + Conv2d, same size",
    "resize-bicubic": "artifact-free: bicubic Upsample + Conv2d, same size",
}


def shape_text(shape: tuple[int, ...] | None) -> str:
    return "—" if shape is None else "(" + ", ".join(map(str, shape)) + ")"


_DIGITS_RE = re.compile(r"[0-9]{1,9}")  # ASCII digits only: int() would also take '٣' or '1_0'


def parse_shape(raw: str) -> tuple[int, ...]:
    """'1, 256, 8, 8' -> (1, 256, 8, 8); ConfigError naming input_shape otherwise."""
    parts = [p for p in raw.replace("(", " ").replace(")", " ").replace(",", " ").split() if p]
    if not all(_DIGITS_RE.fullmatch(p) for p in parts):
        raise ConfigError(
            "input_shape",
            f"input_shape must be whole numbers written with the digits 0-9 (at most 9 each), "
            f"such as 1, 256, 8, 8 (batch, channels, height, width), got {raw!r}"[:200],
        )
    return tuple(int(p) for p in parts)


def short_text(raw: str) -> str:
    if len(raw) > caps.MAX_MODEL_TEXT:
        raise ValueError(f"longer than {caps.MAX_MODEL_TEXT} characters")
    return raw


def load_example() -> None:
    """Callback of the example picker: put the example's text and input shape in the boxes."""
    example = EXAMPLES[st.session_state["cv_ex"]]
    st.session_state["cv_text"] = example.text
    st.session_state["cv_shape"] = ", ".join(map(str, example.input_shape))


st.title("Model converter")
st.caption(
    "Paste what `print(model)` shows for your generator (or one layer per line, such as "
    "`nn.ConvTranspose2d(64, 32, 4, 2, 1)`). Deconv Lab parses it without running it, traces "
    "every shape from the input shape, and rewrites each ConvTranspose2d with the method you "
    f"choose, keeping every size. Up to {caps.MAX_CONVERTER_LAYERS} layers per model."
)

state.page_param("cv_ex", "article", state.one_of(list(EXAMPLES)))
example = EXAMPLES[st.session_state["cv_ex"]]
state.page_param("cv_text", example.text, short_text)
state.page_param("cv_shape", ", ".join(map(str, example.input_shape)), str)
state.page_param("cv_method", "resize-nearest", state.one_of(METHODS))

left, right = st.columns([3, 2])
with left:
    st.selectbox(
        "Example",
        list(EXAMPLES),
        key="cv_ex",
        on_change=load_example,
        format_func=lambda k: EXAMPLES[k].title,
        help="Loads the example's text and input shape into the boxes below.",
    )
    raw_text = st.text_area(
        "Model text",
        key="cv_text",
        height=320,
        max_chars=caps.MAX_MODEL_TEXT,
        help="Parsed as text, never executed.",
    )
with right:
    raw_shape = st.text_input("Input shape (batch, channels, height, width)", key="cv_shape")
    method = st.selectbox("Replace every ConvTranspose2d with", METHODS, key="cv_method")
    st.caption(f"**{method}**: {METHOD_HELP.get(method, '')}.")
    if raw_text == EXAMPLES[st.session_state["cv_ex"]].text:
        st.caption(EXAMPLES[st.session_state["cv_ex"]].about)
    else:
        st.caption("Your own model text (pick an example to load one).")

state.remember("cv_ex")
state.remember("cv_shape")
state.remember("cv_method")
custom = raw_text != EXAMPLES[st.session_state["cv_ex"]].text
shareable = len(raw_text) <= caps.MAX_URL_TEXT
state.publish("cv_text", raw_text if custom and shareable else None)
if custom and not shareable:
    right.caption(
        f"This text is longer than {caps.MAX_URL_TEXT} characters, so the link in "
        "the address bar does not carry it: share the text itself."
    )

try:
    result = convert_text(
        raw_text, parse_shape(raw_shape), method, max_layers=caps.MAX_CONVERTER_LAYERS
    )
except ConfigError as err:
    state.show_error(err)
    result = None

if result is not None:
    a, b, c = st.columns(3)
    a.metric("Layers traced", len(result.rows))
    b.metric("ConvTranspose2d replaced", result.replaced)
    c.metric("Output shape", shape_text(result.output_shape))
    for note in result.notes:
        st.info(state.escape_markdown(note), icon=":material/info:")
    stop = f"the trace stopped at layer {result.trace.stopped_at}: {result.trace.stop_reason}"
    if result.trace.stopped_on_unknown:  # not the input's fault: a layer Deconv Lab cannot read
        st.warning(state.escape_markdown(stop), icon=":material/warning:")
    elif result.trace.stopped_at is not None:
        st.error("**input_shape** — " + state.escape_markdown(stop))
    flagged = [  # the layer a trace stopped at is named by the stop message above
        row
        for row in result.rows
        if row.status in ("mismatch", "unknown") and row.path != result.trace.stopped_at
    ]
    if flagged:
        named = ", ".join(
            f"{state.escape_markdown(row.path)} ({row.status})" for row in flagged[:6]
        )
        more = f" and {len(flagged) - 6} more" if len(flagged) > 6 else ""
        st.warning(
            f"{len(flagged)} layer{'s' if len(flagged) > 1 else ''} need a look: "
            f"{named}{more}. Their notes in the table say why.",
            icon=":material/warning:",
        )
    rows = [
        {
            "layer": row.path,
            "type": row.type_name,
            "status": row.status,
            "before": row.before,
            "after": row.after,
            "input": shape_text(row.in_shape),
            "output before": shape_text(row.out_shape_before),
            "output after": shape_text(row.out_shape_after),
            "exact": {True: "exact", False: "same size", None: ""}[row.exact],
            "note": row.note,
        }
        for row in result.rows
    ]
    st.subheader("Layer by layer")
    st.caption(
        "Shapes include the batch dimension. Status: ok (computed exactly), assumed (rests on "
        "an assumption in this row or an earlier one, stated in its note), unknown (layer not "
        "recognised: shape assumed kept, or the trace stops where its name suggests a shape "
        "change), mismatch (channels differ: often a skip connection print(model) does not "
        "show), error (torch refuses), skipped (after a stop). Layers kept unchanged say why."
    )
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        key="cv_table",
        column_config={
            "layer": st.column_config.TextColumn(pinned=True),
            "before": st.column_config.TextColumn(width="medium"),
            "note": st.column_config.TextColumn(width="large"),
        },
    )
    st.subheader("The converted model")
    st.caption(
        "A standalone file that builds the converted model as `model`. Copy the weights "
        "of your trained layers with the designer's weight-transfer snippet or "
        "`core.convert.convert_model`."
    )
    text.code_block(result.code, f"converted_{method.replace('-', '_')}.py", key="cv_dl")
st.caption(text.cite("odena", "shi"))
