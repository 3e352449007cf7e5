"""Plotly drawings of numbers core has already computed (spectra, loss curves): no arithmetic.

Same look as `core.figures`: Viridis (reads in light and dark themes and for colour-blind
readers), transparent background, the host theme's text colour, labelled axes with units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from core.figures import COLORSCALE, HIGHLIGHT

_TRANSPARENT = "rgba(0,0,0,0)"
# One colour per generator variant, distinguishable in light and dark themes.
VARIANT_COLOURS = ("#ef553b", "#636efa", "#00a2a2", "#ab63fa", "#ffa15a", "#19d3f3")


def _layout(fig: go.Figure, title: str, height: int, **extra: Any) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 13}},
        template="none",
        paper_bgcolor=_TRANSPARENT,
        plot_bgcolor=_TRANSPARENT,
        height=height,
        **{"margin": {"l": 55, "r": 10, "t": 40, "b": 45}, **extra},
    )
    return fig


def spectrum_figure(
    log_power: np.ndarray,
    frequency_y: Sequence[float],
    frequency_x: Sequence[float],
    marks: Sequence[Mapping[str, float | int]],
    title: str = "Mean power spectrum",
    height: int = 300,
    show_scale: bool = False,
) -> go.Figure:
    """Heatmap of a centred log10 power spectrum, checkerboard frequencies circled."""
    fig = go.Figure(
        go.Heatmap(
            z=np.asarray(log_power),
            x=np.asarray(frequency_x),
            y=np.asarray(frequency_y),
            colorscale=COLORSCALE,
            showscale=show_scale,
            colorbar={"title": {"text": "log10 power", "side": "right"}, "thickness": 10},
            hovertemplate="fx %{x:.3f}, fy %{y:.3f} cycles/px<br>log10 power %{z:.2f}"
            "<extra></extra>",
        )
    )
    if marks:
        fig.add_trace(
            go.Scatter(
                x=[m["fx"] for m in marks],
                y=[m["fy"] for m in marks],
                mode="markers",
                marker={
                    "symbol": "circle-open",
                    "size": 7,
                    "color": HIGHLIGHT,
                    "line": {"width": 1.5},
                },
                text=[f"period {m['period']} px" for m in marks],
                hovertemplate="checkerboard frequency<br>fx %{x:.3f}, fy %{y:.3f} cycles/px"
                "<br>%{text}<extra></extra>",
                name="checkerboard frequencies",
                showlegend=False,
            )
        )
    _layout(fig, title, height, margin={"l": 45, "r": 5, "t": 30, "b": 40})
    ticks = {"tickvals": [-0.5, 0, 0.5], "ticktext": ["-½", "0", "½"]}
    fig.update_xaxes(
        title_text="fx (cycles/px)",
        zeroline=False,
        showgrid=False,
        range=[-0.52, 0.52],
        constrain="domain",
        **ticks,
    )
    fig.update_yaxes(
        title_text="fy (cycles/px)",
        zeroline=False,
        showgrid=False,
        range=[0.52, -0.52],
        scaleanchor="x",
        constrain="domain",
        **ticks,
    )
    return fig


def loss_figure(
    losses: Mapping[str, Sequence[float]], labels: Mapping[str, str], height: int = 320
) -> go.Figure:
    """Training loss per variant against the step, log scale."""
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
    _layout(
        fig,
        "Fit loss (mean squared error on [-1, 1] pixels)",
        height,
        legend={"orientation": "h", "y": -0.25},
    )
    fig.update_xaxes(title_text="step", zeroline=False)
    fig.update_yaxes(title_text="MSE (log scale)", type="log")
    return fig
