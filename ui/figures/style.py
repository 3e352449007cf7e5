"""The one look of every chart: layout, colours, the plotly toolbar's config.

Every figure in `ui.figures` is finished by `layout` and draws with the colours below; every
`st.plotly_chart` in pages/ passes `PLOTLY_CONFIG`. The look reads in Streamlit's light and dark
themes: a transparent background, no font colour of its own (the host theme decides the text
colour), a sequential colour scale readable for colour-blind readers, and accents that read on
light and dark backgrounds.

It also reads at a phone's width (390 px) as on a desktop's: the server does not know the width,
so titles are wrapped to lines that fit a phone (`wrap_title`), no plotly toolbar sits over them
(`PLOTLY_CONFIG`), colour bars lie under the plot rather than beside it (`COLORBAR_BELOW`), and
pages put several panels side by side with `st.columns` (one figure each; the columns stack on a
phone) rather than as subplots of one figure, whose titles and axes would run into each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

# The toolbar of every chart: none. Plotly's mode bar floats over the top right corner, where
# on a phone it covers the title; dragging still zooms and a double click resets.
PLOTLY_CONFIG: dict[str, Any] = {"displaylogo": False, "displayModeBar": False}

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
# A horizontal legend at the bottom of the figure, under the x axis's title whatever the width:
# on a phone its entries wrap to one a row, so leave `LEGEND_ROOM` pixels of bottom margin.
LEGEND_BELOW = {
    "orientation": "h",
    "x": 0,
    "xanchor": "left",
    "y": 0,
    "yref": "container",
    "yanchor": "bottom",
}
LEGEND_ROOM = 110
# A horizontal colour bar at the bottom of the figure (leave about 80 px of bottom margin for it
# and the x axis's title): a vertical one beside the plot takes a third of a phone's width.
COLORBAR_BELOW: dict[str, Any] = {
    "orientation": "h",
    "thickness": 10,
    "len": 1.0,
    "lenmode": "fraction",
    "x": 0.5,
    "xanchor": "center",
    "y": 0,
    "yref": "container",
    "yanchor": "bottom",
    "title": {"side": "top"},
}
TITLE_WRAP = 46  # characters per title line: a line fits a phone's 390 px at the title's size
TITLE_LINE = 22  # pixels each extra title line adds to the top margin
# A horizontal colour bar between the title and the plot (leave about 45 px more top margin).
COLORBAR_ABOVE: dict[str, Any] = {
    **COLORBAR_BELOW,
    "y": 1.02,
    "yref": "paper",
    "yanchor": "bottom",
    "title": {"side": "top"},
}


def wrap_title(title: str, width: int = TITLE_WRAP) -> str:
    """A title broken into lines of at most `width` characters (at spaces; a longer word keeps
    its own line), joined by plotly's "<br>".

    Args:
        title: the title, plain text (it may hold "<br>" breaks of its own).
        width: characters per line.

    Returns:
        The wrapped title.
    """
    glue = "\u00a0"  # "16 × 16" stays on one line: the spaces around × do not break
    title = title.replace(" × ", f"{glue}×{glue}")
    lines: list[str] = []
    for part in title.split("<br>"):
        line = ""
        for word in part.split(" "):
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return "<br>".join(lines).replace(glue, " ")


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
        title: the title, shown top left ("" for none), wrapped to `TITLE_WRAP` characters a
            line (the top margin and the height grow by `TITLE_LINE` per extra line).
        height: the figure's height in pixels; None leaves plotly's (or the host's) default.
        margin: margins in pixels; None for `MARGIN`.
        title_size: the title's font size; None for the theme's.
        legend: plotly legend settings (e.g. `LEGEND_BELOW`); None leaves plotly's default.
        **extra: further `fig.update_layout` settings (shapes, sliders, coloraxis, ...).

    Returns:
        The same figure, for chaining.
    """
    wrapped = wrap_title(title)
    heading: dict[str, Any] = {"text": wrapped, "x": 0.0, "xanchor": "left"}
    if title_size is not None:
        heading["font"] = {"size": title_size}
    margins = dict(MARGIN if margin is None else margin)
    extra_lines = wrapped.count("<br>")
    if extra_lines:
        margins["t"] = margins.get("t", MARGIN["t"]) + TITLE_LINE * extra_lines
        if height is not None:
            height += TITLE_LINE * extra_lines
    settings: dict[str, Any] = {
        "title": heading,
        "template": "none",
        "paper_bgcolor": TRANSPARENT,
        "plot_bgcolor": TRANSPARENT,
        "margin": margins,
    }
    if height is not None:
        settings["height"] = height
    if legend is not None:
        settings["legend"] = legend
    fig.update_layout(**settings, **extra)
    return fig


def colour_bar_figure(
    zrange: Sequence[float],
    title: str,
    *,
    height: int = 70,
    integers: bool = False,
    colorscale: Any = COLORSCALE,
) -> go.Figure:
    """A horizontal colour bar alone: the one scale of a row of panels drawn as separate figures
    (in `st.columns`, so that they stack on a phone).

    Args:
        zrange: (low, high) of the scale, as given to the panels.
        title: the bar's title (what the colours mean).
        height: the figure's height in pixels.
        integers: whole-number ticks (counts).
        colorscale: the panels' colour scale.

    Returns:
        The figure (an invisible heatmap carrying the colour bar).
    """
    low, high = float(zrange[0]), float(zrange[1])
    bar: dict[str, Any] = {
        **COLORBAR_BELOW,
        "title": {"text": title, "side": "top"},
        "y": 0.5,
        "yref": "paper",
        "yanchor": "middle",
    }
    if integers:
        bar.update(tickformat="d", tickmode="linear", tick0=0, dtick=max(1, -(-int(high) // 8)))
    fig = go.Figure(
        go.Heatmap(
            z=[[low, high]],
            colorscale=colorscale,
            zmin=low,
            zmax=high,
            showscale=True,
            colorbar=bar,
            hoverinfo="skip",
            opacity=0,
        )
    )
    layout(fig, "", height=height, margin={"l": 10, "r": 10, "t": 5, "b": 5})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig
