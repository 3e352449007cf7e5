"""A pipeline drawn as it runs: its stages side by side, the kernel sliding, the output filling.

Draws a `core.replacements.pipelines.Pipeline` (the transposed convolution's gather view, or a
replacement's own pipeline) as one plotly figure: every stage a grid of labelled cells (input
pixels, inserted zeros, padding, cropped cells, upsampled copies), the kernel window on the canvas
stage with its dilated taps, and the output grid filled cell by cell. Play, pause and the step
slider are plotly frames: they run in the browser, no server round trip per frame. Hovering an
output cell shows its sum written out; a traced cell (`core.replacements.pipelines.Trace`) is
drawn with the input pixels that reach it and, on the canvas, the kernel taps that carry them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from core.replacements.pipelines import (
    CONV_TRANSPOSE,
    CROP,
    INPUT,
    MIX,
    OUTPUT,
    PAD,
    ZERO,
    Pipeline,
    Stage,
    Trace,
)
from ui.figures.style import CONTROL_BORDER, CONTROL_FILL, HIGHLIGHT, layout

GAP = 3.0  # cells between two stages
WIDTH_PX = 1000  # the width the height is planned for (a desktop page); phones scale it down
MAX_CELL_PX = 30
CELL_TEXT_MAX = 14  # stages up to this many cells per side print their values
ROLE_COLOURS = {  # each reads on light and dark backgrounds; the output uses the colour scale
    INPUT: "#0072B2",
    "copy": "#56B4E9",
    MIX: "#56B4E9",
    ZERO: "rgba(128,128,128,0.18)",
    PAD: "rgba(128,128,128,0.40)",
    CROP: "rgba(213,94,0,0.25)",
}
ROLE_NAMES = {
    INPUT: "input pixel",
    "copy": "upsampled copy",
    MIX: "interpolated value",
    ZERO: "inserted zero",
    PAD: "padding",
    CROP: "cropped away",
    OUTPUT: "output",
}
LABEL_STAGGER_PX = 13  # every other span label one line further out
WINDOW = "#E69F00"  # the kernel window: Okabe & Ito orange


def _placements(pipeline: Pipeline) -> list[float]:
    """x offset of each stage's first column (stages left to right, GAP cells apart)."""
    offsets, x = [], 0.0
    for stage in pipeline.stages:
        offsets.append(x)
        x += stage.values.shape[1] + GAP
    return offsets


def output_cell(pipeline: Pipeline, x: float | None, y: float | None) -> tuple[int, int] | None:
    """The output cell at figure coordinates (x, y) of `pipeline_figure`, or None elsewhere."""
    if x is None or y is None:
        return None
    rows, cols = pipeline.output.shape
    r, c = round(y), round(x - _placements(pipeline)[-1])
    return (r, c) if 0 <= r < rows and 0 <= c < cols else None


def _cell_text(stage: Stage) -> list[list[str]]:
    rows, cols = stage.values.shape
    if max(rows, cols) > CELL_TEXT_MAX:
        return [[""] * cols for _ in range(rows)]
    return [
        ["" if stage.roles[r, c] in (ZERO, PAD, CROP) else f"{stage.values[r, c]:.3g}"
         for c in range(cols)]
        for r in range(rows)
    ]  # fmt: skip


def _hover(stage: Stage) -> list[list[str]]:
    rows, cols = stage.values.shape
    oh, ow = stage.origin
    text = []
    for r in range(rows):
        line = []
        for c in range(cols):
            role = stage.roles[r, c]
            where = f"{stage.name} [{r + oh}, {c + ow}]"
            source = stage.sources[r, c]
            of = f" = x[{source[0]}, {source[1]}]" if source[0] >= 0 else ""
            line.append(f"{where}: {ROLE_NAMES.get(role, role)}{of}, {stage.values[r, c]:.4g}")
        text.append(line)
    return text


_CODES = {role: i for i, role in enumerate(ROLE_COLOURS)}


def _discrete_scale() -> list[list[Any]]:
    """A colour scale mapping role code i (0..n-1, zmin 0, zmax n-1) to ROLE_COLOURS' i-th."""
    colours = list(ROLE_COLOURS.values())
    n = len(colours)
    scale = []
    for i, colour in enumerate(colours):
        scale += [[i / n, colour], [(i + 1) / n, colour]]
    return scale


def _stage_cells(stage: Stage, x0: float, y_top: float) -> go.Heatmap:
    """One stage's cells, coloured by role (input pixel, zero, padding, crop, copy, mix), with
    their values printed where the stage is small, and a hover saying what each cell is."""
    rows, cols = stage.values.shape
    codes = np.vectorize(lambda role: _CODES.get(role, 0), otypes=[float])(stage.roles)
    n = len(ROLE_COLOURS)
    return go.Heatmap(
        z=codes + 0.5,
        x=[x0 + c for c in range(cols)],
        y=[y_top + r for r in range(rows)],
        zmin=0,
        zmax=n,
        colorscale=_discrete_scale(),
        showscale=False,
        xgap=1,
        ygap=1,
        text=_cell_text(stage),
        texttemplate="%{text}",
        textfont={"size": 10, "color": "white"},
        customdata=_hover(stage),
        hovertemplate="%{customdata}<extra></extra>",
        name=stage.name,
    )


def _output_heatmap(
    pipeline: Pipeline, frame: int, x0: float, y_top: float, hover: list[list[str]] | None
) -> go.Heatmap:
    out = pipeline.filled(frame)
    rows, cols = out.shape
    return go.Heatmap(
        z=out,
        x=[x0 + c for c in range(cols)],
        y=[y_top + r for r in range(rows)],
        colorscale="Viridis",
        zmin=float(np.nanmin(pipeline.output)) if pipeline.output.size else 0,
        zmax=float(np.nanmax(pipeline.output)) if pipeline.output.size else 1,
        showscale=False,
        xgap=1,
        ygap=1,
        text=hover,
        hoverinfo="text" if hover is not None else "skip",
        hoverongaps=False,
        name="output",
    )


def _window_xy(pipeline: Pipeline, frame: int, x0: float, y_top: float) -> tuple[list, list]:
    """The kernel window's outline and its dilated taps on the canvas stage at step `frame`."""
    if frame == 0 or not pipeline.steps:
        return [], []
    step = pipeline.steps[frame - 1]
    canvas = pipeline.stages[pipeline.canvas]
    kh, kw = pipeline.kernel.shape
    dh, dw = pipeline.dilation
    top = y_top + step.at[0] - canvas.origin[0]
    left = x0 + step.at[1] - canvas.origin[1]
    bottom, right = top + dh * (kh - 1), left + dw * (kw - 1)
    xs = [left - 0.5, right + 0.5, right + 0.5, left - 0.5, left - 0.5, None]
    ys = [top - 0.5, top - 0.5, bottom + 0.5, bottom + 0.5, top - 0.5, None]
    for jh in range(kh):
        for jw in range(kw):
            xs += [left + jw * dw, None]
            ys += [top + jh * dh, None]
    return xs, ys


def _written_xy(pipeline: Pipeline, frame: int, x0: float, y_top: float) -> tuple[list, list]:
    """Outlines of the output cells the step `frame` writes."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    if frame:
        for r, c in pipeline.steps[frame - 1].writes:
            x, y = x0 + c, y_top + r
            xs += [x - 0.5, x + 0.5, x + 0.5, x - 0.5, x - 0.5, None]
            ys += [y - 0.5, y - 0.5, y + 0.5, y + 0.5, y - 0.5, None]
    return xs, ys


def _window_trace(xy: tuple[list, list]) -> go.Scatter:
    return go.Scatter(
        x=xy[0],
        y=xy[1],
        mode="lines+markers",
        line={"color": WINDOW, "width": 3},
        marker={"symbol": "circle-open", "size": 9, "color": WINDOW, "line": {"width": 2}},
        hoverinfo="skip",
        showlegend=False,
        name="kernel",
    )


def _written_trace(xy: tuple[list, list]) -> go.Scatter:
    return go.Scatter(
        x=xy[0],
        y=xy[1],
        mode="lines",
        line={"color": WINDOW, "width": 3},
        hoverinfo="skip",
        showlegend=False,
        name="written",
    )


def _trace_marks(
    pipeline: Pipeline, trace: Trace | None, offsets: Sequence[float], y_top: float
) -> go.Scatter:
    """The traced output cell and the input pixels that reach it (open squares)."""
    xs: list[float] = []
    ys: list[float] = []
    if trace is not None:
        first = pipeline.stages[0]
        for ih, iw in trace.inputs:
            r, c = ih - first.origin[0], iw - first.origin[1]
            if 0 <= r < first.values.shape[0] and 0 <= c < first.values.shape[1]:
                xs.append(offsets[0] + c)
                ys.append(y_top + r)
        out = pipeline.stages[-1]
        r, c = trace.cell
        if r < out.values.shape[0] and c < out.values.shape[1]:
            xs.append(offsets[-1] + c)
            ys.append(y_top + r)
    return go.Scatter(
        x=xs,
        y=ys,
        mode="markers",
        marker={"symbol": "square-open", "size": 14, "color": HIGHLIGHT, "line": {"width": 3}},
        hoverinfo="skip",
        showlegend=False,
        name="trace",
    )


def _tap_marks(
    pipeline: Pipeline, trace: Trace | None, offsets: Sequence[float], y_top: float
) -> go.Scatter:
    """The kernel taps that carry the traced cell's inputs, on the canvas where the kernel sits
    for that cell (`Pipeline.tap_cells`): a diamond per tap, labelled with its index."""
    xs: list[float] = []
    ys: list[float] = []
    labels: list[str] = []
    if trace is not None:
        canvas = pipeline.stages[pipeline.canvas]
        rows, cols = canvas.values.shape
        for (jh, jw), (h, w) in pipeline.tap_cells(trace):
            r, c = h - canvas.origin[0], w - canvas.origin[1]
            if 0 <= r < rows and 0 <= c < cols:
                xs.append(offsets[pipeline.canvas] + c)
                ys.append(y_top + r)
                labels.append(f"{jh},{jw}")
    return go.Scatter(
        x=xs,
        y=ys,
        text=labels,
        mode="markers+text",
        textposition="top center",
        textfont={"size": 9, "color": HIGHLIGHT},
        marker={"symbol": "diamond-open", "size": 11, "color": HIGHLIGHT, "line": {"width": 2}},
        hovertemplate="kernel tap w[%{text}]<extra></extra>",
        showlegend=False,
        name="taps",
    )


def _labels(pipeline: Pipeline, offsets: Sequence[float], y_top: float) -> list[dict[str, Any]]:
    """Each stage's name and size above it, its W spans (pad, input and zeros, crop) below it,
    its H spans along its left side (rotated), each with its size."""
    notes: list[dict[str, Any]] = []
    for stage, x0 in zip(pipeline.stages, offsets, strict=True):
        rows, cols = stage.values.shape
        size = f"{stage.size[0]} x {stage.size[1]}"
        notes.append(
            {"x": x0 - 0.5, "y": y_top - 1.3, "text": f"<b>{stage.name}</b><br>{size}",
             "showarrow": False, "xanchor": "left", "yanchor": "bottom", "align": "left",
             "font": {"size": 11}}
        )  # fmt: skip
        for axis, shown in ((0, rows), (1, cols)):
            live = [
                (max(span.start - stage.origin[axis], 0),
                 min(span.stop - stage.origin[axis], shown), span.label)
                for span in stage.spans[axis]
            ]  # fmt: skip
            live = [(a, b, label) for a, b, label in live if b > a]
            for i, (start, stop, label) in enumerate(live):
                middle, shift = (start + stop - 1) / 2, LABEL_STAGGER_PX * (i % 2)
                if axis == 1:  # every other one a line lower: narrow screens don't overlap them
                    notes.append(
                        {"x": x0 + middle, "y": y_top + rows - 0.2, "yshift": -shift,
                         "text": label, "showarrow": False, "yanchor": "top",
                         "font": {"size": 10}}
                    )  # fmt: skip
                else:
                    notes.append(
                        {"x": x0 - 0.6, "y": y_top + middle, "xshift": -shift, "text": label,
                         "textangle": -90, "showarrow": False, "xanchor": "right",
                         "yanchor": "middle", "font": {"size": 10}}
                    )  # fmt: skip
    return notes


def _arrows(pipeline: Pipeline, offsets: Sequence[float], y_top: float) -> list[dict[str, Any]]:
    arrows = []
    for stage, x0, nxt in zip(pipeline.stages, offsets, offsets[1:], strict=False):
        cols = stage.values.shape[1]
        arrows.append(  # above the grids: the gaps hold the H labels
            {"x": nxt - 0.6, "y": y_top - 0.8, "ax": x0 + cols - 0.4,
             "ay": y_top - 0.8, "xref": "x", "yref": "y", "axref": "x", "ayref": "y",
             "showarrow": True, "arrowhead": 2, "arrowwidth": 1.5, "arrowcolor": "gray",
             "text": ""}
        )  # fmt: skip
    return arrows


def _output_hover(pipeline: Pipeline, equations: dict[tuple[int, int], str] | None):
    if not equations:
        return None
    rows, cols = pipeline.output.shape
    return [[equations.get((r, c), "") for c in range(cols)] for r in range(rows)]


def pipeline_figure(
    pipeline: Pipeline,
    trace: Trace | None = None,
    equations: dict[tuple[int, int], str] | None = None,
    height: int | None = None,
) -> dict[str, Any]:
    """The pipeline's stages side by side, animated step by step in the browser.

    Args:
        pipeline: what `core.replacements.pipelines.pipeline` returns.
        trace: an output cell to mark, with the input pixels that reach it (or None).
        equations: hover text per output cell (the sum written out), or None.
        height: the figure's height in pixels (default: from the tallest stage).

    Returns:
        A plotly figure, as the dict `st.plotly_chart` takes, whose frames step the kernel over
        the canvas and fill the output; the last frame (everything computed) is shown at first.
    """
    offsets = _placements(pipeline)
    y_top = 0.0
    canvas_x = offsets[pipeline.canvas]
    out_x = offsets[-1]
    hover = _output_hover(pipeline, equations)
    last = len(pipeline.steps)
    static = [
        _stage_cells(stage, x0, y_top)
        for stage, x0 in zip(pipeline.stages[:-1], offsets[:-1], strict=True)
    ]

    def frame_data(frame: int) -> list[dict[str, Any]]:
        """Only what changes per frame (a frame merges into its traces): the output values and
        the two outlines; the hover texts stay those of the figure."""
        z = [[None if v != v else float(v) for v in row] for row in pipeline.filled(frame)]
        window = _window_xy(pipeline, frame, canvas_x, y_top)
        written = _written_xy(pipeline, frame, out_x, y_top)
        return [
            {"type": "heatmap", "z": z},
            {"type": "scatter", "x": window[0], "y": window[1]},
            {"type": "scatter", "x": written[0], "y": written[1]},
        ]

    moving = [
        _output_heatmap(pipeline, last, out_x, y_top, hover),
        _window_trace(_window_xy(pipeline, last, canvas_x, y_top)),
        _written_trace(_written_xy(pipeline, last, out_x, y_top)),
    ]
    marks = [
        _trace_marks(pipeline, trace, offsets, y_top),
        _tap_marks(pipeline, trace, offsets, y_top),
    ]
    fig = go.Figure(data=[*static, *moving, *marks])
    moving_indices = list(range(len(static), len(static) + 3))
    rows = max(stage.values.shape[0] for stage in pipeline.stages)
    width_cells = offsets[-1] + pipeline.stages[-1].values.shape[1]
    _finish(fig, pipeline, offsets, y_top, rows, width_cells, last, height)
    figure = fig.to_plotly_json()  # frames added as plain data: validating 145 frames is slow
    figure["frames"] = [
        {"data": frame_data(frame), "traces": moving_indices, "name": str(frame)}
        for frame in range(last + 1)
    ]
    return figure


def offset_label(pipeline: Pipeline) -> str:
    """The line under a replacement's output that states its grid's alignment offset.

    Args:
        pipeline: a replacement's pipeline (the transposed convolution's own has no offset).

    Returns:
        Its output grid's offset, "offset vs ConvTranspose2d: -0.5, -0.5 px (H, W)", with
        "(aligned)" where both are 0, or "" for the transposed convolution itself.
    """
    if pipeline.method == CONV_TRANSPOSE:
        return ""
    h, w = (v + 0.0 for v in pipeline.offset)  # -0.0 reads as +0
    aligned = "" if h or w else " (aligned)"
    return f"offset vs ConvTranspose2d: {h:+g}, {w:+g} px (H, W){aligned}"


def _finish(
    fig: go.Figure,
    pipeline: Pipeline,
    offsets: Sequence[float],
    y_top: float,
    rows: int,
    width_cells: float,
    last: int,
    height: int | None,
) -> None:
    cell_px = min(MAX_CELL_PX, WIDTH_PX / (width_cells + 1))
    height = height or int(120 + cell_px * (rows + 4.5))
    annotations = _labels(pipeline, offsets, y_top) + _arrows(pipeline, offsets, y_top)
    offset = offset_label(pipeline)
    if offset:
        annotations.append(
            {"x": width_cells - 0.5, "y": y_top + rows - 0.2, "yshift": -2 * LABEL_STAGGER_PX,
             "xanchor": "right", "yanchor": "top",
             "text": offset, "showarrow": False, "font": {"size": 11, "color": HIGHLIGHT}}
        )  # fmt: skip
    steps = [
        {"args": [[str(f)], {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"}],
         "label": str(f), "method": "animate"}
        for f in range(last + 1)
    ]  # fmt: skip
    layout(
        fig,
        pipeline.title,
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        title_size=14,
        annotations=annotations,
        xaxis={"visible": False, "range": [-1.6, width_cells], "constrain": "domain"},
        yaxis={"visible": False, "autorange": "reversed", "scaleanchor": "x",
               "range": [y_top + rows + 1.5, y_top - 3.2]},
        updatemenus=[{
            "type": "buttons", "direction": "left", "x": 0.0, "y": -0.02, "xanchor": "left",
            "yanchor": "top", "showactive": False, "bgcolor": CONTROL_FILL,
            "bordercolor": CONTROL_BORDER,
            "buttons": [
                {"label": "▶ Play", "method": "animate", "args": [
                    [str(f) for f in range(last + 1)],
                    {"frame": {"duration": 250, "redraw": True}, "fromcurrent": False,
                     "transition": {"duration": 0}, "mode": "immediate"}]},
                {"label": "❚❚ Pause", "method": "animate", "args": [
                    [None], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"}]},
            ],
        }],
        sliders=[{
            "active": last, "steps": steps, "x": 0.25, "len": 0.75, "y": -0.02,
            "yanchor": "top", "currentvalue": {"prefix": "step ", "font": {"size": 11},
                                               "xanchor": "right"},
            "bgcolor": CONTROL_FILL, "bordercolor": CONTROL_BORDER, "pad": {"t": 0},
        }],
        hovermode="closest",
    )  # fmt: skip
