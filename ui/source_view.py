"""The converter's "Source file" mode: upload or paste a model's .py file, get it back rewritten.

Reads the widgets, calls `core.converter.source_conversion.convert_source` (which parses the file
and never runs it) and draws the result: one row per ConvTranspose2d call, the unified diff, the
rewritten file to download, and for exact methods the snippet that carries trained weights.

A file the user pasted or uploaded travels in the page's link packed (`state.pack_text`, as the
printout mode's text does); one too long even packed is left out, and the link says so
(`cv_src_omitted`), so whoever opens it is told, never shown the example file in its place.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.converter.examples import SOURCE_EXAMPLE
from core.converter.source_conversion import SourceConversion, convert_source
from core.errors import ConfigError
from ui import caps, state, text


def _source_text() -> str:
    """The uploaded file if there is one, else the text box."""
    upload = st.file_uploader(
        "Your model's .py file",
        type=["py"],
        key="cv_src_file",
        help=f"Parsed, never run or imported. Up to {caps.MAX_SOURCE_TEXT:,} characters.",
    )
    if upload is not None:
        data = upload.getvalue()
        if len(data) > 4 * caps.MAX_SOURCE_TEXT:
            raise ConfigError(
                "source",
                f"the file has {len(data):,} bytes; the converter reads files of up to "
                f"{caps.MAX_SOURCE_TEXT:,} characters: upload the file that defines the model",
            )
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError("source", "the file is not UTF-8 text: upload a .py file") from None
    return st.text_area(
        "…or paste it here",
        key="cv_src",
        height=300,
        max_chars=caps.MAX_SOURCE_TEXT,
        help="Parsed, never run. Formatting, comments and every other line are kept.",
    )


def _calls_table(result: SourceConversion) -> None:
    rows = [
        {
            "line": call.line,
            "call": call.original,
            "becomes": call.replacement if call.converted else "unchanged",
            "method": call.method or "",
            "exact": {True: "exact", False: "same size", None: ""}[call.exact],
            "note": call.reason,
        }
        for call in result.calls
    ]
    st.table(pd.DataFrame(rows), hide_index=True, border="horizontal")


def _results(result: SourceConversion, method: str) -> None:
    a, b = st.columns(2)
    a.metric("ConvTranspose2d calls found", len(result.calls))
    b.metric("Rewritten", result.converted)
    if not result.calls:
        st.info("No call resolves to torch.nn.ConvTranspose2d in this file.")
        return
    left = [c for c in result.calls if not c.converted]
    if left:
        st.warning(
            f"{len(left)} of {len(result.calls)} calls left unchanged, each with a comment on "
            "its line: the notes below say why.",
            icon=":material/warning:",
        )
    _calls_table(result)
    st.subheader("The change")
    st.caption("A unified diff: `patch -p0 < change.diff` applies it to model.py.")
    st.code(result.diff, language="diff", wrap_lines=True)
    a, b = st.columns(2)
    a.download_button(
        "Download the rewritten file",
        result.new_source,
        file_name="model.py",
        mime="text/x-python",
        icon=":material/download:",
        on_click="ignore",
        key="cv_src_dl",
    )
    b.download_button(
        "Download the diff",
        result.diff,
        file_name="change.diff",
        mime="text/x-diff",
        icon=":material/difference:",
        on_click="ignore",
        key="cv_src_diff",
    )
    if result.weight_code:
        st.subheader("Carry trained weights")
        st.caption(
            "Build the original model from your file before the rewrite with your checkpoint "
            "loaded, and the new one from the rewritten file; `load_from_original(new, "
            "original)` copies every weight, each ConvTranspose2d's rearranged for its exact "
            "stand-in, so the rewritten file is a drop-in."
        )
        text.code_block(result.weight_code, "load_from_original.py", key="cv_src_weights")
    elif result.converted:
        st.caption(
            f"{method} is another operator with the same sizes: its weights are fitted, not "
            "copied (`core.converter.live.convert_model` fits them on a live model)."
        )


def source_from_link(raw: str) -> str:
    """A source file from a link: packed (`ui.state.pack_text`), or plain.

    Args:
        raw: the link's `cv_src` value.

    Returns:
        The file's text; ValueError (in plain words) for a damaged or too long one.
    """
    return state.text_from_link(raw, caps.MAX_SOURCE_TEXT)


def _omitted_notice() -> None:
    """A link whose file could not travel says so, and the box starts empty."""
    state.omitted_notice(
        "cv_src_omitted",
        "cv_src",
        "The link you opened had a model file too long to travel in a link, so it is not "
        "here: ask its sender for the file itself, or upload or paste your own.",
    )


def _publish(source: str | None) -> None:
    """Put the file in the link, packed, where it is not the example; say where it cannot be."""
    custom = source is not None and source != SOURCE_EXAMPLE
    if state.publish_packed("cv_src", "cv_src_omitted", source if custom else None):
        st.caption(
            "This file does not fit in a link even compressed: the address bar says so, and "
            "whoever opens it is told that the file was not carried. Share the file itself."
        )


def source_section(method: str) -> None:
    """The "Source file" mode of the converter page, for the chosen `method`.

    Args:
        method: the replacement method every call is rewritten with.
    """
    omitted = state.url_value("cv_src_omitted") is not None and state.url_value("cv_src") is None
    state.page_param("cv_src", "" if omitted else SOURCE_EXAMPLE, source_from_link)
    st.caption(
        "Upload or paste the Python file that defines your model. Every "
        "`nn.ConvTranspose2d(...)` call (also `torch.nn.ConvTranspose2d`, or an imported "
        "`ConvTranspose2d` under any name) is rewritten with the method you choose; channel "
        "arguments stay as you wrote them (`ngf * 8`), the geometry must be numbers or "
        "module-level constants. Everything else stays byte for byte. The file is parsed with "
        "LibCST, never run."
    )
    _omitted_notice()
    source = None
    try:
        source = _source_text()
        result = convert_source(source, method)
    except ConfigError as err:
        state.show_error(err)
        return
    finally:
        state.remember("cv_src", lambda _: None)  # kept across pages; the link gets it packed
        _publish(source if source is not None else st.session_state.get("cv_src"))
    _results(result, method)
