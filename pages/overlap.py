"""Overlap: where the kernels of a transposed convolution pile up (the checkerboard), drawn.

Thin: each section reads its widgets, asks core for the numbers and hands them to
`ui.figures.overlap` to draw.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.errors import ConfigError
from core.geometry.layer import SPATIAL_NAMES, TransposedConv
from core.geometry.output_size import output_size
from core.overlap.counts import (
    OverlapStats,
    overlap_map,
    overlap_profile,
    overlap_stats,
    stack_overlap,
    stack_stage_maps,
)
from core.overlap.replacement_maps import replacement_overlap
from core.parsing import parse_int
from core.replacements import registry
from core.replacements.registry import DEFAULT_METHOD, METHODS
from ui import caps, inputs, routing, state, text
from ui.figures import overlap as figures
from ui.figures.cache import cached_figure
from ui.figures.style import PLOTLY_CONFIG
from ui.pipeline_view import pipelines_section

routing.require_router()

SHORT = {"kernel_size": "k", "stride": "s", "padding": "p", "output_padding": "op", "dilation": "d"}
LIMITS = {name: (state.FIELDS[name].minimum, state.FIELDS[name].maximum) for name in SPATIAL_NAMES}


def chart(key: str, build: Callable[[], go.Figure], *shown: Hashable) -> None:
    """Place the figure `build()` makes at the page's width, with the app's plotly toolbar.

    `shown`: every value the figure depends on (the layers' geometry, `TransposedConv.axes`: the
    maps count one channel; the input size; ...): the figure is built once per (key, *shown) and
    shared by all sessions (`ui.figures.cache`)."""
    fig = cached_figure((key, *shown), build)
    st.plotly_chart(fig, width="stretch", key=key, config=PLOTLY_CONFIG)


def panel_row(maps: dict[str, np.ndarray], heading: str, key: str, *shown: Hashable) -> None:
    """Maps side by side on one colour scale, one figure per column (the columns stack on a
    phone), under a heading, with the shared colour bar below. `shown`: every value the maps
    depend on (the figures are built once per (key, *shown), as `chart` does)."""
    panels, note = cached_figure(
        (key, *shown),
        lambda: figures.comparison_panels(maps, height=figures.panels_height(len(maps))),
    )
    st.markdown(f"**{heading}**{note}")
    for i, (column, fig) in enumerate(zip(st.columns(len(panels)), panels, strict=True)):
        with column:
            st.plotly_chart(fig, width="stretch", key=f"{key}_{i}", config=PLOTLY_CONFIG)
    chart(f"{key}_scale", lambda: figures.comparison_scale(maps), *shown)


def ratio_text(ratio: float) -> str:
    return "∞ (holes)" if math.isinf(ratio) else f"{ratio:.3g}"


# ----------------------------------------------------------------------------- one layer


def layer_metrics(stats: OverlapStats) -> None:
    """Output size, interior max/min, period and interior counts of one layer."""
    a, b, c, d = st.columns(4)
    a.metric("Output (H × W)", f"{text.size(stats.output_size)} px")
    b.metric(
        "Interior max / min",
        ratio_text(stats.overlap_ratio),
        help="Largest over smallest count away from the borders: 1 is even (no "
        "checkerboard from the geometry); ∞ means some pixels receive nothing.",
    )
    c.metric(
        "Pattern period (H × W)",
        f"{text.size(stats.period)} px",
        help="The interior counts repeat with this period (a divisor of the stride).",
    )
    d.metric(
        "Interior counts",
        f"{stats.interior_min} … {stats.interior_max}",
        help="Fewest and most contributions per output pixel in the interior.",
    )


def no_interior_note(cfg: state.LayerConfig) -> None:
    st.info(
        f"At {text.size(cfg.input_size)} px input every output pixel is a border pixel, so "
        "the map has no interior (no dashed box). The interior numbers above are the "
        "layer's own: the pattern it prints away from the borders of a larger input.",
        icon=":material/info:",
    )


def layer_heatmap(
    layer: TransposedConv, counts: np.ndarray, stats: OverlapStats, cfg: state.LayerConfig
) -> None:
    """The layer's overlap map, and how to read it."""
    left, right = st.columns([3, 1])
    with left:
        title = f"Contributions per output pixel · {text.size(cfg.input_size)} px input"
        chart(
            "ov_heatmap",
            lambda: figures.overlap_heatmap(
                counts, interior=stats.interior, title=title, height=figures.HEATMAP_HEIGHT
            ),
            layer.axes,
            cfg.input_size,
        )
    with right:
        st.markdown(
            "**Reading the map.** Each cell is an output pixel; its colour (and on maps up to "
            f"{figures.ANNOTATE_MAX} pixels a side, the number in it) says how many kernel taps "
            "reach it. The dashed box is the interior, free of border "
            "effects. Where kernel_size is not divisible by stride, neighbouring pixels get "
            "different counts: a periodic pattern the network must learn to cancel "
            "(Odena et al. 2016)."
        )
        st.caption(
            "One channel, all-ones input and kernel; the 2D map is the outer product "
            "of the per-axis profiles below."
        )


def profile_axes(layer: TransposedConv, cfg: state.LayerConfig) -> list[tuple[int, str]]:
    """(index, name) of the axes whose profiles to draw: W alone when H is the same."""
    differ = cfg.per_axis and (
        layer.axes[0] != layer.axes[1] or cfg.input_size[0] != cfg.input_size[1]
    )
    return [(0, "H"), (1, "W")] if differ else [(1, "W")]


def phase_rows(stats: OverlapStats) -> list[dict[str, object]]:
    """One table row per axis and output phase: which kernel taps reach it."""
    return [
        {
            "axis": name,
            "phase (o mod s)": phase,
            "taps": len(taps),
            "kernel taps j": ", ".join(map(str, taps)) or "none",
        }
        for name, table in zip("HW", stats.phase_tables[0], strict=True)
        for phase, taps in enumerate(table)
    ]


def layer_profiles(layer: TransposedConv, cfg: state.LayerConfig, stats: OverlapStats) -> None:
    """The per-axis profiles and the phase table, and how to read them."""
    axes = profile_axes(layer, cfg)
    left, right = st.columns([3, 1])
    with left:
        for index, name in axes:
            axis, size = layer.axes[index], cfg.input_size[index]
            label = name if len(axes) > 1 else "W (H is the same)"
            chart(
                f"ov_profile_{name}",
                lambda axis=axis, size=size, index=index, label=label, name=name: (
                    figures.overlap_bar(
                        overlap_profile(axis, size),
                        axis_name=name,
                        interior=stats.axes[index].interior,
                        title=f"Overlap profile along {label}",
                    )
                ),
                axis,
                size,
                label,
            )
        st.markdown("**Kernel taps per output phase** (away from the borders)")
        st.dataframe(
            pd.DataFrame(phase_rows(stats)), hide_index=True, width="stretch", key="ov_phases"
        )
    with right:
        st.markdown(
            "**One axis.** The same counts along a single row. Grey bands: the borders, where "
            "fewer input pixels reach. In the interior the pattern repeats every stride pixels."
        )
        st.markdown(
            "**Phases.** Output pixel o is in phase o mod s; the table lists which kernel taps "
            "reach each phase. Equal tap counts in every phase mean even overlap."
        )


def single_layer_section(layer: TransposedConv, cfg: state.LayerConfig) -> None:
    """Numbers, heatmap, 1D profile and phase table of the sidebar's layer."""
    n = cfg.input_arg()
    try:
        stats = overlap_stats(layer, n)
        counts = overlap_map(layer, n)
    except ConfigError as err:
        state.show_error(err)
        return
    layer_metrics(stats)
    if not stats.has_interior:
        no_interior_note(cfg)
    layer_heatmap(layer, counts, stats, cfg)
    layer_profiles(layer, cfg, stats)


# ----------------------------------------------------------------------------- stack builder


def parse_layer(part: str) -> tuple[int, ...]:
    """'4.2.1.0.1' -> (4, 2, 1, 0, 1): one layer's k.s.p.op.d, each within the app's limits."""
    values = part.split(".")
    if len(values) != len(SPATIAL_NAMES):
        raise ValueError(
            "each added layer needs five whole numbers k.s.p.op.d, such as 4.2.1.0.1, with _ "
            "between layers"
        )
    parsed = []
    for name, value in zip(SPATIAL_NAMES, values, strict=True):
        number = parse_int(value, name)
        err = inputs.range_error(number, *LIMITS[name], name, state.FIELDS[name].limit)
        if err is not None:
            raise err
        parsed.append(number)
    return tuple(parsed)


def parse_stack(raw: str) -> list[tuple[int, ...]]:
    """'3.2.1.1.1_4.2.1.0.1' -> [(3, 2, 1, 1, 1), (4, 2, 1, 0, 1)] (k, s, p, op, d per layer)."""
    if raw == "":
        return []
    parts = raw.split("_")
    if len(parts) > caps.MAX_STACK_LAYERS - 1:
        raise ValueError(
            f"{len(parts) + 1} layers are above the limit: {caps.explain('stack_layers')}"
        )
    return [parse_layer(part) for part in parts]


def format_stack(layers: list[tuple[int, ...]]) -> str:
    return "_".join(".".join(map(str, values)) for values in layers)


def geometry(layer: TransposedConv) -> tuple[int, ...]:
    """A layer's geometry along W (k, s, p, op, d): the starting point for a new layer."""
    return tuple(getattr(layer.axes[1], name) for name in SPATIAL_NAMES)


def _row_keys(i: int) -> list[str]:
    return [f"ov_l{i}_{SHORT[name]}" for name in SPATIAL_NAMES]


def add_layer(fallback: tuple[int, ...]) -> None:
    extra = list(st.session_state["ov_stack"])
    extra.append(extra[-1] if extra else fallback)
    st.session_state["ov_stack"] = extra


def repeat_layer_one(values: tuple[int, ...]) -> None:
    """Set every added layer to the sidebar layer's geometry (a generator repeats one block)."""
    extra = list(st.session_state["ov_stack"])
    for i in range(len(extra)):
        for key, value in zip(_row_keys(i), values, strict=True):
            st.session_state[key] = value
    st.session_state["ov_stack"] = [values] * len(extra)


def remove_layer() -> None:
    extra = list(st.session_state["ov_stack"])[:-1]
    for key in _row_keys(len(extra)):
        st.session_state.pop(key, None)
    st.session_state["ov_stack"] = extra


def layer_row(i: int, values: tuple[int, ...]) -> tuple[int, ...] | None:
    """One added layer's number inputs (layer i + 2); its current k, s, p, op, d, or None where a
    box holds a value outside its range (the box says why)."""
    columns = st.columns(6, vertical_alignment="bottom")
    columns[0].markdown(f"**Layer {i + 2}**")
    new_values = []
    for col, name, key, value in zip(columns[1:], SPATIAL_NAMES, _row_keys(i), values, strict=True):
        if key not in st.session_state:
            st.session_state[key] = value
        low, high = LIMITS[name]
        typed = inputs.int_input(
            col, name, key=key, minimum=low, maximum=high, limit=state.FIELDS[name].limit
        )
        new_values.append(typed)
    return None if None in new_values else tuple(new_values)


def stack_rows(layer: TransposedConv) -> list[tuple[int, ...]] | None:
    """The sidebar's layer and a row of inputs per added layer; the added layers' geometry, or
    None while a box holds a refused value."""
    state.page_param("ov_stack", [geometry(layer)] * 2, parse_stack)
    st.markdown(f"**Layer 1** (sidebar): `{layer.torch_repr()}`")
    kept = list(st.session_state["ov_stack"])
    rows = [layer_row(i, values) for i, values in enumerate(kept)]
    if None in rows:
        state.remember("ov_stack", format_stack)  # the last accepted stack stays in the link
        return None
    st.session_state["ov_stack"] = rows
    state.remember("ov_stack", format_stack)
    return rows


def stack_buttons(layer: TransposedConv, extra_layers: list[tuple[int, ...]]) -> None:
    """Add a layer, remove the last, or make every added layer like the sidebar's."""
    first = geometry(layer)
    left, right, repeat, _ = st.columns([1, 1, 1.4, 2.6])
    left.button(
        "Add layer",
        icon=":material/add:",
        on_click=add_layer,
        args=(first,),
        key="ov_add",
        disabled=len(extra_layers) >= caps.MAX_STACK_LAYERS - 1,
        help=f"Up to {caps.MAX_STACK_LAYERS} layers in all: {caps.explain('stack_layers')}.",
        width="stretch",
    )
    right.button(
        "Remove last",
        icon=":material/remove:",
        on_click=remove_layer,
        key="ov_remove",
        disabled=not extra_layers,
        width="stretch",
    )
    repeat.button(
        "All like layer 1",
        icon=":material/content_copy:",
        on_click=repeat_layer_one,
        args=(first,),
        key="ov_repeat",
        disabled=not extra_layers or all(v == first for v in extra_layers),
        help="Give every added layer the sidebar layer's kernel, stride, padding, "
        "output_padding and dilation (the added layers keep their own values otherwise).",
        width="stretch",
    )


def build_stack(layer: TransposedConv, extra_layers: list[tuple[int, ...]]) -> list[TransposedConv]:
    """The sidebar's layer followed by the added ones; ConfigError naming the layer at fault."""
    stack = [layer]
    channels = layer.out_channels
    for i, (k, s, p, op, d) in enumerate(extra_layers):
        try:
            stack.append(TransposedConv.make(channels, channels, k, s, p, op, dilation=d))
        except ConfigError as err:
            raise ConfigError(err.parameter, f"layer {i + 2}: {err.message}") from None
    return stack


def stack_map(stack: list[TransposedConv], counts: np.ndarray, stats: OverlapStats) -> None:
    """The stack's numbers and map, and how to read it."""
    a, b, c = st.columns(3)
    a.metric("Stack output (H × W)", f"{text.size(stats.output_size)} px")
    b.metric("Interior max / min", ratio_text(stats.overlap_ratio))
    c.metric("Pattern period (H × W)", f"{text.size(stats.period)} px")
    left, right = st.columns([3, 1])
    with left:
        chart(
            "ov_stack_heatmap",
            lambda: figures.overlap_heatmap(
                counts,
                interior=stats.interior,
                title=f"{len(stack)} stacked layers",
                height=figures.HEATMAP_HEIGHT,
            ),
            tuple(part.axes for part in stack),
            stats.input_size,
        )
    with right:
        st.markdown(
            "**The stack's map.** All-ones input through every layer with all-ones kernels. "
            "Stride-s layers in a row give a pattern whose period is the product of the "
            "strides: the coarse blotches of a generator's artifacts."
        )


def stage_maps(stack: list[TransposedConv], n: int | tuple[int, ...]) -> None:
    """On request, the map after each layer side by side."""
    state.page_param("ov_stages", False, state.flag)
    show_stages = st.toggle(
        "Show the map after each layer",
        key="ov_stages",
        help="Side by side, how the pattern compounds layer by layer (a larger page to draw).",
    )
    state.remember("ov_stages", lambda v: "1" if v else "0")
    if not show_stages or len(stack) < 2:
        return
    try:
        stages = stack_stage_maps(stack, n)
    except ConfigError as err:
        state.show_error(err)
        return
    shown = list(enumerate(stages))[-figures.MAX_PANELS :]
    panel_row(
        {f"after layer {i + 1}": m for i, m in shown},
        "After each layer (each map relative to its own maximum)",
        "ov_stages_chart",
        tuple(part.axes for part in stack),
        n,
    )


def stack_section(layer: TransposedConv, cfg: state.LayerConfig) -> None:
    """Add/remove layers after the sidebar's; the stack's map and how it builds up."""
    st.subheader("Stacked layers")
    st.caption(
        "A generator stacks several upsampling layers (4 → 8 → 16 → 32 → 64): each layer "
        "scatters the previous layer's uneven map again, so the patterns multiply. Layer 1 is "
        "the one in the sidebar; add layers below."
    )
    extra_layers = stack_rows(layer)
    if extra_layers is None:
        return
    stack_buttons(layer, extra_layers)
    n = cfg.input_arg()
    try:
        stack = build_stack(layer, extra_layers)
        counts = stack_overlap(stack, n)
        stats = overlap_stats(stack, n)
    except ConfigError as err:
        state.show_error(err)
        return
    stack_map(stack, counts, stats)
    stage_maps(stack, n)


# ----------------------------------------------------------------------------- replacements


def parse_methods(raw: str) -> list[str]:
    methods = [m for m in raw.split(",") if m]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or len(methods) > figures.MAX_PANELS - 1:
        raise ValueError(f"use up to {figures.MAX_PANELS - 1} of {', '.join(METHODS)}")
    return methods


def replacements_section(layer: TransposedConv, cfg: state.LayerConfig) -> None:
    st.subheader("Replacements side by side")
    st.caption(
        "The exact equivalents (sub-pixel, zero insertion) compute the same operator, so they "
        "keep the original's pattern. Resize-convolutions upsample first, then convolve with "
        "stride 1: every interior pixel gets the same count (Odena et al. 2016). A sub-pixel "
        "layer can also start artifact-free with ICNR initialisation (Aitken et al. 2017)."
    )
    state.page_param("ov_methods", ["subpixel", DEFAULT_METHOD], parse_methods)
    methods = st.multiselect(
        "Compare with", METHODS, key="ov_methods", max_selections=figures.MAX_PANELS - 1
    )
    state.remember("ov_methods", ",".join)
    n = cfg.input_arg()
    try:
        maps = {"ConvTranspose2d": overlap_map(layer, n)}
        for method in methods:
            maps[method] = replacement_overlap(method, layer, n)
    except ConfigError as err:
        state.show_error(err)
        return
    panel_row(
        maps,
        "The original and its replacements (each relative to its maximum)",
        "ov_compare",
        layer.axes,
        n,
        tuple(methods),
    )


# ----------------------------------------------------------------------------- gather view


def gather_section(layer: TransposedConv, cfg: state.LayerConfig) -> None:
    st.subheader("The other view: a convolution over the zero-inserted input")
    st.caption(
        "The same counts, gathered instead of scattered: each output cell is the flipped "
        "kernel's dot product with the input spread stride apart, zeros between, padded by "
        "d(k - 1) - p (Dumoulin & Visin 2016). Beside it, a replacement's own pipeline."
    )
    state.page_param("ov_pipe", DEFAULT_METHOD, state.one_of(METHODS))
    method = st.selectbox("Replacement drawn beside it", METHODS, key="ov_pipe")
    state.remember("ov_pipe")
    if registry.method(method).resize_mode is not None and max(layer.stride) == 1:
        st.info("With stride 1 there is nothing to upsample: pick an exact replacement.")
        return
    pipelines_section(layer, cfg.input_size, method, "ov_pipe_view")


# ----------------------------------------------------------------------------- animation


def animation_size(raw: str) -> int:
    """The animation's input size from a link: 1 to `MAX_ANIMATION_INPUT` pixels."""
    return parse_int(raw, "the animation's input size", 1, figures.MAX_ANIMATION_INPUT)


@st.fragment
def scatter_section(layer: TransposedConv, cfg: state.LayerConfig) -> None:
    """The scatter animation, in a fragment: its own slider reruns only this part."""
    st.subheader("One input pixel at a time")
    st.caption(
        "The transposed convolution as a scatter (Dumoulin & Visin 2016): each input pixel "
        "adds a copy of the kernel to the output, stride pixels apart; where copies overlap, "
        "counts add up. Press Play or drag the slider; the dashed box is what remains after "
        "cropping `padding`."
    )
    limit = figures.MAX_ANIMATION_INPUT
    state.page_param("ov_anim_n", min(max(cfg.input_size), 4), animation_size)
    small = st.slider(
        "Input size for the animation (px)",
        1,
        limit,
        key="ov_anim_n",
        help=f"One frame per input pixel, so at most {limit} × {limit}.",
    )
    state.remember("ov_anim_n")
    try:
        chart("ov_anim", lambda: figures.scatter_animation(layer, small), layer.axes, small)
    except ConfigError as err:
        state.show_error(err)
    state.sync_url()  # a fragment rerun does not reach app.py's sync


st.title("Overlap")
st.caption(
    "How many (input pixel, kernel tap) pairs land on each output pixel: the layer run on an "
    "all-ones input with an all-ones kernel. Uneven counts in the interior are the checkerboard "
    "that a transposed convolution prints even before training (Odena et al. 2016)."
)
_cfg = state.config()
_layer, _err = state.current_layer(_cfg)
if _layer is not None:
    try:  # the input must fit the layer too; otherwise every section would say so again
        output_size(_layer, _cfg.input_arg())
    except ConfigError as _size_err:
        _layer, _err = None, _size_err
if _layer is None:
    state.show_error(_err)
    st.info(
        "The overlap needs a layer and input size torch accepts: fix the parameter named "
        "above in the sidebar, or press **Reset everything**."
    )
else:
    single_layer_section(_layer, _cfg)
    stack_section(_layer, _cfg)
    replacements_section(_layer, _cfg)
    scatter_section(_layer, _cfg)
    gather_section(_layer, _cfg)
st.caption(text.cite("odena", "dumoulin", "shi", "aitken"))
