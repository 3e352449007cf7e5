"""Plotly figures of kernel overlap: heatmaps, profiles, the scatter animation, comparisons.

Built here so that pages only place them. plotly and numpy only (no torch, no Streamlit).
Every figure uses a sequential colour scale (Viridis: readable in light and dark themes and for
colour-blind readers), a transparent background and no font colour of its own, so the host's
theme decides the text colour. Sizes are bounded: large maps are shown as a corner window and the
animation is limited to small inputs.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.errors import ConfigError
from core.geometry.layer import Axis, TransposedConv
from core.geometry.output_size import output_size

COLORSCALE = "Viridis"
ANNOTATE_MAX = 32  # grids up to this many cells per side get their counts printed in the cells
MAX_HEATMAP_SIDE = 256  # larger maps are shown as their top-left window of this size
MAX_PANELS = 6  # maps side by side in one comparison figure
MAX_ANIMATION_INPUT = 8  # input pixels per axis in the scatter animation (8 x 8 = 64 frames)
MAX_ANIMATION_CANVAS = 64  # output-canvas pixels per axis in the scatter animation
HIGHLIGHT = "#ff4b4b"  # the current pixel and its taps: reads on light and dark backgrounds

_TRANSPARENT = "rgba(0,0,0,0)"
_INPUT_STATES = [[0.0, "rgba(128,128,128,0.25)"], [0.5, "#21918c"], [1.0, HIGHLIGHT]]


def _layout(fig: go.Figure, title: str, **extra: Any) -> go.Figure:
    settings: dict[str, Any] = {
        "title": {"text": title, "x": 0.0, "xanchor": "left"},
        "template": "none",
        "paper_bgcolor": _TRANSPARENT,
        "plot_bgcolor": _TRANSPARENT,
        "margin": {"l": 60, "r": 20, "t": 70, "b": 50},
    }
    fig.update_layout(**{**settings, **extra})
    return fig


def _counts(counts: Any, ndim: int, name: str = "counts") -> np.ndarray:
    try:
        arr = np.asarray(counts)
    except (TypeError, ValueError) as e:
        raise ConfigError(name, f"{name} must be an array of numbers: {e}") from None
    if arr.ndim != ndim or arr.size == 0:
        hint = "use overlap_bar for a 1D profile" if arr.ndim == 1 else "pass a 2D slice"
        raise ConfigError(
            name, f"{name} must be a non-empty {ndim}D array, got shape {arr.shape}: {hint}"
        )
    if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
        raise ConfigError(name, f"{name} must hold finite numbers")
    return arr


def _window(arr: np.ndarray, max_side: int) -> tuple[np.ndarray, str]:
    """The top-left window of at most max_side per axis, and a note saying what was cut."""
    if isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 1:
        raise ConfigError("max_side", f"max_side must be a positive int, got {max_side!r}")
    if max(arr.shape) <= max_side:
        return arr, ""
    part = arr[tuple(slice(0, max_side) for _ in arr.shape)]
    shown = " × ".join(map(str, part.shape))
    full = " × ".join(map(str, arr.shape))
    return part, f" (top-left {shown} of {full}; the pattern repeats)"


def _cell_text(z: np.ndarray) -> list[list[str]]:
    if np.issubdtype(z.dtype, np.integer):
        return [[str(v) for v in row] for row in z.tolist()]
    return [[f"{v:.3g}" for v in row] for row in z.tolist()]


def _interior_box(interior: Sequence[Sequence[int]] | None, shape: tuple[int, ...]) -> list[dict]:
    """A dashed rectangle around the interior [start, stop) per axis (rows, cols), if non-empty."""
    if interior is None:
        return []
    try:
        (top, bottom), (left, right) = (tuple(int(v) for v in pair) for pair in interior)
    except (TypeError, ValueError):
        raise ConfigError(
            "interior",
            f"interior must be two (start, stop) pairs (rows, columns), got {interior!r}",
        ) from None
    bottom, right = min(bottom, shape[0]), min(right, shape[1])
    if top >= bottom or left >= right:
        return []
    box = {"type": "rect", "x0": left - 0.5, "x1": right - 0.5, "y0": top - 0.5, "y1": bottom - 0.5}
    return [  # a white line under the dashed one, so the box reads on every colour of the scale
        {**box, "line": {"color": "white", "width": 4}, "fillcolor": _TRANSPARENT},
        {
            **box,
            "line": {"color": HIGHLIGHT, "width": 2, "dash": "dash"},
            "fillcolor": _TRANSPARENT,
        },
    ]


def _count_colorbar(title: str, top: float, integers: bool) -> dict[str, Any]:
    """A colour bar whose ticks are whole counts where the values are counts."""
    bar: dict[str, Any] = {"title": {"text": title}}
    if integers:
        bar.update(tickformat="d", tickmode="linear", tick0=0, dtick=max(1, -(-int(top) // 8)))
    return bar


def _rect(xref: str, yref: str, xs: tuple, ys: tuple, color: str) -> dict[str, Any]:
    return {
        "type": "rect",
        "xref": xref,
        "yref": yref,
        "x0": xs[0],
        "x1": xs[1],
        "y0": ys[0],
        "y1": ys[1],
        "line": {"color": color, "width": 2},
        "fillcolor": _TRANSPARENT,
    }


def overlap_heatmap(
    counts: np.ndarray,
    title: str = "Kernel overlap: contributions per output pixel",
    *,
    annotate: bool | None = None,
    max_side: int = MAX_HEATMAP_SIDE,
    interior: Sequence[Sequence[int]] | None = None,
) -> go.Figure:
    """Heatmap of a 2D overlap map, row 0 at the top like an image.

    Counts are printed in the cells when both sides are at most `ANNOTATE_MAX` (or as
    `annotate` says); maps larger than `max_side` show their top-left window (title says so).
    `interior` (e.g. `OverlapStats.interior`) draws a dashed box around the interior.
    """
    full = _counts(counts, 2)
    z, note = _window(full, max_side)
    if annotate is None:
        annotate = max(z.shape) <= ANNOTATE_MAX
    trace: dict[str, Any] = {
        "z": z,
        "x": np.arange(z.shape[1]),
        "y": np.arange(z.shape[0]),
        "colorscale": COLORSCALE,
        "zmin": 0,
        "zmax": max(float(full.max()), 1.0),
        "colorbar": _count_colorbar(
            "overlap", max(float(full.max()), 1.0), np.issubdtype(full.dtype, np.integer)
        ),
        "hovertemplate": "row %{y}, column %{x}<br>overlap %{z}<extra></extra>",
    }
    if annotate:
        integers = np.issubdtype(z.dtype, np.integer)
        trace.update(texttemplate="%{z}" if integers else "%{z:.3~g}", xgap=1, ygap=1)
    fig = go.Figure(go.Heatmap(**trace))
    _layout(fig, title + note, shapes=_interior_box(interior, z.shape))
    fig.update_xaxes(
        title_text="output column (W)", showgrid=False, zeroline=False, constrain="domain"
    )
    fig.update_yaxes(
        title_text="output row (H)",
        autorange="reversed",
        scaleanchor="x",
        showgrid=False,
        zeroline=False,
        constrain="domain",
    )
    return fig


def overlap_bar(
    profile: np.ndarray,
    title: str = "Overlap profile",
    *,
    axis_name: str = "W",
    interior: Sequence[int] | None = None,
) -> go.Figure:
    """Bar chart of a 1D overlap profile (one axis); `interior` = (start, stop) shades the
    border regions outside it."""
    z = _counts(profile, 1, "profile")
    if len(z) > 4096:
        raise ConfigError("profile", f"profile has {len(z)} entries; bar charts take at most 4096")
    fig = go.Figure(
        go.Bar(
            x=np.arange(len(z)),
            y=z,
            # cmin below 0: a count of 1 is not the scale's darkest purple (invisible when dark)
            marker={"color": z, "colorscale": COLORSCALE, "cmin": -0.4 * max(float(z.max()), 1)},
            hovertemplate=f"{axis_name} position %{{x}}<br>overlap %{{y}}<extra></extra>",
            name="overlap",
        )
    )
    shapes = []
    if interior is not None:
        try:
            start, stop = (int(v) for v in interior)
        except (TypeError, ValueError):
            raise ConfigError(
                "interior", f"interior must be one (start, stop) pair, got {interior!r}"
            ) from None
        for x0, x1 in ((-0.5, start - 0.5), (stop - 0.5, len(z) - 0.5)):
            if x1 > x0:
                shapes.append(
                    {
                        "type": "rect",
                        "xref": "x",
                        "yref": "paper",
                        "x0": x0,
                        "x1": x1,
                        "y0": 0,
                        "y1": 1,
                        "fillcolor": "rgba(128,128,128,0.2)",
                        "line": {"width": 0},
                        "layer": "below",
                    }
                )
    _layout(fig, title, shapes=shapes, bargap=0.1, showlegend=False)
    fig.update_xaxes(title_text=f"output position along {axis_name}", zeroline=False)
    fig.update_yaxes(title_text="overlap (contributions)", rangemode="tozero")
    return fig


def comparison_figure(
    maps: Mapping[str, np.ndarray],
    title: str = "Overlap side by side",
    *,
    relative: bool = True,
    annotate: bool | None = None,
    max_side: int = MAX_HEATMAP_SIDE,
) -> go.Figure:
    """Heatmaps of several 2D overlap maps side by side on one colour scale (e.g. a layer and its
    replacements, from `core.overlap.replacement_maps.replacement_overlaps`).

    With `relative` each map is divided by its own maximum, so an even map is one flat colour
    whatever its count; hover shows the raw counts. Counts are printed for small panels.
    """
    if not isinstance(maps, Mapping) or not 1 <= len(maps) <= MAX_PANELS:
        raise ConfigError("maps", f"maps must be a dict of 1 to {MAX_PANELS} named 2D arrays")
    names = [str(name) for name in maps]
    arrays = [_window(_counts(m, 2, f"maps[{name!r}]"), max_side) for name, m in maps.items()]
    fig = make_subplots(rows=1, cols=len(arrays), subplot_titles=names, horizontal_spacing=0.04)
    notes = dict.fromkeys(note for _, note in arrays if note)  # the same cut, said once
    for col, (z, _) in enumerate(arrays, start=1):
        show = z.astype(np.float64)
        if relative:
            peak = float(show.max())
            show = show / peak if peak > 0 else show
        small = max(z.shape) <= ANNOTATE_MAX // 2
        trace: dict[str, Any] = {
            "z": show,
            "x": np.arange(z.shape[1]),
            "y": np.arange(z.shape[0]),
            "text": _cell_text(z),
            "coloraxis": "coloraxis",
            "hovertemplate": "row %{y}, column %{x}<br>overlap %{text}"
            + ("<br>relative to max %{z:.2f}" if relative else "")
            + "<extra></extra>",
        }
        if annotate or (annotate is None and small):
            trace.update(texttemplate="%{text}", xgap=1, ygap=1)
        fig.add_trace(go.Heatmap(**trace), row=1, col=col)
        fig.update_yaxes(
            autorange="reversed",
            scaleanchor=f"x{col if col > 1 else ''}",
            showgrid=False,
            zeroline=False,
            constrain="domain",
            showticklabels=col == 1,  # the panels share rows; labels would run into the left one
            row=1,
            col=col,
        )
        fig.update_xaxes(
            title_text="column (W)",
            showgrid=False,
            zeroline=False,
            constrain="domain",
            row=1,
            col=col,
        )
    fig.update_yaxes(title_text="row (H)", row=1, col=1)
    top = 1.0 if relative else max(float(z.max()) for z, _ in arrays)
    integers = not relative and all(np.issubdtype(z.dtype, np.integer) for z, _ in arrays)
    _layout(
        fig,
        title + "".join(notes),
        coloraxis={
            "colorscale": COLORSCALE,
            "cmin": 0,
            "cmax": max(top, 1e-12),
            "colorbar": _count_colorbar(
                "overlap / max" if relative else "overlap", max(top, 1.0), integers
            ),
        },
    )
    return fig


# --------------------------------------------------------------------------- scatter animation


def _animation_axes(layer_axis_params: Any) -> tuple[Axis, Axis, bool]:
    """(H axis, W axis, is_1d) from a TransposedConv, one Axis or a sequence of 1-2 Axis."""
    if isinstance(layer_axis_params, TransposedConv):
        axes = layer_axis_params.axes
    elif isinstance(layer_axis_params, Axis):
        axes = (layer_axis_params,)
    elif isinstance(layer_axis_params, Sequence) and all(
        isinstance(a, Axis) for a in layer_axis_params
    ):
        axes = tuple(layer_axis_params)
    else:
        raise ConfigError(
            "layer",
            "scatter_animation takes a TransposedConv, an Axis or a list of Axis (H, W), got "
            f"{type(layer_axis_params).__name__}",
        )
    if len(axes) == 1:
        return Axis(1, 1, 0, 0, 1), axes[0], True
    if len(axes) != 2:
        raise ConfigError("ndim", f"the scatter animation draws 1D or 2D layers, got {len(axes)}D")
    return axes[0], axes[1], False


def scatter_animation(
    layer_axis_params: TransposedConv | Axis | Sequence[Axis],
    input_size: int | Sequence[int],
    *,
    title: str | None = None,
) -> go.Figure:
    """Animation of a transposed convolution as a scatter: frame t adds input pixel t (row-major)
    times the all-ones kernel onto the output canvas, so the overlap builds up pixel by pixel
    (the picture of Dumoulin & Visin 2016, "A guide to convolution arithmetic for deep learning").

    Left: the input, current pixel highlighted. Right: the canvas before the padding crop, in
    output coordinates (negative or >= the output size: cropped), the kept output boxed, the
    current pixel's taps marked. Frames: 1 + number of input pixels (the first is empty); the
    last frame's boxed region equals `overlap_map`. Inputs up to 8 x 8, canvases up to 64 x 64.
    """
    ax_h, ax_w, one_d = _animation_axes(layer_axis_params)
    if one_d:
        n_w = input_size[0] if isinstance(input_size, Sequence) and len(input_size) == 1 else None
        sizes: Any = (1, input_size if n_w is None else n_w)
    else:
        sizes = (input_size, input_size) if isinstance(input_size, numbers.Integral) else input_size
    layer = TransposedConv.make(
        1,
        1,
        (ax_h.kernel_size, ax_w.kernel_size),
        (ax_h.stride, ax_w.stride),
        (ax_h.padding, ax_w.padding),
        (ax_h.output_padding, ax_w.output_padding),
        dilation=(ax_h.dilation, ax_w.dilation),
    )
    out = output_size(layer, sizes)
    n_h, n_w = (int(v) for v in sizes)
    if max(n_h, n_w) > MAX_ANIMATION_INPUT:
        raise ConfigError(
            "input_size",
            f"the scatter animation shows at most {MAX_ANIMATION_INPUT} x {MAX_ANIMATION_INPUT} "
            f"input pixels (one frame each), got {n_h} x {n_w}: use a smaller input_size for "
            f"the animation (the heatmap shows any size)",
        )
    canvas = []
    for a, n, o in ((ax_h, n_h, out[0]), (ax_w, n_w, out[1])):
        full = (n - 1) * a.stride + a.dilation * (a.kernel_size - 1) + 1
        canvas.append(max(full, a.padding + o))
    if max(canvas) > MAX_ANIMATION_CANVAS:
        raise ConfigError(
            "kernel_size",
            f"the animation canvas would be {canvas[0]} x {canvas[1]} pixels; it is capped at "
            f"{MAX_ANIMATION_CANVAS} per axis: use a smaller kernel, stride, dilation or input",
        )
    rows = np.arange(canvas[0]) - ax_h.padding  # output coordinates of the canvas
    cols = np.arange(canvas[1]) - ax_w.padding
    rows_cols = (rows.tolist(), cols.tolist())
    annotate = max(canvas) <= ANNOTATE_MAX
    taps_h = np.arange(ax_h.kernel_size) * ax_h.dilation
    taps_w = np.arange(ax_w.kernel_size) * ax_w.dilation

    acc = np.zeros(canvas, dtype=np.int64)
    status = np.zeros((n_h, n_w), dtype=np.int64)
    box = _rect("x2", "y2", (-0.5, out[1] - 0.5), (-0.5, out[0] - 0.5), "rgba(128,128,128,0.9)")
    box["line"]["dash"] = "dash"
    states = [(status.copy(), acc.copy(), [box], "start")]
    for ih in range(n_h):
        for iw in range(n_w):
            hit_r = ih * ax_h.stride + taps_h - ax_h.padding  # output coordinates
            hit_c = iw * ax_w.stride + taps_w - ax_w.padding
            acc[np.ix_(hit_r + ax_h.padding, hit_c + ax_w.padding)] += 1
            status[status == 2] = 1
            status[ih, iw] = 2
            # one path shape outlines every tap cell (shapes are cheap to animate; one per tap
            # would make a large figure slow to build)
            cells = "".join(
                f"M{c - 0.45},{r - 0.45}H{c + 0.45}V{r + 0.45}H{c - 0.45}Z"
                for r in hit_r.tolist()
                for c in hit_c.tolist()
            )
            marks = [
                {
                    "type": "path",
                    "xref": "x2",
                    "yref": "y2",
                    "path": cells,
                    "line": {"color": HIGHLIGHT, "width": 2},
                },
                _rect("x", "y", (iw - 0.5, iw + 0.5), (ih - 0.5, ih + 0.5), HIGHLIGHT),
            ]
            label = f"pixel {iw}" if one_d else f"pixel ({ih}, {iw})"
            states.append((status.copy(), acc.copy(), [box, *marks], label))
    zmax = max(int(acc.max()), 1)

    output: dict[str, Any] = {
        "z": acc.tolist(),
        "x": rows_cols[1],
        "y": rows_cols[0],
        "colorscale": COLORSCALE,
        "zmin": 0,
        "zmax": zmax,
        "colorbar": {"title": {"text": "overlap"}},
        "hovertemplate": "output row %{y}, column %{x}<br>overlap so far %{z}<extra></extra>",
    }
    if annotate:
        output.update(texttemplate="%{z}", xgap=1, ygap=1)
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[max(n_w, 2), canvas[1]],
        subplot_titles=("input (current pixel outlined)", "output canvas: overlap so far"),
        horizontal_spacing=0.08,
    )
    fig.add_trace(
        go.Heatmap(
            z=status.tolist(),
            x=list(range(n_w)),
            y=list(range(n_h)),
            colorscale=_INPUT_STATES,
            zmin=0,
            zmax=2,
            showscale=False,
            xgap=1,
            ygap=1,
            hovertemplate="input row %{y}, column %{x}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(go.Heatmap(**output), row=1, col=2)
    # Frames carry only what changes (plotly.js merges them into the traces), as plain lists:
    # plotly.js does not decode numpy's binary arrays inside frames. The current pixel and its
    # taps are layout shapes: a scatter trace in the frames would stop the heatmaps redrawing.
    fig.frames = [
        {
            "data": [
                {"type": "heatmap", "z": stat.tolist()},
                {"type": "heatmap", "z": counts.tolist()},
            ],
            "traces": [0, 1],
            "layout": {"shapes": shapes},
            "name": str(t),
        }
        for t, (stat, counts, shapes, _) in enumerate(states)
    ]
    fig.data[0].z = states[0][0].tolist()
    fig.data[1].z = states[0][1].tolist()
    step_args = {
        "mode": "immediate",
        "frame": {"duration": 0, "redraw": True},
        "transition": {"duration": 0},
    }
    slider = {
        "active": 0,
        "x": 0.12,
        "len": 0.88,
        "y": 0,
        "yanchor": "top",
        "pad": {"t": 50, "b": 10},
        "currentvalue": {"prefix": "scattered up to: "},
        # plotly's default rail is near-white: a grey one reads on light and dark themes
        "bgcolor": "rgba(128,128,128,0.35)",
        "bordercolor": "rgba(128,128,128,0.6)",
        "activebgcolor": HIGHLIGHT,
        "steps": [
            {"method": "animate", "label": state[3], "args": [[str(t)], step_args]}
            for t, state in enumerate(states)
        ],
    }
    play = {
        "type": "buttons",
        "direction": "left",
        "x": 0.12,
        "y": 0,
        "xanchor": "right",
        "yanchor": "top",
        "pad": {"t": 87, "r": 10},
        "showactive": False,
        "bgcolor": "rgba(128,128,128,0.35)",
        "bordercolor": "rgba(128,128,128,0.6)",
        "buttons": [
            {
                "label": "Play",
                "method": "animate",
                "args": [
                    None,
                    {
                        "frame": {"duration": 700, "redraw": True},
                        "fromcurrent": True,
                        "transition": {"duration": 0},
                    },
                ],
            },
            {"label": "Pause", "method": "animate", "args": [[None], step_args]},
        ],
    }
    k = f"{ax_w.kernel_size}" if one_d else f"{ax_h.kernel_size}×{ax_w.kernel_size}"
    s = f"{ax_w.stride}" if one_d else f"{ax_h.stride}×{ax_w.stride}"
    default = f"Each input pixel scatters the {k} kernel with stride {s}; the overlap builds up"
    _layout(
        fig,
        title or default,
        sliders=[slider],
        updatemenus=[play],
        shapes=states[0][2],
        showlegend=False,
        margin={"l": 60, "r": 20, "t": 80, "b": 130},
    )
    fig.update_xaxes(showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(autorange="reversed", showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(scaleanchor="x", title_text="input row", row=1, col=1)
    fig.update_xaxes(title_text="input column", row=1, col=1)
    fig.update_yaxes(
        scaleanchor="x2", title_text="output row (dashed: kept after cropping)", row=1, col=2
    )
    fig.update_xaxes(title_text="output column", row=1, col=2)
    return fig
