"""Layer designer: the layer's output size step by step, and every replacement with its code."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import ConfigError
from core.geometry.output_size import output_steps
from core.geometry.phases import even_overlap, taps_per_phase
from core.presets import PRESETS
from core.replacements.catalog import list_replacements, original_costs
from ui import routing, state, text
from ui.pipeline_view import pipelines_section

routing.require_router()


def picked_for_this_layer() -> None:
    """Callback of "Code for": the user's pick belongs to the layer on screen."""
    st.session_state["rep_for"] = st.session_state.get("rep_layer")


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
        st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch", key="ds_steps")
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
        rows = [
            {
                "replacement": r.name,
                "exact": r.exact,
                "output (px)": text.size(r.output_size),
                "params": r.params,
                "MACs": r.macs,
                "MACs vs original": r.macs / costs["macs"] if costs["macs"] else None,
                "peak memory": r.peak_memory,
                "alignment H, W (px)": ", ".join(f"{o:+g}" for o in r.alignment_offset),
                "checkerboard risk": "yes" if r.checkerboard_risk else "no",
                "why": r.checkerboard_reason,
            }
            for r in replacements
        ]
        st.dataframe(
            pd.DataFrame(rows),
            hide_index=True,
            width="stretch",
            height=36 * (len(rows) + 1) + 3,
            key="ds_table",
            column_config={
                "replacement": st.column_config.TextColumn(width="large", pinned=True),
                "exact": st.column_config.CheckboxColumn(
                    help="Same output as the ConvTranspose2d, to float precision"
                ),
                "params": st.column_config.NumberColumn(format="compact"),
                "MACs": st.column_config.NumberColumn(
                    format="compact", help="Multiply-adds for one input (batch 1)"
                ),
                "MACs vs original": st.column_config.NumberColumn(format="%.2f×"),
                "peak memory": st.column_config.NumberColumn(
                    format="bytes", help="Largest float32 tensor the forward pass creates"
                ),
                "why": st.column_config.TextColumn(width="large"),
            },
        )
        names = [r.name for r in replacements]
        # The code shown is the ranked-first replacement of the layer on screen, however the user
        # got here (sidebar, preset, link, solver); an explicit pick is kept only for the layer it
        # was made for (a link's pick was made by its sender for the link's layer).
        if "rep_for" not in st.session_state:
            st.session_state["rep_for"] = layer if state.url_value("rep") is not None else None
        state.page_param("rep", names[0], lambda raw: raw)
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
            "Left: the ConvTranspose2d as the ordinary convolution it is (Dumoulin & Visin "
            "2016): the input's pixels spread stride apart with zeros between them, padding "
            "d(k - 1) - p around (a negative amount crops), the flipped kernel sliding. Right: "
            f"the replacement picked above, {chosen.name}, as it runs, reaching the same "
            "output size."
        )
        pipelines_section(layer, cfg.input_size, chosen.method, "ds_pipe")
        st.page_link(
            "pages/overlap.py", label="See where the kernels overlap", icon=":material/grid_on:"
        )

st.caption(text.cite("odena", "dumoulin", "shi", "aitken"))
