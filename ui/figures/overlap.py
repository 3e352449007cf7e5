"""Plotly figures of kernel overlap: heatmaps, profiles, the scatter animation, comparisons.

Built here so that pages only place them; they draw numbers core computed (`core.overlap`) in
the app's one style (`ui.figures.style`). plotly and numpy only (no torch, no Streamlit). Sizes
are bounded: large maps are shown as a corner window and the animation is limited to small
inputs (`core.overlap.scatter`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.errors import ConfigError
from core.geometry.layer import Axis, TransposedConv
from core.overlap.scatter import (
    CURRENT,
    MAX_ANIMATION_CANVAS,
    MAX_ANIMATION_INPUT,
    Scatter,
    ScatterFrame,
    scatter_frames,
)
from ui.figures.style import (
    COLORBAR_ABOVE,
    COLORSCALE,
    CONTROL_BORDER,
    CONTROL_FILL,
    GREY_BAND,
    GREY_LINE,
    HIGHLIGHT,
    STATE_SCALE,
    TITLE_SIZE_COMPACT,
    TRANSPARENT,
    colour_bar_figure,
    layout,
)

__all__ = [
    "ANNOTATE_MAX",
    "HEATMAP_HEIGHT",
    "MAX_ANIMATION_CANVAS",
    "MAX_ANIMATION_INPUT",
    "MAX_HEATMAP_SIDE",
    "MAX_PANELS",
    "comparison_panels",
    "comparison_scale",
    "overlap_bar",
    "overlap_heatmap",
    "panels_height",
    "scatter_animation",
]

ANNOTATE_MAX = 24  # grids up to this many cells per side get their counts printed in the cells
# (a phone's 390 px leaves about 13 px a cell for 24: room for a small digit)
PANEL_ANNOTATE_MAX = 16  # panels side by side print their counts up to this many cells a side
MAX_HEATMAP_SIDE = 256  # larger maps are shown as their top-left window of this size
MAX_PANELS = 6  # maps side by side in one comparison figure
HEATMAP_HEIGHT = 600  # a square map on a page: plotly's default height would draw it small
MARGIN_HEATMAP = {"l": 60, "r": 20, "t": 100, "b": 50}  # room for the colour bar on top
TEXT_SIZE = 10  # counts printed in the cells: small enough for a phone's 10 px cells


def panels_height(count: int) -> int:
    """Height in pixels of each of `count` square panels side by side (one figure each, in
    columns that stack on a phone).

    Args:
        count: the number of panels in one row.

    Returns:
        The panel height: fewer, wider panels get more height.
    """
    return int(110 + 760 / max(count, 2))


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
        {**box, "line": {"color": "white", "width": 4}, "fillcolor": TRANSPARENT},
        {
            **box,
            "line": {"color": HIGHLIGHT, "width": 2, "dash": "dash"},
            "fillcolor": TRANSPARENT,
        },
    ]


def _count_colorbar(title: str, top: float, integers: bool) -> dict[str, Any]:
    """A colour bar under the plot whose ticks are whole counts where the values are counts."""
    bar: dict[str, Any] = {**COLORBAR_ABOVE, "title": {"text": title, "side": "top"}}
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
        "fillcolor": TRANSPARENT,
    }


def overlap_heatmap(
    counts: np.ndarray,
    title: str = "Kernel overlap: contributions per output pixel",
    *,
    annotate: bool | None = None,
    max_side: int = MAX_HEATMAP_SIDE,
    interior: Sequence[Sequence[int]] | None = None,
    height: int | None = None,
) -> go.Figure:
    """Heatmap of a 2D overlap map, row 0 at the top like an image.

    Args:
        counts: the 2D map (e.g. `core.overlap.counts.overlap_map`).
        title: the figure's title; a note is added when the map is windowed.
        annotate: print the counts in the cells; None: when both sides are at most
            `ANNOTATE_MAX`.
        max_side: larger maps show their top-left window of this many cells per side.
        interior: (start, stop) per axis (rows, columns), e.g. `OverlapStats.interior`: a
            dashed box around the interior; None for none.
        height: the figure's height in pixels (e.g. `HEATMAP_HEIGHT` on a page); None for
            plotly's default.

    Returns:
        The figure. Raises ConfigError for anything but a non-empty 2D array of finite numbers.
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
        trace.update(
            texttemplate="%{z}" if integers else "%{z:.3~g}",
            textfont={"size": TEXT_SIZE},
            xgap=1,
            ygap=1,
        )
    fig = go.Figure(go.Heatmap(**trace))
    layout(
        fig,
        title + note,
        height=height,
        margin=MARGIN_HEATMAP,
        shapes=_interior_box(interior, z.shape),
    )
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
        constraintoward="top",  # under its colour bar; a narrow page leaves room below instead
    )
    return fig


def _border_bands(interior: Sequence[int] | None, length: int) -> list[dict[str, Any]]:
    """Grey bands over a profile's borders: the positions outside interior = (start, stop)."""
    if interior is None:
        return []
    try:
        start, stop = (int(v) for v in interior)
    except (TypeError, ValueError):
        raise ConfigError(
            "interior", f"interior must be one (start, stop) pair, got {interior!r}"
        ) from None
    band = {"type": "rect", "xref": "x", "yref": "paper", "y0": 0, "y1": 1}
    return [
        {**band, "x0": x0, "x1": x1, "fillcolor": GREY_BAND, "line": {"width": 0}, "layer": "below"}
        for x0, x1 in ((-0.5, start - 0.5), (stop - 0.5, length - 0.5))
        if x1 > x0
    ]


def overlap_bar(
    profile: np.ndarray,
    title: str = "Overlap profile",
    *,
    axis_name: str = "W",
    interior: Sequence[int] | None = None,
) -> go.Figure:
    """Bar chart of a 1D overlap profile (one axis).

    Args:
        profile: the 1D counts (e.g. `core.overlap.counts.overlap_profile`), at most 4096.
        title: the figure's title.
        axis_name: the axis's name in the labels ("H" or "W").
        interior: (start, stop): the border regions outside it are shaded; None for none.

    Returns:
        The figure. Raises ConfigError for anything but a non-empty 1D array of finite numbers.
    """
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
    layout(fig, title, shapes=_border_bands(interior, len(z)), bargap=0.1, showlegend=False)
    fig.update_xaxes(title_text=f"output position along {axis_name}", zeroline=False)
    fig.update_yaxes(title_text="overlap (contributions)", rangemode="tozero")
    return fig


def _panel_trace(z: np.ndarray, top: float, relative: bool, annotate: bool | None) -> go.Heatmap:
    """One panel of a comparison: the map (over its maximum if `relative`) on 0..top, raw counts
    as text."""
    show = z.astype(np.float64)
    if relative:
        peak = float(show.max())
        show = show / peak if peak > 0 else show
    small = max(z.shape) <= PANEL_ANNOTATE_MAX
    trace: dict[str, Any] = {
        "z": show,
        "x": np.arange(z.shape[1]),
        "y": np.arange(z.shape[0]),
        "text": _cell_text(z),
        "colorscale": COLORSCALE,
        "zmin": 0,
        "zmax": max(top, 1e-12),
        "showscale": False,
        "hovertemplate": "row %{y}, column %{x}<br>overlap %{text}"
        + ("<br>relative to max %{z:.2f}" if relative else "")
        + "<extra></extra>",
    }
    if annotate or (annotate is None and small):
        trace.update(texttemplate="%{text}", textfont={"size": TEXT_SIZE}, xgap=1, ygap=1)
    return go.Heatmap(**trace)


def _checked_maps(
    maps: Mapping[str, np.ndarray], max_side: int
) -> list[tuple[str, np.ndarray, str]]:
    """(name, window, note) per map; ConfigError unless 1 to `MAX_PANELS` 2D maps."""
    if not isinstance(maps, Mapping) or not 1 <= len(maps) <= MAX_PANELS:
        raise ConfigError("maps", f"maps must be a dict of 1 to {MAX_PANELS} named 2D arrays")
    return [
        (str(name), *_window(_counts(m, 2, f"maps[{name!r}]"), max_side))
        for name, m in maps.items()
    ]


def _top(arrays: Sequence[np.ndarray], relative: bool) -> float:
    return 1.0 if relative else max(float(z.max()) for z in arrays)


def comparison_panels(
    maps: Mapping[str, np.ndarray],
    *,
    relative: bool = True,
    annotate: bool | None = None,
    max_side: int = MAX_HEATMAP_SIDE,
    height: int | None = None,
) -> tuple[list[go.Figure], str]:
    """Several 2D overlap maps (e.g. a layer and its replacements, from
    `core.overlap.replacement_maps.replacement_overlaps`) as one small figure each, on one colour
    scale, for a page to put side by side in columns (which stack on a phone), with
    `comparison_scale` under them.

    Args:
        maps: 1 to `MAX_PANELS` named 2D maps, one panel each (the name is its title).
        relative: divide each map by its own maximum, so an even map is one flat colour
            whatever its count (the cells and the hover show the raw counts).
        annotate: print the counts in the cells; None: for small panels.
        max_side: larger maps show their top-left window of this many cells per side.
        height: each panel's height in pixels (e.g. `panels_height(len(maps))`); None for
            plotly's default.

    Returns:
        (figures, note): one figure per map, in order, and what was cut from large maps (said
        once, "" when nothing was). Raises ConfigError for anything but 1 to `MAX_PANELS` 2D
        maps.
    """
    checked = _checked_maps(maps, max_side)
    top = _top([z for _, z, _ in checked], relative)
    figures = []
    for name, z, _ in checked:
        fig = go.Figure(_panel_trace(z, top, relative, annotate))
        layout(
            fig,
            name,
            height=height,
            margin={"l": 40, "r": 8, "t": 30, "b": 40},
            title_size=TITLE_SIZE_COMPACT,
        )
        fig.update_yaxes(
            title_text="row (H)",
            autorange="reversed",
            scaleanchor="x",
            showgrid=False,
            zeroline=False,
            constrain="domain",
        )
        fig.update_xaxes(
            title_text="column (W)", showgrid=False, zeroline=False, constrain="domain"
        )
        figures.append(fig)
    notes = dict.fromkeys(note for _, _, note in checked if note)  # the same cut, said once
    return figures, "".join(notes)


def comparison_scale(
    maps: Mapping[str, np.ndarray],
    *,
    relative: bool = True,
    max_side: int = MAX_HEATMAP_SIDE,
) -> go.Figure:
    """The one colour bar of `comparison_panels(maps, relative=relative)`.

    Args:
        maps: the same maps.
        relative: as given to the panels.
        max_side: as given to the panels.

    Returns:
        A horizontal colour bar alone.
    """
    checked = _checked_maps(maps, max_side)
    arrays = [z for _, z, _ in checked]
    top = _top(arrays, relative)
    integers = not relative and all(np.issubdtype(z.dtype, np.integer) for z in arrays)
    return colour_bar_figure(
        (0.0, max(top, 1e-12)), "overlap / max" if relative else "overlap", integers=integers
    )


# --------------------------------------------------------------------------- scatter animation

# Move to a frame at once (slider steps, Pause) and play at 0.7 s per frame.
_STEP = {
    "mode": "immediate",
    "frame": {"duration": 0, "redraw": True},
    "transition": {"duration": 0},
}
_PLAY = {
    "frame": {"duration": 700, "redraw": True},
    "fromcurrent": True,
    "transition": {"duration": 0},
}


def _kept_box(scatter: Scatter) -> dict[str, Any]:
    """A dashed grey box on the canvas around the output the padding crop keeps."""
    rows, cols = scatter.output_size
    box = _rect("x2", "y2", (-0.5, cols - 0.5), (-0.5, rows - 0.5), GREY_LINE)
    box["line"]["dash"] = "dash"
    return box


def _frame_shapes(scatter: Scatter, frame: ScatterFrame) -> list[dict[str, Any]]:
    """The kept-output box, and for a scattered pixel its outline and its taps' outlines."""
    box = _kept_box(scatter)
    if frame.pixel is None:
        return [box]
    ih, iw = frame.pixel
    # one path shape outlines every tap cell (shapes are cheap to animate; one per tap would make
    # a large figure slow to build)
    cells = "".join(
        f"M{c - 0.45},{r - 0.45}H{c + 0.45}V{r + 0.45}H{c - 0.45}Z"
        for r in frame.tap_rows.tolist()
        for c in frame.tap_cols.tolist()
    )
    taps = {
        "type": "path",
        "xref": "x2",
        "yref": "y2",
        "path": cells,
        "line": {"color": HIGHLIGHT, "width": 2},
    }
    pixel = _rect("x", "y", (iw - 0.5, iw + 0.5), (ih - 0.5, ih + 0.5), HIGHLIGHT)
    return [box, taps, pixel]


def _frame_label(scatter: Scatter, frame: ScatterFrame) -> str:
    if frame.pixel is None:
        return "start"
    ih, iw = frame.pixel
    return f"pixel {iw}" if scatter.one_d else f"pixel ({ih}, {iw})"


def _scatter_traces(fig: go.Figure, scatter: Scatter) -> None:
    """The input's states (left) and the canvas's counts (right), at the first frame."""
    first, last = scatter.frames[0], scatter.frames[-1]
    n_h, n_w = scatter.input_size
    fig.add_trace(
        go.Heatmap(
            z=first.inputs.tolist(),
            x=list(range(n_w)),
            y=list(range(n_h)),
            colorscale=STATE_SCALE,
            zmin=0,
            zmax=CURRENT,
            showscale=False,
            xgap=1,
            ygap=1,
            hovertemplate="input row %{y}, column %{x}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    canvas: dict[str, Any] = {
        "z": first.counts.tolist(),
        "x": scatter.cols.tolist(),
        "y": scatter.rows.tolist(),
        "colorscale": COLORSCALE,
        "zmin": 0,
        "zmax": max(int(last.counts.max()), 1),
        "colorbar": {"title": {"text": "count"}, "thickness": 10},
        "hovertemplate": "output row %{y}, column %{x}<br>overlap so far %{z}<extra></extra>",
    }
    if max(first.counts.shape) <= ANNOTATE_MAX:
        canvas.update(texttemplate="%{z}", textfont={"size": TEXT_SIZE}, xgap=1, ygap=1)
    fig.add_trace(go.Heatmap(**canvas), row=1, col=2)


def _animation_frames(scatter: Scatter) -> list[dict[str, Any]]:
    """One plotly frame per scatter frame, carrying only what changes (plotly.js merges them into
    the traces), as plain lists: plotly.js does not decode numpy's binary arrays inside frames.
    The current pixel and its taps are layout shapes: a scatter trace in the frames would stop
    the heatmaps redrawing."""
    return [
        {
            "data": [
                {"type": "heatmap", "z": frame.inputs.tolist()},
                {"type": "heatmap", "z": frame.counts.tolist()},
            ],
            "traces": [0, 1],
            "layout": {"shapes": _frame_shapes(scatter, frame)},
            "name": str(t),
        }
        for t, frame in enumerate(scatter.frames)
    ]


def _slider(scatter: Scatter) -> dict[str, Any]:
    """A slider with one step per frame, labelled with the pixel scattered."""
    return {
        "active": 0,
        "x": 0.12,
        "len": 0.88,
        "y": 0,
        "yanchor": "top",
        "pad": {"t": 62, "b": 10},
        "currentvalue": {"prefix": "scattered up to: "},
        "bgcolor": CONTROL_FILL,
        "bordercolor": CONTROL_BORDER,
        "activebgcolor": HIGHLIGHT,
        "steps": [
            {"method": "animate", "label": _frame_label(scatter, frame), "args": [[str(t)], _STEP]}
            for t, frame in enumerate(scatter.frames)
        ],
    }


def _play_buttons() -> dict[str, Any]:
    """Play and Pause, left of the slider."""
    return {
        "type": "buttons",
        "direction": "left",
        "x": 0.12,
        "y": 0,
        "xanchor": "right",
        "yanchor": "top",
        "pad": {"t": 99, "r": 10},
        "showactive": False,
        "bgcolor": CONTROL_FILL,
        "bordercolor": CONTROL_BORDER,
        "buttons": [
            {"label": "Play", "method": "animate", "args": [None, _PLAY]},
            {"label": "Pause", "method": "animate", "args": [[None], _STEP]},
        ],
    }


def _scatter_title(scatter: Scatter) -> str:
    ax_h, ax_w = scatter.axes
    k = f"{ax_w.kernel_size}" if scatter.one_d else f"{ax_h.kernel_size}×{ax_w.kernel_size}"
    s = f"{ax_w.stride}" if scatter.one_d else f"{ax_h.stride}×{ax_w.stride}"
    return f"Each input pixel scatters the {k} kernel with stride {s}; the overlap builds up"


def _scatter_axes(fig: go.Figure) -> None:
    """Image orientation and square cells in both panels; their axis titles."""
    fig.update_xaxes(showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(autorange="reversed", showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(scaleanchor="x", title_text="input row", row=1, col=1)
    fig.update_xaxes(title_text="input column", row=1, col=1)
    fig.update_yaxes(scaleanchor="x2", row=1, col=2)  # a title here would hit the input panel
    fig.update_xaxes(title_text="output column", row=1, col=2)


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
    current pixel's taps marked. The frames are `core.overlap.scatter.scatter_frames`'s.

    Args:
        layer_axis_params: a 1D or 2D `TransposedConv`, one `Axis` or a list of 1-2 `Axis`.
        input_size: an int or one per axis; at most `MAX_ANIMATION_INPUT` per axis.
        title: the figure's title; None for one naming the kernel and stride.

    Returns:
        The figure: 1 + input pixels frames (the first is empty), a slider and Play/Pause; the
        last frame's boxed region equals `overlap_map`. Raises ConfigError where
        `scatter_frames` does (inputs over 8 x 8, canvases over 64 x 64, invalid layers).
    """
    scatter = scatter_frames(layer_axis_params, input_size)
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[max(scatter.input_size[1], 2), len(scatter.cols)],
        subplot_titles=("input", "output canvas"),
        horizontal_spacing=0.08,
    )
    _scatter_traces(fig, scatter)
    fig.frames = _animation_frames(scatter)
    layout(
        fig,
        title or _scatter_title(scatter),
        margin={"l": 60, "r": 20, "t": 80, "b": 142},
        sliders=[_slider(scatter)],
        updatemenus=[_play_buttons()],
        shapes=_frame_shapes(scatter, scatter.frames[0]),
        showlegend=False,
    )
    _scatter_axes(fig)
    return fig
