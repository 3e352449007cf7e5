"""Model converter: paste `print(model)`, get every ConvTranspose2d replaced, shapes checked."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from core.converter.examples import EXAMPLES
from core.converter.model_text import parse_model_text
from core.converter.shape_trace import STOP_REFUSED, suggest_input_shape
from core.converter.text_conversion import (
    MAX_CHECK_PARAMETERS,
    TextConversion,
    checkable,
    convert_text,
)
from core.errors import ConfigError
from core.hosted import ONE_RUN_WAIT_S, BusyError
from core.parsing import parse_ints
from core.replacements import registry
from ui import caps, heavy, routing, state, text
from ui.heavy import LayerProgress
from ui.source_view import source_section

routing.require_router()

CUSTOM = "custom"  # the example picker's entry for the user's own text
EXAMPLE_KEYS = [*EXAMPLES, CUSTOM]
CHECK_SLOT_WAIT_S = ONE_RUN_WAIT_S  # a torch check waits in line until one capped run ends


def shape_text(shape: tuple[int, ...] | None) -> str:
    return "—" if shape is None else "(" + ", ".join(map(str, shape)) + ")"


def parse_shape(raw: str, parameter: str = "input_shape") -> tuple[int, ...]:
    """'1, 256, 8, 8' -> (1, 256, 8, 8); ConfigError naming `parameter` otherwise."""
    example = "1, 256, 8, 8 (batch, channels, height, width)"
    return parse_ints(raw, parameter, minimum=0, example=example)


def parse_known_shapes(raw: str) -> dict[str, tuple[int, ...]]:
    """'ups.0.conv.block.0 = 1, 256, 16, 16' per line -> {path: shape}."""
    known = {}
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        path, sep, shape = line.partition("=")
        if not sep or not path.strip():
            raise ConfigError(
                "shapes_at",
                f"line {number} of the known shapes must read `layer path = shape`, such as "
                f"`ups.0.conv.block.0 = 1, 256, 16, 16`, got {line.strip()[:60]!r}",
            )
        known[path.strip()] = parse_shape(shape, "shapes_at")
    return known


def short_text(raw: str) -> str:
    """Known shapes from a link: plain text up to the model text's limit."""
    return state.bounded_text(raw, caps.MAX_MODEL_TEXT)


def text_from_link(raw: str) -> str:
    """A model text from a link: packed (`ui.state.pack_text`), or plain as older links held."""
    return state.text_from_link(raw, caps.MAX_MODEL_TEXT)


def suggested(raw_text: str) -> tuple[str, str] | None:
    """(shape text, reason) the first layer of `raw_text` suggests, or None."""
    try:
        found = suggest_input_shape(raw_text)
    except ConfigError:
        return None
    return None if found is None else (", ".join(map(str, found.shape)), found.reason)


def load_example() -> None:
    """Callback of the example picker: put the example's text and input shape in the boxes."""
    key = st.session_state["cv_ex"]
    if key == CUSTOM:
        return
    example = EXAMPLES[key]
    st.session_state["cv_text"] = example.text
    st.session_state["cv_shape"] = st.session_state["cv_shape_suggested"] = ", ".join(
        map(str, example.input_shape)
    )
    st.session_state["cv_known"] = ""


def text_changed() -> None:
    """Callback of the text box: the picker says "your own text", and a shape the user has not
    typed (the box still holds the last suggestion) follows the new text's first layer."""
    raw = st.session_state["cv_text"]
    key = st.session_state.get("cv_ex", CUSTOM)
    if key != CUSTOM and raw != EXAMPLES[key].text:
        st.session_state["cv_ex"] = CUSTOM
    found = suggested(raw)
    if found is not None and st.session_state.get("cv_shape") == st.session_state.get(
        "cv_shape_suggested"
    ):
        st.session_state["cv_shape"] = st.session_state["cv_shape_suggested"] = found[0]


def add_known_shape(path: str, shape: tuple[int, ...]) -> None:
    """Callback: continue the trace at `path` with `shape` (a line in the known shapes)."""
    lines = [line for line in st.session_state.get("cv_known", "").splitlines() if line.strip()]
    lines.append(f"{path} = {', '.join(map(str, shape))}")
    st.session_state["cv_known"] = "\n".join(lines)


# ------------------------------------------------------------------------------ printout mode
def printout_state() -> None:
    """Starting values of the printout mode's widgets: kept from a visit, a link or defaults."""
    state.page_param("cv_ex", "article", state.one_of(EXAMPLE_KEYS))
    start_key = st.session_state["cv_ex"]
    default_text = "" if start_key == CUSTOM else EXAMPLES[start_key].text
    state.page_param("cv_text", default_text, text_from_link)
    if st.session_state["cv_ex"] != CUSTOM and (
        st.session_state["cv_text"] != EXAMPLES[st.session_state["cv_ex"]].text
    ):
        st.session_state["cv_ex"] = CUSTOM  # a link from before the picker had "your own text"
    default_shape = (
        ", ".join(map(str, EXAMPLES[st.session_state["cv_ex"]].input_shape))
        if st.session_state["cv_ex"] != CUSTOM
        else (suggested(st.session_state["cv_text"]) or ("", ""))[0]
    )
    if "cv_shape_suggested" not in st.session_state:  # a link's shape was typed by its sender
        st.session_state["cv_shape_suggested"] = (
            default_shape if state.url_value("cv_shape") is None else None
        )
    state.page_param("cv_shape", default_shape, str)
    state.page_param("cv_known", "", short_text)


def omitted_notice() -> None:
    """A link whose model text could not travel says so (never another model in silence)."""
    state.omitted_notice(
        "cv_omitted",
        "cv_text",
        "The link you opened had a model text too long to travel in a link, so it is not "
        "here: ask its sender for the text itself, or paste your own.",
    )


def method_picker() -> str:
    """The method every ConvTranspose2d is rewritten with (shared by both modes)."""
    method = st.selectbox("Replace every ConvTranspose2d with", registry.METHODS, key="cv_method")
    st.caption(f"**{method}**: {registry.method(method).help}.")
    state.remember("cv_method")
    return method


def printout_inputs() -> tuple[str, str, str, str, object]:
    """(text, shape, method, known shapes, the right column) as the widgets say."""
    left, right = st.columns([3, 2])
    with left:
        st.selectbox(
            "Example",
            EXAMPLE_KEYS,
            key="cv_ex",
            on_change=load_example,
            format_func=lambda k: "Your own text" if k == CUSTOM else EXAMPLES[k].title,
            help="Loads the example's text and input shape into the boxes below.",
        )
        raw_text = st.text_area(
            "Model text",
            key="cv_text",
            height=320,
            max_chars=caps.MAX_MODEL_TEXT,
            on_change=text_changed,
            help="Parsed as text, never executed.",
        )
    with right:
        raw_shape = st.text_input("Input shape (batch, channels, height, width)", key="cv_shape")
        hint = suggested(raw_text)
        if hint is not None and raw_shape == hint[0] == st.session_state["cv_shape_suggested"]:
            st.caption(f"Suggested: {state.escape_markdown(hint[1])}. Edit it to your input.")
        method = method_picker()
        if st.session_state["cv_ex"] != CUSTOM:
            st.caption(EXAMPLES[st.session_state["cv_ex"]].about)
        with st.expander("Known shapes at layers", icon=":material/pin_drop:"):
            raw_known = st.text_area(
                "One per line: layer path = the shape that reaches it",
                key="cv_known",
                height=90,
                placeholder="ups.0.conv.block.0 = 1, 256, 16, 16",
                help="Where your forward() does something the printout cannot show (a skip "
                "concatenation, a view), give the shape that reaches a layer: the trace resumes "
                "there, its rows marked 'assumed'.",
            )
    return raw_text, raw_shape, method, raw_known, right


def printout_link(raw_text: str, column) -> None:
    """Publish the printout mode's state in the URL, the pasted text packed."""
    state.remember("cv_ex")
    state.remember("cv_shape")
    state.remember("cv_known", lambda v: v or None)  # type: ignore[arg-type]
    custom = st.session_state["cv_ex"] == CUSTOM
    if state.publish_packed("cv_text", "cv_omitted", raw_text if custom and raw_text else None):
        column.caption(
            "This text does not fit in a link even compressed: the address bar says so, and "
            "whoever opens it is told that the model was not carried. Share the text itself."
        )


# ------------------------------------------------------------------------------ sections
def output_metric(column, result: TextConversion) -> None:
    """The output shape, and how sure the trace is of it."""
    trace = result.trace
    if trace.certainty == "proven":
        column.metric("Output shape", shape_text(trace.output_shape))
        column.caption("Computed: the printout shows every layer running in order.")
    elif trace.certainty == "assumed":
        column.metric("Output shape (assumed)", shape_text(trace.assumed_output_shape))
        first = next(row for row in trace.rows if row.status != "ok")
        column.caption(
            f"Assumed from {state.escape_markdown(first.path or 'the model')} on: "
            "see that row's note."
        )
    else:
        column.metric("Output shape", "not known")
        column.caption(
            f"The trace stopped at {state.escape_markdown(trace.stopped_at or '')}: no shape "
            "is claimed past it."
        )


def stop_section(result: TextConversion) -> None:
    trace = result.trace
    if trace.stopped_at is None:
        return
    where = state.escape_markdown(trace.stopped_at or "the model")
    if trace.stop_kind == STOP_REFUSED:
        st.error(
            f"**input_shape** — the trace stopped at layer {where}: "
            f"{state.escape_markdown(trace.stop_reason)}",
            icon=":material/error:",
        )
        return
    st.warning(
        f"**The trace stops at {where}.** Likely cause: "
        f"{state.escape_markdown(trace.stop_reason)}.\n\n{state.escape_markdown(trace.advice)}.",
        icon=":material/warning:",
    )
    if trace.suggested_shape is not None:
        st.button(
            f"Continue the trace with {shape_text(trace.suggested_shape)} at {trace.stopped_at}",
            on_click=add_known_shape,
            args=(trace.stopped_at, trace.suggested_shape),
            icon=":material/play_arrow:",
            key="cv_continue",
        )


def flagged_section(result: TextConversion) -> None:
    flagged = [  # the layer a trace stopped at is named by the stop message above
        row
        for row in result.rows
        if row.status in ("mismatch", "unknown", "untraceable")
        and row.path != result.trace.stopped_at
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


STATIC_TABLE_ROWS = 120  # up to this many rows the table is static (every row, text wrapped)


def numbered_notes(notes: list[str]) -> tuple[list[str], list[str]]:
    """Each row's note as a reference ("note 2") to one list of the distinct notes, in order."""
    distinct = list(dict.fromkeys(note for note in notes if note))
    refs = [f"note {distinct.index(note) + 1}" if note else "" for note in notes]
    return refs, distinct


def table_section(result: TextConversion) -> None:
    refs, distinct = numbered_notes([row.note for row in result.rows])
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
            "note": ref,
        }
        for row, ref in zip(result.rows, refs, strict=True)
    ]
    st.subheader("Layer by layer")
    st.caption(
        "Shapes include the batch dimension. Status: ok (computed from what the printout shows: "
        "every container on the way runs its layers in order), assumed (rests on an assumption "
        "in this row or an earlier one, stated in its note: a custom module's forward() is not "
        "in a printout), unknown (a layer Deconv Lab does not know), untraceable (a recurrent, "
        "attention or embedding layer), mismatch (what reaches the layer cannot be what it "
        "expects: the trace stops), error (torch refuses), skipped (after a stop). Layers kept "
        "unchanged say why, in the notes under the table."
    )
    if len(rows) <= STATIC_TABLE_ROWS:
        st.table(pd.DataFrame(rows), hide_index=True, border="horizontal")
    else:  # a long model: a scrolling table, every row one line
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="cv_table")
    for number, note in enumerate(distinct, start=1):
        st.markdown(f"**Note {number}.** {state.escape_markdown(note)}")


def check_key(raw_text: str, shape: tuple[int, ...], method: str) -> str:
    return hashlib.sha256(repr((raw_text, shape, method)).encode()).hexdigest()


def run_check(raw_text: str, shape: tuple[int, ...], method: str) -> None:
    """Build, convert and run the chain in torch; a progress bar from the start, moved as each
    layer is converted."""
    from core.converter.torch_check import check_conversion

    progress = LayerProgress(st.empty())
    try:
        with heavy.turn("check", CHECK_SLOT_WAIT_S):
            check = check_conversion(raw_text, shape, method, progress=progress)
    except (ConfigError, BusyError) as err:
        st.session_state["cv_check"] = (check_key(raw_text, shape, method), err)
    else:
        st.session_state["cv_check"] = (check_key(raw_text, shape, method), check)
    progress.close()


def check_section(result: TextConversion, raw_text: str, shape: tuple[int, ...]) -> None:
    st.subheader("Check with torch")
    why = checkable(parse_model_text(raw_text))
    if why:
        st.caption(f"Not available for this model: {state.escape_markdown(why)}.")
        return
    if result.trace.stopped_at is not None:
        st.caption("Available once the trace reaches the end.")
        return
    st.caption(
        "Builds the pasted chain in torch with random weights, converts it with "
        "`core.converter.live.convert_model` (weights carried), runs both on one random input and "
        f"shows what torch measured. Models up to {MAX_CHECK_PARAMETERS // 1_000_000} M "
        "parameters."
    )
    key = check_key(raw_text, shape, result.method)
    if st.button("Build, convert and run in torch", icon=":material/play_arrow:", key="cv_run"):
        run_check(raw_text, shape, result.method)
    stored = st.session_state.get("cv_check")
    if stored is None or stored[0] != key:
        return
    check = stored[1]
    if isinstance(check, ConfigError):
        state.show_error(check)
        return
    differing = [
        row.path
        for row in result.rows
        if row.out_shape_before is not None
        and check.layer_shapes.get(row.path, (row.in_shape, row.out_shape_before))
        != (row.in_shape, row.out_shape_before)
    ]
    a, b, c = st.columns(3)
    a.metric("torch: output before", shape_text(check.output_shape))
    b.metric("torch: output after", shape_text(check.converted_output_shape))
    exact = all(row.exact for row in check.report.rows)
    if exact:
        c.metric("Largest difference", f"{check.max_abs_difference:.2g}")
    else:
        c.metric("Relative difference", f"{check.relative_difference:.3g}")
    same = check.output_shape == check.converted_output_shape
    verdict = [
        f"Measured in {check.seconds:.1f} s on {check.parameters:,} parameters: the converted "
        f"model's output has {'the same' if same else 'a different'} shape",
        "every traced shape equals torch's"
        if not differing
        else f"the trace differs from torch at {', '.join(differing[:5])} (please report it)",
    ]
    if exact:
        verdict.append(
            f"the outputs agree to {check.max_abs_difference:.2g} (float32 rounding): exact"
        )
    else:
        verdict.append(
            f"the outputs differ by {check.relative_difference:.3g} of their norm: a resize "
            "method is another operator with the same output size (fine-tune after carrying "
            "trained weights)"
        )
    message = "; ".join(verdict) + "."
    (st.success if same and not differing else st.error)(message)


def printout_results(result: TextConversion, raw_text: str, shape: tuple[int, ...]) -> None:
    a, b, c = st.columns(3)
    a.metric("Layers traced", len(result.rows))
    b.metric("ConvTranspose2d replaced", result.replaced)
    output_metric(c, result)
    for note in result.notes:
        st.info(state.escape_markdown(note), icon=":material/info:")
    stop_section(result)
    flagged_section(result)
    table_section(result)
    st.subheader("The converted model")
    st.caption(
        "A standalone file that builds the converted model as `model`. Copy the weights "
        "of your trained layers with the designer's weight-transfer snippet or "
        "`core.converter.live.convert_model`."
    )
    code_name = f"converted_{result.method.replace('-', '_')}.py"
    text.code_block(result.code, code_name, key="cv_dl")
    check_section(result, raw_text, shape)


def printout_mode() -> None:
    """Paste print(model): trace, convert, check."""
    printout_state()
    omitted_notice()
    raw_text, raw_shape, method, raw_known, right = printout_inputs()
    printout_link(raw_text, right)
    try:
        shape = parse_shape(raw_shape)
        known = parse_known_shapes(raw_known)
        result = convert_text(
            raw_text, shape, method, max_layers=caps.MAX_CONVERTER_LAYERS, shapes_at=known or None
        )
    except ConfigError as err:
        state.show_error(err)
        return
    printout_results(result, raw_text, shape)


def source_mode() -> None:
    """Upload or paste the model's .py file: every call rewritten, a diff back."""
    method = method_picker()
    source_section(method)


# ------------------------------------------------------------------------------ the page
MODES = {"printout": "A print(model) printout", "source": "The model's .py file"}

st.title("Model converter")
st.caption(
    "Rewrite every ConvTranspose2d of a model, keeping every size: paste what `print(model)` "
    "shows (Deconv Lab parses it without running it and traces every shape), or give the "
    "model's Python file (every call rewritten in place, a diff back, nothing else touched)."
)
state.page_param("cv_method", registry.DEFAULT_METHOD, state.one_of(registry.METHODS))
state.page_param("cv_mode", "printout", state.one_of(list(MODES)))
mode = (
    st.segmented_control("What do you have?", list(MODES), key="cv_mode", format_func=MODES.get)
    or "printout"
)
state.remember("cv_mode")
if mode == "source":
    source_mode()
else:
    printout_mode()
st.caption(text.cite("odena", "shi"))
