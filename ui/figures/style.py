"""The one look of every chart: layout, colours, the plotly toolbar's config.

Every figure in `ui.figures` is finished by `layout` and draws with the colours below; every
`st.plotly_chart` in pages/ passes `PLOTLY_CONFIG`. The look reads in Streamlit's light and dark
themes: a transparent background, no font colour of its own (the host theme decides the text
colour), a sequential colour scale readable for colour-blind readers, and accents that read on
light and dark backgrounds.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

# The toolbar of every chart: no plotly logo. Pages may add keys (e.g. hide the mode bar).
PLOTLY_CONFIG: dict[str, Any] = {"displaylogo": False}

COLORSCALE = "Viridis"  # sequential: reads in light and dark themes and for colour-blind readers
HIGHLIGHT = "#ff4b4b"  # the current pixel, its taps, checkerboard marks, the interior box
TRANSPARENT = "rgba(0,0,0,0)"
GREY_BAND = "rgba(128,128,128,0.2)"  # shaded regions (borders of a profile)
GREY_LINE = "rgba(128,128,128,0.9)"  # neutral outlines (the kept output of the scatter)
# Controls (slider rail, buttons): plotly's defaults are near-white; grey reads on both themes.
CONTROL_FILL = "rgba(128,128,128,0.35)"
CONTROL_BORDER = "rgba(128,128,128,0.6)"
# Three states (waiting, done, current: the scatter animation's input pixels) on zmin 0..zmax 2:
# translucent grey, teal (Viridis' middle), the highlight.
STATE_SCALE = [[0.0, "rgba(128,128,128,0.25)"], [0.5, "#21918c"], [1.0, HIGHLIGHT]]
# One colour per generator variant: Okabe & Ito's colour-blind-safe palette, in the variants'
# order (ConvTranspose2d first, in vermillion); each reads on light and dark backgrounds and none
# is close to another.
VARIANT_COLOURS = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#56B4E9", "#E69F00")

# Margins (pixels): full-width figures with a title and axis titles, and compact panels.
MARGIN = {"l": 60, "r": 20, "t": 70, "b": 50}
MARGIN_COMPACT = {"l": 55, "r": 10, "t": 40, "b": 45}
TITLE_SIZE_COMPACT = 13  # title font size of compact panels (None: the theme's size)
LEGEND_BELOW = {"orientation": "h", "y": -0.25}  # a horizontal legend under the plot


def layout(
    fig: go.Figure,
    title: str,
    *,
    height: int | None = None,
    margin: dict[str, int] | None = None,
    title_size: int | None = None,
    legend: dict[str, Any] | None = None,
    **extra: Any,
) -> go.Figure:
    """Finish a figure in the app's style: a left-aligned title, transparent background, no
    template colours (the host theme's text colour), margins, and optionally height and legend.

    Args:
        fig: the figure to finish (changed in place).
        title: the title, shown top left ("" for none).
        height: the figure's height in pixels; None leaves plotly's (or the host's) default.
        margin: margins in pixels; None for `MARGIN`.
        title_size: the title's font size; None for the theme's.
        legend: plotly legend settings (e.g. `LEGEND_BELOW`); None leaves plotly's default.
        **extra: further `fig.update_layout` settings (shapes, sliders, coloraxis, ...).

    Returns:
        The same figure, for chaining.
    """
    heading: dict[str, Any] = {"text": title, "x": 0.0, "xanchor": "left"}
    if title_size is not None:
        heading["font"] = {"size": title_size}
    settings: dict[str, Any] = {
        "title": heading,
        "template": "none",
        "paper_bgcolor": TRANSPARENT,
        "plot_bgcolor": TRANSPARENT,
        "margin": MARGIN if margin is None else margin,
    }
    if height is not None:
        settings["height"] = height
    if legend is not None:
        settings["legend"] = legend
    fig.update_layout(**settings, **extra)
    return fig
