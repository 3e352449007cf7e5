"""Size solver: wanted input and output sizes, a chain of sizes, or a chain by its two ends ->
every layer (or module) for it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from core.errors import ConfigError
from core.geometry.chains import (
    Chain,
    chain_code,
    default_channels,
    explain_no_chain,
    solve_ends_shared,
)
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
from ui import caps, inputs, routing, state, text

routing.require_router()

st.title("Size solver")
st.caption(
    "Give the spatial size you have and the size you need; get every `ConvTranspose2d` "
    "configuration (per axis, square) that produces it exactly, best first. A chain such as "
    "4, 8, 16, 32, 64 asks for one configuration that works at every step of a generator; "
    "a chain by its ends (7 to 28 in two layers) lets the solver choose the sizes in between "
    "and gives the whole module."
)

MODES = ("one", "chain", "ends")
MODE_LABELS = {
    "one": "One layer: input → output",
    "chain": "A chain of sizes (one config, repeated)",
    "ends": "From one size to another in N layers",
}
FEWEST = "fewest"
LAYER_CHOICES = (FEWEST, *map(str, range(1, caps.MAX_CHAIN_LAYERS + 1)))
TABLE_ROWS = 20  # rows of a solutions table shown at once; the rest in an expander
CHAINS_SHOWN = 20


def size_input(where: Any, label: str, key: str, what: str) -> int | None:
    """A size box (px) within the solver's size limit; None after saying why a value is refused."""
    return inputs.int_input(
        where,
        label,
        key=key,
        minimum=1,
        maximum=caps.MAX_SOLVER_SIZE,
        limit="solver_size",
        what=what,
    )


def parse_sizes(raw: str) -> list[int]:
    """'4, 8, 16' -> [4, 8, 16]; ConfigError naming `sizes` for anything else."""
    sizes = list(parse_ints(raw.replace("→", ","), "sizes", example="4, 8, 16, 32"))
    if len(sizes) > caps.MAX_CHAIN_SIZES:
        raise ConfigError(
            "sizes",
            f"{len(sizes)} sizes are above the limit: {caps.explain('chain_sizes')}",
        )
    for s in sizes:
        if s > caps.MAX_SOLVER_SIZE:
            raise ConfigError(
                "sizes", f"size {s:,} is above the limit: {caps.explain('solver_size')}"
            )
    return sizes


def _valid_chain(raw: str) -> str:
    parse_sizes(raw)
    return raw


def parse_channels(raw: str, layers: int) -> tuple[int, ...] | None:
    """'64, 32, 3' -> channel counts for `layers` layers; '' -> None (automatic)."""
    if not raw.strip():
        return None
    count = len([part for part in raw.replace(";", ",").replace(",", " ").split() if part])
    if count != layers + 1:
        raise ConfigError(
            "channels",
            f"give {layers + 1} numbers for {layers} layer(s): the input's channels, then each "
            f"layer's output channels (got {count}), or leave the box empty",
        )
    values = parse_ints(
        raw,
        "channels",
        minimum=1,
        counts=(layers + 1,),
        example=", ".join(["64", "32", "16", "8", "4"][: layers + 1]),
    )
    for c in values:
        if c > caps.MAX_CHANNELS:
            raise ConfigError(
                "channels", f"{c:,} channels are above the limit: {caps.explain('channels')}"
            )
    return values


def _short_text(raw: str) -> str:
    if len(raw) > 200:
        raise ValueError("the channel list is longer than 200 characters")
    return raw


def parse_layers(raw: str) -> str:
    """'fewest' or a layer count within the limit, from a link."""
    if raw == FEWEST:
        return raw
    return str(state.bounded_int(1, caps.MAX_CHAIN_LAYERS, "chain_layers")(raw))


def to_ends(start: int, end: int) -> None:
    """Callback: ask the two sizes of a chain by its ends instead."""
    state.set_page_values({"sv_mode": "ends", "sv_from": start, "sv_to": end})


state.page_param("sv_mode", "one", state.one_of(MODES))
state.page_param("sv_in", 16, state.bounded_int(1, caps.MAX_SOLVER_SIZE, "solver_size"))
state.page_param("sv_out", 32, state.bounded_int(1, caps.MAX_SOLVER_SIZE, "solver_size"))
state.page_param("sv_chain", "4, 8, 16, 32, 64", _valid_chain)
state.page_param("sv_from", 7, state.bounded_int(1, caps.MAX_SOLVER_SIZE, "solver_size"))
state.page_param("sv_to", 28, state.bounded_int(1, caps.MAX_SOLVER_SIZE, "solver_size"))
state.page_param("sv_layers", "2", parse_layers)
state.page_param("sv_ch", "", _short_text)
state.page_param("sv_maxk", 8, state.bounded_int(1, MAX_KERNEL))
state.page_param("sv_maxs", 8, state.bounded_int(1, MAX_STRIDE))
state.page_param("sv_maxd", 1, state.bounded_int(1, MAX_DILATION))
# The chain picked among those listed, by its rank (1 = the best); kept as the box's index.
state.page_param("sv_chain_pick", 0, lambda raw: state.bounded_int(1, CHAINS_SHOWN)(raw) - 1)

mode = st.segmented_control(
    "Question", MODES, format_func=MODE_LABELS.get, key="sv_mode", required=True
)
state.remember("sv_mode")
sizes: list[int] | None = None
ends: tuple[int, int] | None = None
layers_wanted: int | None = None
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
elif mode == "ends":
    left, middle, right = st.columns(3)
    start = size_input(left, "From (px)", "sv_from", "the start size")
    end = size_input(middle, "To (px)", "sv_to", "the end size")
    choice = right.selectbox(
        "Layers",
        LAYER_CHOICES,
        key="sv_layers",
        format_func=lambda v: "the fewest that work" if v == FEWEST else v,
        help="How many ConvTranspose2d layers the module has; the solver chooses the sizes "
        f"in between (at most {caps.MAX_CHAIN_LAYERS} layers: {caps.explain('chain_layers')}).",
    )
    for key in ("sv_from", "sv_to", "sv_layers"):
        state.remember(key)
    if start is not None and end is not None:
        ends = (start, end)
        layers_wanted = None if choice == FEWEST else int(choice)
else:
    left, right = st.columns(2)
    n_in = size_input(left, "Input size (px)", "sv_in", "the input size")
    n_out = size_input(right, "Wanted output size (px)", "sv_out", "the wanted output size")
    state.remember("sv_in")
    state.remember("sv_out")
    if n_in is not None and n_out is not None:
        sizes = [n_in, n_out]

with st.expander("Search bounds"):
    a, b, c = st.columns(3)
    max_k = inputs.int_input(
        a, "max kernel_size", key="sv_maxk", minimum=1, maximum=MAX_KERNEL, what="max kernel_size"
    )
    max_s = inputs.int_input(
        b, "max stride", key="sv_maxs", minimum=1, maximum=MAX_STRIDE, what="max stride"
    )
    max_d = inputs.int_input(
        c,
        "max dilation",
        key="sv_maxd",
        minimum=1,
        maximum=MAX_DILATION,
        what="max dilation",
        help="Dilated transposed convolutions are rare in decoders; raise this to see them.",
    )
    for key in ("sv_maxk", "sv_maxs", "sv_maxd"):
        state.remember(key)
bounds_ok = None not in (max_k, max_s, max_d)
bounds = {"max_kernel": max_k, "max_stride": max_s, "max_dilation": max_d}

base = state.config()


def config_for(solution: Solution, input_size: int, channels: tuple[int, int] | None = None):
    """The shared layer's channels (or `channels`) with this solution's geometry, square, on
    `input_size`."""
    pair = lambda v: (v, v)  # noqa: E731
    in_ch, out_ch = channels or (base.in_channels, base.out_channels)
    return state.LayerConfig(
        in_channels=in_ch,
        out_channels=out_ch,
        groups=base.groups if channels is None else 1,
        bias=base.bias,
        kernel_size=pair(solution.kernel_size),
        stride=pair(solution.stride),
        padding=pair(solution.padding),
        output_padding=pair(solution.output_padding),
        dilation=pair(solution.dilation),
        input_size=pair(input_size),
        per_axis=False,
    )


def designer_link(cfg: state.LayerConfig) -> str:
    """A markdown link that opens `cfg` in the designer (built from numbers only)."""
    return f"[open ↗]({state.link_for(cfg)})"


def solutions_table(shown: list[Solution], first_size: int) -> None:
    """The solutions as a static table (every row visible, notes wrapped), TABLE_ROWS at once."""
    rows = [
        {
            "rank": i + 1,
            "designer": designer_link(config_for(s, first_size)),
            "kernel_size": s.kernel_size,
            "stride": s.stride,
            "padding": s.padding,
            "output_padding": s.output_padding,
            "dilation": s.dilation,
            "overlap": "even" if s.even_overlap else "uneven",
            "notes": s.notes,
        }
        for i, s in enumerate(shown)
    ]
    st.table(pd.DataFrame(rows[:TABLE_ROWS]), hide_index=True, border="horizontal")
    if len(rows) > TABLE_ROWS:
        with st.expander(f"{len(rows) - TABLE_ROWS} more"):
            st.table(pd.DataFrame(rows[TABLE_ROWS:]), hide_index=True, border="horizontal")


def one_or_chain(sizes: list[int]) -> None:
    """The one-layer question, or one configuration repeated along a chain."""
    try:
        solutions = (
            solve(sizes[0], sizes[1], **bounds) if mode == "one" else solve_chain(sizes, **bounds)
        )
    except ConfigError as err:
        state.show_error(err)
        return
    chain = " → ".join(map(str, sizes))
    if mode == "chain" and len(sizes) == 2:
        with st.container(border=True):
            st.markdown(
                f"Two sizes ask the one-layer question: which single layer maps {chain} px. "
                "That is the answer below. To go from "
                f"{sizes[0]} to {sizes[1]} px in several layers, with the sizes in between "
                "chosen for you and the whole module as code, ask by the ends:"
            )
            st.button(
                f"From {sizes[0]} to {sizes[1]} px in N layers",
                key="sv_to_ends",
                icon=":material/linear_scale:",
                on_click=to_ends,
                args=(sizes[0], sizes[1]),
            )
    if not solutions:
        why = explain_no_solution(sizes, **bounds)
        st.warning(f"No configuration within the bounds maps {chain}: {why}.")
        return
    shown = solutions[: caps.MAX_SOLUTIONS_SHOWN]
    even = sum(s.even_overlap for s in solutions)
    st.subheader(f"{len(solutions)} configurations for {chain} px")
    st.caption(
        f"{even} of them have even kernel overlap (every output phase gets the same number "
        "of kernel taps: no checkerboard from the geometry; Odena et al. 2016). Ranked: even "
        "overlap first, layers with holes (pixels no tap reaches) last, then no "
        "output_padding, no dilation, about two taps per phase, small kernels. Open any "
        "row in the designer with its link."
        + (
            f" The first {len(shown)} are listed ({caps.explain('solutions_shown')})."
            if len(shown) < len(solutions)
            else ""
        )
    )
    solutions_table(shown, sizes[0])
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
        return
    left, right = st.columns([4, 1], vertical_alignment="top")
    with left:
        st.code(f"layer = {layer.torch_repr()}", language="python", wrap_lines=True)
        steps = output_steps(layer, sizes[0])
        st.markdown(
            f"Check, first step, per axis: `{steps[0].formula}`  \n`{steps[0].substituted}` px"
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


def chains_for(
    start: int, end: int, layers: int | None, bounds: tuple[int, int, int]
) -> tuple[Chain, ...]:
    """solve_ends, kept per question by core's byte-bounded cache (`solve_ends_shared`): a
    rerun that changes only the channels is instant.

    Args:
        start: the input size.
        end: the output size.
        layers: the number of layers, or None for the fewest.
        bounds: (max_kernel, max_stride, max_dilation).

    Returns:
        The chains, best first.
    """
    k, s, d = bounds
    return solve_ends_shared(
        start,
        end,
        layers,
        max_kernel=k,
        max_stride=s,
        max_dilation=d,
        max_layers=caps.MAX_CHAIN_LAYERS,
        limit=CHAINS_SHOWN,
        max_work=caps.MAX_CHAIN_SEARCH,
    )


def chain_summary(chain: Chain) -> str:
    return " · ".join(
        f"k{s.kernel_size} s{s.stride} p{s.padding}"
        + (f" op{s.output_padding}" if s.output_padding else "")
        + (f" d{s.dilation}" if s.dilation != 1 else "")
        for s in chain.steps
    )


def by_ends(start: int, end: int, layers: int | None) -> None:
    """Chains from `start` to `end` px: the sizes in between, each layer, the whole module."""
    chains = ranked_chains(start, end, layers)
    if not chains:
        return
    pick = chain_pick(chains)
    chain_module(chains[pick], start, end)


def ranked_chains(start: int, end: int, layers: int | None) -> list[Chain]:
    """The ranked chains from `start` to `end`, with their table; [] after saying why none."""
    try:
        chains = chains_for(start, end, layers, (max_k, max_s, max_d))
    except ConfigError as err:
        if err.parameter == "search":
            err = ConfigError(
                "search", f"{err.message}. {caps.explain('chain_search').capitalize()}"
            )
        state.show_error(err)
        return []
    if not chains:
        why = explain_no_chain(start, end, layers, **bounds, max_layers=caps.MAX_CHAIN_LAYERS)
        st.warning(f"No chain within the bounds maps {start} → {end} px: {why}.")
        return []
    count = chains[0].layers
    fewest = " (the fewest that work)" if layers is None else ""
    st.subheader(f"{start} → {end} px in {count} layer(s){fewest}")
    st.caption(
        "The solver chose the sizes in between: each layer keeps or grows the size, none "
        "passes the end, and each layer is the best configuration for its step. Chains are "
        "ranked by their layers' rank keys added up: even overlap first, no holes, no layer "
        "that only keeps the size, no output_padding, no dilation, each layer's output exactly "
        "stride × its input, equal strides (2, 2 before 4, 1), then about two taps per phase "
        f"and small kernels. The best {len(chains)} are listed."
    )
    st.table(pd.DataFrame(chain_rows(chains)), hide_index=True, border="horizontal")
    return list(chains)


def chain_rows(chains: Sequence[Chain]) -> list[dict[str, object]]:
    """One table row per ranked chain."""
    return [
        {
            "rank": i + 1,
            "sizes (px)": " → ".join(map(str, c.sizes)),
            "layers (k s p op d)": chain_summary(c),
            "overlap": "even"
            if c.even_overlap
            else f"uneven in {sum(not s.even_overlap for s in c.steps)} of {c.layers}",
            "output_padding": f"{c.output_paddings} layer(s)" if c.output_paddings else "none",
        }
        for i, c in enumerate(chains)
    ]


def chain_pick(chains: Sequence[Chain]) -> int:
    """The chain the user picked (kept in the link as its rank; a rank past the list says so)."""
    if st.session_state["sv_chain_pick"] >= len(chains):
        picked = st.session_state["sv_chain_pick"] + 1
        if state.url_value("sv_chain_pick") == str(picked):
            state.link_notice(
                "sv_chain_pick",
                picked,
                f"{len(chains)} chains are listed for these ends; showing the first",
            )
        st.session_state["sv_chain_pick"] = 0
    pick = st.selectbox(
        "Chain",
        range(len(chains)),
        key="sv_chain_pick",
        format_func=lambda i: f"#{i + 1}: {' → '.join(map(str, chains[i].sizes))}",
    )
    state.remember("sv_chain_pick", lambda i: str(i + 1))
    return pick


def chain_module(chain: Chain, start: int, end: int) -> None:
    """Channels for the picked chain, its layers (each a designer link) and the whole module."""
    automatic = default_channels(base.in_channels, base.out_channels, chain.layers)
    raw = st.text_input(
        "Channels: the input's, then each layer's output",
        key="sv_ch",
        placeholder=", ".join(map(str, automatic)),
        help=f"{chain.layers + 1} numbers. Empty: from the sidebar layer's in_channels, halving "
        "at each layer down to its out_channels.",
    )
    state.remember("sv_ch")
    try:
        channels = parse_channels(raw, chain.layers) or automatic
    except ConfigError as err:
        state.show_error(err)
        return
    layer_rows = []
    for i, step in enumerate(chain.steps):
        cfg = config_for(step, chain.sizes[i], (channels[i], channels[i + 1]))
        layer_rows.append(
            {
                "layer": i + 1,
                "designer": designer_link(cfg),
                "size (px)": f"{chain.sizes[i]} → {chain.sizes[i + 1]}",
                "channels": f"{channels[i]} → {channels[i + 1]}",
                "ConvTranspose2d": f"`{chain.layer(i, channels[i], channels[i + 1]).torch_repr()}`",
                "overlap": step.notes,
            }
        )
    st.table(pd.DataFrame(layer_rows), hide_index=True, border="horizontal")
    st.caption(
        "The whole module: paste it, `model` maps (N, "
        f"{channels[0]}, {start}, {start}) to (N, {channels[-1]}, {end}, {end}). Put your "
        "normalisation and activations between the layers (an `nn.ReLU()` is there)."
    )
    text.code_block(chain_code(chain, channels), f"chain_{start}_to_{end}.py", key="sv_chain_dl")


if error is not None:
    state.show_error(error)
elif bounds_ok and mode == "ends" and ends is not None:
    by_ends(*ends, layers_wanted)
elif bounds_ok and mode != "ends" and sizes is not None:
    one_or_chain(sizes)

st.divider()
st.subheader("Coming from Keras?")
st.caption(
    "Keras' `Conv2DTranspose` chooses its output size from `padding='same'|'valid'`; torch "
    "crops `padding` from both ends. Where Keras crops an odd total, torch needs one extra "
    "sample cropped at the end, or the grid is silently shifted by a pixel."
)
with st.form("keras"):
    a, b, c, d = st.columns(4)
    filters = inputs.int_input(
        a, "filters", minimum=1, maximum=caps.MAX_CHANNELS, limit="channels", value=32
    )
    in_ch = inputs.int_input(
        b, "input channels", minimum=1, maximum=caps.MAX_CHANNELS, limit="channels", value=64
    )
    k_size = inputs.int_input(
        c, "kernel_size", minimum=1, maximum=caps.MAX_KERNEL, limit="kernel_size", value=3
    )
    strides = inputs.int_input(
        d, "strides", minimum=1, maximum=caps.MAX_STRIDE, limit="stride", value=2
    )
    a, b, c = st.columns(3)
    pad_mode = a.selectbox("padding", ["same", "valid"])
    op_text = b.selectbox("output_padding", ["None", *map(str, range(caps.MAX_STRIDE))])
    n_keras = inputs.int_input(
        c, "input size (px)", minimum=1, maximum=caps.MAX_INPUT, limit="input_size", value=16
    )
    submitted = st.form_submit_button("Translate")
keras_values = (filters, in_ch, k_size, strides, n_keras)
if submitted and None not in keras_values:
    try:
        tr = from_keras(
            filters,
            k_size,
            strides,
            pad_mode,
            None if op_text == "None" else int(op_text),
            in_channels=in_ch,
            input_size=n_keras,
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
