"""Built figures shared by every session, bounded by bytes.

A figure here is a pure function of what it shows (a layer, an input size, the maps chosen), and
building one with plotly's validated objects costs far more server CPU than sending it: so a page
builds each figure once per configuration and every later run that shows the same configuration,
in any session, reuses it. Nothing mutates a cached figure (`st.plotly_chart` serialises a copy).
The cache holds at most `FIGURE_CACHE_BYTES`, least recently used first out.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import plotly.graph_objects as go

from core.bounded_cache import BoundedCache, deep_sizeof

FIGURE_CACHE_BYTES = 48 * 2**20  # as measured by `figure_bytes`
# plotly's objects hold about twice their plain data: 400 overlap-page figures (100 layer
# geometries) counted 40.6 MiB of data by `deep_sizeof` and grew the process by 75 MiB.
PLOTLY_OVERHEAD = 2


def figure_bytes(fig: Any) -> int:
    """The memory a built figure (or a tuple of figures and texts) holds: its data and layout in
    plain-dict form, measured once, times `PLOTLY_OVERHEAD`."""
    if isinstance(fig, tuple):
        return sum(figure_bytes(part) for part in fig)
    if isinstance(fig, go.Figure):
        return PLOTLY_OVERHEAD * deep_sizeof(fig.to_dict())
    return deep_sizeof(fig)


_FIGURES: BoundedCache[Any] = BoundedCache(FIGURE_CACHE_BYTES, figure_bytes)

T = TypeVar("T")


def cached_figure(key: tuple[Hashable, ...], build: Callable[[], T]) -> T:
    """What `build()` makes (a figure, or a tuple of figures), built once per `key`: the key must
    name the figure (e.g. the chart's widget key) and every value it depends on."""
    return _FIGURES.get_or_make(key, build)
