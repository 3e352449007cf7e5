"""Plotly drawings of numbers core has already computed (spectra, loss curves, a layer's answer
to a flat input): no arithmetic beyond choosing ticks.

The app's one style (`ui.figures.style`), compact: small titles and margins for panels in
columns; labelled axes with units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from ui.figures.style import (
    COLORSCALE,
    HIGHLIGHT,
    LEGEND_BELOW,
    LEGEND_ROOM,
    MARGIN_COMPACT,
    TITLE_SIZE_COMPACT,
    VARIANT_COLOURS,
    colour_bar_figure,
    layout,
)

FLAT_ANNOTATE_MAX = 8  # flat-input windows up to this many cells a side get their values printed

# How each mark order is drawn: the last stage's frequencies largest, earlier stages' smaller.
_MARK_STYLES = (
    {"symbol": "circle-open", "size": 10, "line": {"width": 2}},
    {"symbol": "diamond-open", "size": 7, "line": {"width": 1.5}},
    {"symbol": "square-open", "size": 4, "line": {"width": 1}},
)


def _colorbar(horizontal: bool) -> dict[str, Any]:
    if horizontal:
        return {
            "title": {"text": "log10 power", "side": "top"},
            "orientation": "h",
            "thickness": 10,
            "len": 1.0,
            "y": 0.5,
            "yanchor": "middle",
        }
    return {"title": {"text": "log10 power", "side": "right"}, "thickness": 10}


def spectrum_figure(
    log_power: np.ndarray,
    frequency_y: Sequence[float],
    frequency_x: Sequence[float],
    marks: Sequence[Mapping[str, float | int]],
    title: str = "Mean power spectrum",
    height: int = 300,
    show_scale: bool = False,
    zrange: Sequence[float] | None = None,
    stages: int | None = None,
    axis_titles: bool = True,
) -> go.Figure:
    """Heatmap of a centred log10 power spectrum, checkerboard frequencies marked.

    Args:
        log_power: the 2D log10 power, zero frequency centred; NaN bins (the masked zero
            frequency) are left blank.
        frequency_y, frequency_x: the frequency of each row and column (cycles per pixel).
        marks: checkerboard frequencies, each with "fx", "fy", "period" and "order": order 1 (the
            last stage) is drawn as circles, order 2 diamonds, order 3 and up small squares.
        title: the panel's title.
        height: the panel's height in pixels.
        show_scale: draw the colour bar.
        zrange: (low, high) of the colour scale, e.g. `core.generator.spectra.spectrum_range`
            shared by several panels so that equal colours mean equal power (values outside are
            clipped); None lets plotly use this panel's own range.
        stages: the generator's stage count: names the stage of each mark in the hover text.
        axis_titles: False leaves out the axis titles and most margins, for narrow columns (say
            in a caption that both axes are in cycles per pixel).

    Returns:
        The figure.
    """
    fig = go.Figure(_heatmap(log_power, frequency_y, frequency_x, show_scale, zrange))
    for trace in _mark_traces(marks, stages):
        fig.add_trace(trace)
    margin = (
        {"l": 45, "r": 5, "t": 30, "b": 40} if axis_titles else {"l": 24, "r": 4, "t": 24, "b": 20}
    )
    layout(fig, title, height=height, margin=margin, title_size=TITLE_SIZE_COMPACT)
    _frequency_axes(fig, axis_titles)
    return fig


def _heatmap(
    log_power: np.ndarray,
    frequency_y: Sequence[float],
    frequency_x: Sequence[float],
    show_scale: bool,
    zrange: Sequence[float] | None,
) -> go.Heatmap:
    """The spectrum itself, on a fixed colour range where `zrange` is given."""
    heat: dict[str, Any] = {}
    if zrange is not None:
        heat = {"zmin": float(zrange[0]), "zmax": float(zrange[1]), "zauto": False}
    return go.Heatmap(
        z=np.asarray(log_power),
        x=np.asarray(frequency_x),
        y=np.asarray(frequency_y),
        colorscale=COLORSCALE,
        showscale=show_scale,
        colorbar=_colorbar(False),
        hoverongaps=False,
        hovertemplate="fx %{x:.3f}, fy %{y:.3f} cycles/px<br>log10 power %{z:.2f}<extra></extra>",
        **heat,
    )


def _mark_traces(
    marks: Sequence[Mapping[str, float | int]], stages: int | None
) -> list[go.Scatter]:
    """One marker trace per order of checkerboard frequency (circles, diamonds, squares)."""
    traces = []
    for order in sorted({int(m.get("order", 1)) for m in marks}):
        group = [m for m in marks if int(m.get("order", 1)) == order]
        style = _MARK_STYLES[min(order, len(_MARK_STYLES)) - 1]
        stage = f"stage {stages - order + 1}, " if stages else ""
        traces.append(
            go.Scatter(
                x=[m["fx"] for m in group],
                y=[m["fy"] for m in group],
                mode="markers",
                marker={**style, "color": HIGHLIGHT},
                text=[f"{stage}period {m['period']} px" for m in group],
                hovertemplate="checkerboard frequency<br>fx %{x:.3f}, fy %{y:.3f} cycles/px"
                "<br>%{text}<extra></extra>",
                name=f"{stage}period {group[0]['period']} px",
                showlegend=False,
            )
        )
    return traces


def _frequency_axes(fig: go.Figure, axis_titles: bool) -> None:
    """Both axes from -1/2 to 1/2 cycles per pixel, square, fy downwards like an image."""
    ticks = {"tickvals": [-0.5, 0, 0.5], "ticktext": ["-½", "0", "½"], "tickfont": {"size": 10}}
    fig.update_xaxes(
        title_text="fx (cycles/px)" if axis_titles else None,
        zeroline=False,
        showgrid=False,
        range=[-0.55, 0.55],
        constrain="domain",
        **ticks,
    )
    fig.update_yaxes(
        title_text="fy (cycles/px)" if axis_titles else None,
        zeroline=False,
        showgrid=False,
        range=[0.55, -0.55],
        scaleanchor="x",
        constrain="domain",
        **ticks,
    )


def colour_scale_figure(zrange: Sequence[float], height: int = 70) -> go.Figure:
    """A horizontal colour bar alone: the shared scale of a row of `spectrum_figure` panels.

    Args:
        zrange: (low, high) of the scale, as given to the panels.
        height: the figure's height in pixels.

    Returns:
        The figure (an invisible heatmap carrying the colour bar).
    """
    return colour_bar_figure(zrange, "log10 power", height=height)


def log_ticks(values: Sequence[float]) -> tuple[list[float], list[str]]:
    """Tick positions and labels for a log axis over `values` that read as plain numbers:
    every power of ten ("0.01", "0.1", "1") when the values span two decades or more, else
    also the 2s and 5s in between ("0.02", "0.05"), so a short span still gets ticks; the first
    and last tick lie at or just outside the values (use them as the axis's range).

    Args:
        values: the positive values the axis shows (others are ignored).

    Returns:
        (tick values, tick labels); empty when no value is positive and finite.
    """
    data = np.asarray(list(values), dtype=np.float64)
    data = data[np.isfinite(data) & (data > 0)]
    if data.size == 0:
        return [], []
    low, high = math.floor(math.log10(data.min())), math.ceil(math.log10(data.max()))
    steps = (1,) if high - low >= 2 else (1, 2, 5)
    ticks = [m * 10.0**e for e in range(low, high + 1) for m in steps]
    lo, hi = data.min(), data.max()
    inside = [t for t in ticks if lo / 1.0001 <= t <= hi * 1.0001]
    # the nearest ticks just outside the data too, so that the range is labelled at both ends
    below = [t for t in ticks if t < lo / 1.0001][-1:]
    above = [t for t in ticks if t > hi * 1.0001][:1]
    chosen = below + inside + above
    return chosen, [f"{t:.10g}" for t in chosen]


def loss_figure(
    losses: Mapping[str, Sequence[float]], labels: Mapping[str, str], height: int = 400
) -> go.Figure:
    """Training loss per variant against the step, log scale.

    Args:
        losses: each variant's loss per step, in the variants' order (one colour each).
        labels: display names of the variants (a missing one shows the variant's key).
        height: the figure's height in pixels.

    Returns:
        The figure, legend below the plot.
    """
    fig = go.Figure()
    for i, (name, values) in enumerate(losses.items()):
        fig.add_trace(
            go.Scatter(
                x=np.arange(1, len(values) + 1),
                y=np.asarray(values),
                mode="lines",
                name=labels.get(name, name),
                line={"color": VARIANT_COLOURS[i % len(VARIANT_COLOURS)], "width": 2},
                hovertemplate="step %{x}<br>MSE %{y:.4g}<extra>"
                + labels.get(name, name)
                + "</extra>",
            )
        )
    layout(
        fig,
        "Fit loss (mean squared error on [-1, 1] pixels)",
        height=height,
        margin={**MARGIN_COMPACT, "b": MARGIN_COMPACT["b"] + LEGEND_ROOM},
        title_size=TITLE_SIZE_COMPACT,
        legend=LEGEND_BELOW,
    )
    fig.update_xaxes(title_text="step", zeroline=False)
    ticks, labels = log_ticks([v for values in losses.values() for v in values])
    scale: dict[str, Any] = {}
    if ticks:
        scale = {
            "tickvals": ticks,
            "ticktext": labels,
            "range": [math.log10(ticks[0]), math.log10(ticks[-1])],
        }
    fig.update_yaxes(title_text="MSE (log scale)", type="log", **scale)
    return fig


def flat_figure(
    values: np.ndarray,
    rows: Sequence[int],
    cols: Sequence[int],
    title: str = "",
    *,
    zrange: Sequence[float] = (-1.0, 1.0),
    height: int = 230,
) -> go.Figure:
    """One variant's stage answering an all-ones input: a window of one output channel, each
    cell's value printed on it (for windows up to 8 cells a side), on a shared colour range.

    Args:
        values: the 2D window (e.g. `core.generator.flat.FlatPanel.values`, already divided by
            the stage's shared scale).
        rows: the window's output rows.
        cols: the window's output columns.
        title: the panel's title.
        zrange: (low, high) of the colour scale, shared by the stage's panels.
        height: the figure's height in pixels.

    Returns:
        The figure.
    """
    z = np.asarray(values, dtype=np.float64)
    trace: dict[str, Any] = {
        "z": z,
        "x": np.asarray(cols),
        "y": np.asarray(rows),
        "colorscale": COLORSCALE,
        "zmin": float(zrange[0]),
        "zmax": float(zrange[1]),
        "showscale": False,
        "xgap": 1,
        "ygap": 1,
        "hovertemplate": "output row %{y}, column %{x}<br>response %{z:.3f}<extra></extra>",
    }
    if max(z.shape) <= FLAT_ANNOTATE_MAX:
        trace.update(texttemplate="%{z:.2f}", textfont={"size": 10})
    fig = go.Figure(go.Heatmap(**trace))
    layout(
        fig,
        title,
        height=height,
        margin={"l": 28, "r": 4, "t": 28 if title else 6, "b": 26},
        title_size=TITLE_SIZE_COMPACT,
    )
    tick = {"tickfont": {"size": 10}, "dtick": 1 if len(cols) <= FLAT_ANNOTATE_MAX else None}
    fig.update_xaxes(showgrid=False, zeroline=False, constrain="domain", **tick)
    fig.update_yaxes(
        showgrid=False,
        zeroline=False,
        autorange="reversed",
        scaleanchor="x",
        constrain="domain",
        constraintoward="top",  # right under the variant's name, whatever the column's width
        **tick,
    )
    return fig
