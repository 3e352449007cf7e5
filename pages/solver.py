"""Size solver: wanted input and output sizes (or a chain of sizes) -> every layer for it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import ConfigError
from core.geometry.keras import from_keras
from core.geometry.output_size import output_steps
from core.geometry.solver import (
    MAX_DILATION,
    MAX_KERNEL,
    MAX_STRIDE,
    Solution,
    explain_no_solution,
    solve,
    solve_chain,
)
from core.parsing import parse_ints
from ui import caps, routing, state, text

routing.require_router()

st.title("Size solver")
st.caption(
    "Give the spatial size you have and the size you need; get every `ConvTranspose2d` "
    "configuration (per axis, square) that produces it exactly, best first. A chain such as "
    "4, 8, 16, 32, 64 asks for one configuration that works at every step of a generator."
)

MODES = ("one", "chain")
MODE_LABELS = {
    "one": "One layer: input → output",
    "chain": "A chain of sizes (one config, repeated)",
}


def parse_sizes(raw: str) -> list[int]:
    """'4, 8, 16' -> [4, 8, 16]; ConfigError naming `sizes` for anything else."""
    sizes = list(parse_ints(raw.replace("→", ","), "sizes", example="4, 8, 16, 32"))
    if len(sizes) > caps.MAX_CHAIN_SIZES:
        raise ConfigError(
            "sizes",
            f"at most {caps.MAX_CHAIN_SIZES} sizes in the demo, got "
            f"{len(sizes)}: shorten the chain",
        )
    if any(s > caps.MAX_SOLVER_SIZE for s in sizes):
        raise ConfigError("sizes", f"sizes are capped at {caps.MAX_SOLVER_SIZE} px in the demo")
    return sizes


def _valid_chain(raw: str) -> str:
    parse_sizes(raw)
    return raw


state.page_param("sv_mode", "one", state.one_of(MODES))
state.page_param("sv_in", 16, state.bounded_int(1, caps.MAX_SOLVER_SIZE))
state.page_param("sv_out", 32, state.bounded_int(1, caps.MAX_SOLVER_SIZE))
state.page_param("sv_chain", "4, 8, 16, 32, 64", _valid_chain)
state.page_param("sv_maxk", 8, state.bounded_int(1, MAX_KERNEL))
state.page_param("sv_maxs", 8, state.bounded_int(1, MAX_STRIDE))
state.page_param("sv_maxd", 1, state.bounded_int(1, MAX_DILATION))

mode = st.segmented_control(
    "Question", MODES, format_func=MODE_LABELS.get, key="sv_mode", required=True
)
state.remember("sv_mode")
sizes: list[int] | None = None
error: ConfigError | None = None
if mode == "chain":
    raw = st.text_input(
        "Sizes along one axis (px), comma separated",
        key="sv_chain",
        help="One layer configuration is used for every step, as in a DCGAN "
        "generator where every block doubles the size.",
    )
    state.remember("sv_chain")
    try:
        sizes = parse_sizes(raw)
    except ConfigError as err:
        error = err
else:
    left, right = st.columns(2)
    n_in = left.number_input("Input size (px)", 1, caps.MAX_SOLVER_SIZE, key="sv_in")
    n_out = right.number_input("Wanted output size (px)", 1, caps.MAX_SOLVER_SIZE, key="sv_out")
    state.remember("sv_in")
    state.remember("sv_out")
    sizes = [int(n_in), int(n_out)]

with st.expander("Search bounds"):
    a, b, c = st.columns(3)
    max_k = a.number_input("max kernel_size", 1, MAX_KERNEL, key="sv_maxk")
    max_s = b.number_input("max stride", 1, MAX_STRIDE, key="sv_maxs")
    max_d = c.number_input(
        "max dilation",
        1,
        MAX_DILATION,
        key="sv_maxd",
        help="Dilated transposed convolutions are rare in decoders; raise this to see them.",
    )
    for key in ("sv_maxk", "sv_maxs", "sv_maxd"):
        state.remember(key)

solutions: list[Solution] = []
if error is None and sizes is not None:
    try:
        bounds = {"max_kernel": int(max_k), "max_stride": int(max_s), "max_dilation": int(max_d)}
        solutions = (
            solve(sizes[0], sizes[1], **bounds) if mode == "one" else solve_chain(sizes, **bounds)
        )
    except ConfigError as err:
        error = err
if error is not None:
    state.show_error(error)

base = state.config()


def config_for(solution: Solution, input_size: int) -> state.LayerConfig:
    """The shared layer's channels with this solution's geometry, square, on `input_size`."""
    pair = lambda v: (v, v)  # noqa: E731
    return state.LayerConfig(
        in_channels=base.in_channels,
        out_channels=base.out_channels,
        groups=base.groups,
        bias=base.bias,
        kernel_size=pair(solution.kernel_size),
        stride=pair(solution.stride),
        padding=pair(solution.padding),
        output_padding=pair(solution.output_padding),
        dilation=pair(solution.dilation),
        input_size=pair(input_size),
        per_axis=False,
    )


if error is None and sizes is not None:
    chain = " → ".join(map(str, sizes))
    if not solutions:
        why = explain_no_solution(sizes, **bounds)
        st.warning(f"No configuration within the bounds maps {chain}: {why}.")
    else:
        shown = solutions[: caps.MAX_SOLUTIONS_SHOWN]
        even = sum(s.even_overlap for s in solutions)
        st.subheader(f"{len(solutions)} configurations for {chain} px")
        st.caption(
            f"{even} of them have even kernel overlap (every output phase gets the same number "
            "of kernel taps: no checkerboard from the geometry; Odena et al. 2016). Ranked: even "
            "overlap first, layers with holes (pixels no tap reaches) last, then no "
            "output_padding, no dilation, about two taps per phase, small kernels. Open any "
            "row in the designer with its link."
            + (f" The first {len(shown)} are listed." if len(shown) < len(solutions) else "")
        )
        rows = [
            {
                "#": i + 1,
                "kernel_size": s.kernel_size,
                "stride": s.stride,
                "padding": s.padding,
                "output_padding": s.output_padding,
                "dilation": s.dilation,
                "overlap": "even" if s.even_overlap else "uneven",
                "notes": s.notes,
                "designer": state.link_for(config_for(s, sizes[0])),
            }
            for i, s in enumerate(shown)
        ]
        st.dataframe(
            pd.DataFrame(rows),
            hide_index=True,
            width="stretch",
            column_order=["#", "designer", *[c for c in rows[0] if c not in ("#", "designer")]],
            column_config={
                "designer": st.column_config.LinkColumn(
                    "designer", display_text="open ↗", help="Open in the Layer designer"
                ),
                "notes": st.column_config.TextColumn("notes", width="large"),
            },
            key="sv_table",
        )
        pick = st.selectbox(
            "Solution",
            range(len(shown)),
            key="sv_pick",
            format_func=lambda i: (
                f"#{i + 1}: k={shown[i].kernel_size}, s={shown[i].stride}, "
                f"p={shown[i].padding}, op={shown[i].output_padding}, d={shown[i].dilation}"
            ),
        )
        chosen = config_for(shown[pick], sizes[0])
        layer, err = state.current_layer(chosen)
        if layer is None:
            state.show_error(err)
        else:
            left, right = st.columns([4, 1], vertical_alignment="top")
            with left:
                st.code(f"layer = {layer.torch_repr()}", language="python", wrap_lines=True)
                steps = output_steps(layer, sizes[0])
                st.markdown(
                    f"Check, first step, per axis: `{steps[0].formula}`  \n"
                    f"`{steps[0].substituted}` px"
                )
            with right:
                if st.button(
                    "Open in the designer",
                    type="primary",
                    icon=":material/tune:",
                    key="sv_open",
                    width="stretch",
                ):
                    state.set_config(chosen)
                    st.switch_page("pages/designer.py")

st.divider()
st.subheader("Coming from Keras?")
st.caption(
    "Keras' `Conv2DTranspose` chooses its output size from `padding='same'|'valid'`; torch "
    "crops `padding` from both ends. Where Keras crops an odd total, torch needs one extra "
    "sample cropped at the end, or the grid is silently shifted by a pixel."
)
with st.form("keras"):
    a, b, c, d = st.columns(4)
    filters = a.number_input("filters", 1, caps.MAX_CHANNELS, 32)
    in_ch = b.number_input("input channels", 1, caps.MAX_CHANNELS, 64)
    k_size = c.number_input("kernel_size", 1, caps.MAX_KERNEL, 3)
    strides = d.number_input("strides", 1, caps.MAX_STRIDE, 2)
    a, b, c = st.columns(3)
    pad_mode = a.selectbox("padding", ["same", "valid"])
    op_text = b.selectbox("output_padding", ["None", *map(str, range(caps.MAX_STRIDE))])
    n_keras = c.number_input("input size (px)", 1, caps.MAX_INPUT, 16)
    submitted = st.form_submit_button("Translate")
if submitted:
    try:
        tr = from_keras(
            int(filters),
            int(k_size),
            int(strides),
            pad_mode,
            None if op_text == "None" else int(op_text),
            in_channels=int(in_ch),
            input_size=int(n_keras),
        )
    except ConfigError as err:
        state.show_error(err)
    else:
        st.markdown(
            f"Keras output: **{text.size(tr.keras_output_size)} px**; torch translation "
            f"gives **{text.size(tr.output_size)} px**."
        )
        for note in tr.notes:
            st.info(note)
        text.code_block(tr.code(), "keras_translation.py", key="sv_keras_dl")
