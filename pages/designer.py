"""Layer designer: the layer's output size step by step, and every replacement with its code."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import ConfigError
from core.geometry.changes import Change, changes_for, near_multiple
from core.geometry.output_size import output_steps
from core.geometry.phases import even_overlap, taps_per_phase
from core.parsing import parse_ints
from core.presets import PRESETS
from core.replacements.catalog import list_replacements, original_costs
from ui import caps, routing, state, text
from ui.pipeline_view import pipelines_section

routing.require_router()

CHANGES_SHOWN = 6  # ways to reach a wanted output listed at first
BOUNDS = {
    "max_kernel": caps.MAX_KERNEL,
    "max_stride": caps.MAX_STRIDE,
    "max_padding": caps.MAX_PADDING,
}


def picked_for_this_layer() -> None:
    """Callback of "Code for": the user's pick belongs to the layer on screen."""
    st.session_state["rep_for"] = st.session_state.get("rep_layer")


def parse_wanted(raw: str) -> tuple[int, ...] | None:
    """'32' or '32, 48' (H, W) -> sizes; '' -> None; ConfigError naming `wanted` otherwise."""
    if not raw.strip():
        return None
    wanted = parse_ints(raw, "wanted", minimum=1, counts=(1, 2), example="32 or 32, 48")
    for value in wanted:
        if value > caps.MAX_SOLVER_SIZE:
            raise ConfigError(
                "wanted", f"wanted {value:,} px is above the limit: {caps.explain('solver_size')}"
            )
    return wanted


def valid_wanted(raw: str) -> str:
    parse_wanted(raw)
    return raw


def load_change(change: Change, input_size: tuple[int, int]) -> None:
    """Callback of a change's button: the sidebar takes the changed layer."""
    state.load_config(
        state.LayerConfig.from_layer(change.layer, input_size),
        {"ds_want": st.session_state.get("ds_want", "")},
    )


def change_button(change: Change, input_size: tuple[int, int], key: str, primary: bool) -> None:
    st.button(
        change.instruction[0].upper() + change.instruction[1:],
        key=key,
        icon=":material/tune:",
        type="primary" if primary else "secondary",
        on_click=load_change,
        args=(change, input_size),
        help=f"{change.description}: {change.layer.torch_repr()} gives "
        f"{text.size(change.output_size)} px ({change.overlap_note}).",
    )


def off_by_one(layer, cfg: state.LayerConfig) -> None:
    """Said without being asked: an output one short of or one past stride × input."""
    found = near_multiple(layer, cfg.input_arg(), **BOUNDS)
    if found is None:
        return
    with st.container(border=True):
        st.markdown(f":material/lightbulb: {state.escape_markdown(found.message)}")
        columns = st.columns(max(len(found.fixes), 1) + 1)
        for i, fix in enumerate(found.fixes):
            with columns[i]:
                change_button(fix, cfg.input_size, f"ds_fix_{i}", primary=i == 0)


def wanted_output(layer, cfg: state.LayerConfig, out_size: tuple[int, ...]) -> None:
    """The output you need -> the changes of one or two parameters that give it."""
    state.page_param("ds_want", "", valid_wanted)
    left, right = st.columns([1, 3], vertical_alignment="bottom")
    raw = left.text_input(
        "Wanted output (px)",
        key="ds_want",
        placeholder=f"e.g. {out_size[0] + 1}",
        help="The output size you need: one number, or two for H, W. Below: the changes of one "
        "or two parameters (output_padding, kernel_size, padding, stride) that give it from "
        "this layer, best first.",
    )
    state.remember("ds_want")
    try:
        wanted = parse_wanted(raw)
    except ConfigError as err:
        state.show_error(err)
        return
    if wanted is None:
        right.caption(
            "Type the output size you need: the changes that reach it appear here, ranked as "
            "the solver ranks (even overlap first, no output_padding first)."
        )
        return
    target = wanted * 2 if len(wanted) == 1 else wanted
    if tuple(target) == tuple(out_size):
        right.success(
            f"This layer gives {text.size(out_size)} px already.", icon=":material/check:"
        )
        return
    found = changes_for(layer, cfg.input_size, target, **BOUNDS)
    if not found:
        right.warning(
            f"No change of one or two parameters (output_padding, kernel_size, padding, "
            f"stride, within the app's limits) takes {text.size(cfg.input_size)} to "
            f"{text.size(target)} px. The Size solver searches every configuration.",
            icon=":material/search_off:",
        )
        return
    right.caption(
        f"{len(found)} way(s) to get {text.size(target)} px from {text.size(cfg.input_size)}, "
        "best first (even overlap, no holes, no output_padding, fewer changes). A button "
        "loads the change into the sidebar."
    )
    for i, change in enumerate(found[:CHANGES_SHOWN]):
        change_row(change, cfg.input_size, i)
    if len(found) > CHANGES_SHOWN:
        with st.expander(f"{len(found) - CHANGES_SHOWN} more"):
            for i, change in enumerate(found[CHANGES_SHOWN:], start=CHANGES_SHOWN):
                change_row(change, cfg.input_size, i)


def change_row(change: Change, input_size: tuple[int, int], i: int) -> None:
    button, what = st.columns([2, 3], vertical_alignment="center")
    with button:
        change_button(change, input_size, f"ds_change_{i}", primary=i == 0)
    what.markdown(
        f"`{change.layer.torch_repr()}` → **{text.size(change.output_size)} px** · "
        f"{change.overlap_note}"
    )


st.title("Layer designer")
st.caption(
    "Set the `nn.ConvTranspose2d` in the sidebar. Below: its output size with the arithmetic, "
    "and every replacement that keeps that size exactly, with copy-paste code."
)
cfg = state.config()

# ----------------------------------------------------------------------------- presets
with st.expander("Start from a preset", icon=":material/bookmarks:"):
    by_key = {p.key: p for p in PRESETS}
    choice = st.selectbox(
        "Preset",
        list(by_key),
        key="ds_preset",
        format_func=lambda k: (
            f"{by_key[k].title} · {by_key[k].layer.torch_repr()} on "
            f"{by_key[k].input_size}×{by_key[k].input_size}"
        ),
    )
    st.caption(by_key[choice].note)
    st.button(
        "Load preset",
        icon=":material/download:",
        key="ds_load_preset",
        on_click=lambda: state.load_config(
            state.LayerConfig.from_layer(by_key[choice].layer, by_key[choice].input_size)
        ),
    )
    st.page_link(
        "pages/presets.py",
        label="All presets, and the article's wrong replacements",
        icon=":material/arrow_forward:",
    )

layer, err = state.current_layer(cfg)
steps = None
if err is None:
    try:
        steps = output_steps(layer, cfg.input_arg())
    except ConfigError as size_err:
        err = size_err
if err is not None:
    state.show_error(err)
    st.info(
        "Fix the parameter named above in the sidebar (or press **Reset everything**); the "
        "output size and the replacements appear as soon as torch would accept the layer."
    )

if layer is not None:
    in_shape = text.shape(layer.in_channels, cfg.input_size)
    if steps is None:
        st.code(f"layer = {layer.torch_repr()}", language="python")
    else:
        out_size = tuple(s.output for s in steps)
        out_shape = text.shape(layer.out_channels, out_size)
        phases = [taps_per_phase(a) for a in layer.axes]
        even = all(even_overlap(a) for a in layer.axes)
        costs = original_costs(layer, cfg.input_arg())

        a, b, c, d = st.columns(4)
        a.metric("Input (H × W)", f"{text.size(cfg.input_size)} px")
        b.metric("Output (H × W)", f"{text.size(out_size)} px")
        c.metric(
            "Kernel overlap",
            "even" if even else "uneven",
            help="Kernel taps per output phase (position mod stride), per axis: "
            + "; ".join(f"{n} {p}" for n, p in zip("HW", phases, strict=True))
            + ". Uneven tap counts print a checkerboard even with uniform weights "
            "(Odena et al. 2016).",
        )
        d.metric(
            "Multiply-adds",
            text.count(costs["macs"]),
            help=f"{costs['macs']:,} MACs for one input; {costs['params']:,} parameters.",
        )
        st.code(
            f"layer = {layer.torch_repr()}  # {in_shape} -> {out_shape}",
            language="python",
            wrap_lines=True,
        )
        off_by_one(layer, cfg)
        wanted_output(layer, cfg, out_size)

        st.subheader("Output size, step by step")
        st.caption(
            "torch's formula per spatial axis (Dumoulin & Visin 2016, relationship 14 with "
            "output_padding): each input pixel moves the output on by s; the kernel adds its "
            "dilated extent d(k - 1); padding crops p from both ends; output_padding adds op "
            "rows/columns at the end."
        )
        table = []
        for step in steps:
            row = {"axis": step.axis, "in": step.input}
            for term in step.terms:
                row[term.label] = (
                    term.expression
                    if term.expression == str(term.value)
                    else f"{term.expression} = {term.value}"
                )
            row["out"] = step.output
            table.append(row)
        st.table(pd.DataFrame(table), hide_index=True, border="horizontal")
        st.markdown("  \n".join(f"**{s.axis}**: `{s.substituted}` px" for s in steps))

        # ------------------------------------------------------------------- replacements
        st.subheader("Replacements")
        st.caption(
            "Exact equivalents give the same output to float precision: sub-pixel convolution "
            "(Shi et al. 2016) computes all output phases at the input's resolution with "
            "PixelShuffle; zero insertion runs an ordinary Conv2d over the zero-dilated input. "
            "Resize-convolutions (Odena et al. 2016) upsample, then convolve: even overlap, no "
            "checkerboard by construction, a different (not exactly equal) operator. Every row "
            "has exactly the output size above. Alignment: the shift of the replacement's "
            "output grid against the original's, in output pixels (0 lines up). Ranked: "
            "aligned first, then free of checkerboard risk, then small kernels, then symmetric "
            "padding; the first row is the recommended swap for a new model, an exact row the "
            "one for a trained model whose outputs must not change."
        )
        replacements = list_replacements(layer, cfg.input_arg())
        # Many rows share one explanation: each is written once, below the table, and the
        # table points to it (long text in a cell makes every row tall).
        notes = list(dict.fromkeys(r.checkerboard_reason for r in replacements))
        rows = [
            {
                "replacement": r.name,
                "exact": "yes" if r.exact else "no",
                "output (px)": text.size(r.output_size),
                "params": text.count(r.params),
                "MACs": text.count(r.macs),
                "MACs vs original": (f"{r.macs / costs['macs']:.2f}×" if costs["macs"] else "—"),
                "peak memory": text.nbytes(r.peak_memory),
                "alignment H, W (px)": ", ".join(f"{o:+g}" for o in r.alignment_offset),
                "checkerboard risk": ("yes" if r.checkerboard_risk else "no")
                + f" (note {notes.index(r.checkerboard_reason) + 1})",
            }
            for r in replacements
        ]
        # A static table: every row shown, text wrapped, nothing to load (st.dataframe scrolls
        # inside itself, cuts text and shows an empty box until its grid is drawn).
        st.table(pd.DataFrame(rows), hide_index=True, border="horizontal")
        st.markdown(
            "  \n".join(
                f"**Note {i}.** {state.escape_markdown(note)}" for i, note in enumerate(notes, 1)
            )
        )
        st.caption(
            "exact: the same output as the ConvTranspose2d to float precision · MACs: "
            "multiply-adds for one input (batch 1) · peak memory: the largest float32 tensor "
            "the forward pass creates."
        )
        names = [r.name for r in replacements]
        # The code shown is the ranked-first replacement of the layer on screen, however the user
        # got here (sidebar, preset, link, solver); an explicit pick is kept only for the layer it
        # was made for (a link's pick was made by its sender for the link's layer).
        if "rep_for" not in st.session_state:
            st.session_state["rep_for"] = layer if state.url_value("rep") is not None else None

        def listed(raw: str) -> str:
            if raw not in names:
                raise ValueError(
                    "it is not one of the replacements listed for this layer; the code shown "
                    f"is for the first one, {names[0]}"
                )
            return raw

        state.page_param("rep", names[0], listed)
        if st.session_state["rep_for"] != layer or st.session_state["rep"] not in names:
            st.session_state["rep"] = names[0]
            st.session_state["rep_for"] = None
        st.session_state["rep_layer"] = layer
        picked = st.selectbox("Code for", names, key="rep", on_change=picked_for_this_layer)
        state.remember("rep")
        chosen = replacements[names.index(picked)]
        base = text.slug(chosen.method + "_" + chosen.name)
        st.markdown(
            f"**{chosen.name}** · {'exact' if chosen.exact else 'not exact'} · output "
            f"{text.size(chosen.output_size)} px · {chosen.params:,} parameters · "
            f"{chosen.macs:,} MACs · alignment "
            f"{', '.join(f'{o:+g}' for o in chosen.alignment_offset)} px (H, W)"
        )
        st.caption(f"Checkerboard risk: {chosen.checkerboard_reason}")
        code_tab, weights_tab = st.tabs(["Replacement", "Carry trained weights"])
        with code_tab:
            st.caption("Self-contained: paste it, `layer` is the replacement module.")
            text.code_block(chosen.code, f"{base}.py", key="ds_dl_code")
        with weights_tab:
            st.caption(
                "Builds the replacement and copies the weights of an existing "
                "`nn.ConvTranspose2d` named `original` into it"
                + (
                    " (exactly)."
                    if chosen.exact
                    else " (least-squares fit: the closest resize-conv to the trained operator). "
                    "It prints the fit's relative error: a resize-conv cannot reproduce a "
                    "checkerboard-prone layer exactly, so fine-tune after the transfer."
                )
            )
            text.code_block(chosen.weight_code, f"{base}_weights.py", key="ds_dl_weights")

        st.subheader("See both run")
        st.caption(
            "First the ConvTranspose2d as the ordinary convolution it is (Dumoulin & Visin "
            "2016): the input's pixels spread stride apart with zeros between them, padding "
            "d(k - 1) - p around (a negative amount crops), the flipped kernel sliding. Below "
            f"it, the replacement picked above, {chosen.name}, as it runs, reaching the same "
            "output size."
        )
        pipelines_section(layer, cfg.input_size, chosen.method, "ds_pipe")
        st.page_link(
            "pages/overlap.py", label="See where the kernels overlap", icon=":material/grid_on:"
        )

st.caption(text.cite("odena", "dumoulin", "shi", "aitken"))
