"""Limits for the hosted demo: every widget is bounded by these, and URL values are clamped to them.

core accepts far larger values (up to `core.geometry.layer.MAX_DIM`); these keep one request cheap
on a shared 2-core machine. Raise them for local use by editing this file.
"""

from __future__ import annotations

MAX_CHANNELS = 1024
MAX_GROUPS = 1024
MAX_KERNEL = 16
MAX_STRIDE = 8
MAX_PADDING = 32
MAX_OUTPUT_PADDING = 7
MAX_DILATION = 4
MAX_INPUT = 256  # spatial input size, per axis (px)

# Overlap page (maps larger than ui.figures.overlap.MAX_HEATMAP_SIDE are drawn as a window).
MAX_STACK_LAYERS = 6

# Size solver.
MAX_CHAIN_SIZES = 12
MAX_SOLVER_SIZE = 4096
MAX_SOLUTIONS_SHOWN = 200

# Live generator: core.hosted's caps (stages, channels, batch, steps, resolution) apply.

# Model converter.
MAX_MODEL_TEXT = 20_000  # characters of pasted `print(model)` text
MAX_SOURCE_TEXT = 100_000  # characters of a model's .py file (the core parser reads 200,000)
# Layers traced and converted per request: a 60-character `(0-9998): 9999 x Layer(...)` line
# expands to thousands of rows and megabytes of code. Real generators have tens to hundreds.
MAX_CONVERTER_LAYERS = 500
