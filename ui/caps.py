"""The app's limits: every size a widget, a link or a text box may ask for.

The hosted demo keeps them small (one request stays cheap on a shared 2-core machine); on your
own machine, one setting raises them: `DECONV_LAB_LIMITS=local streamlit run app.py`
(`core.limits`). Values above a limit are refused with a message that names the limit and how
to raise it (`explain`), never clamped in silence; links are clamped, with a notice. core accepts
far larger values (up to `core.geometry.layer.MAX_DIM`). The live generator's caps are
`core.hosted`'s.
"""

from __future__ import annotations

from core.hosted import GENERATOR_LIMITS
from core.limits import ENV_VAR, Limit, LimitsMode, limits_mode

MODE: LimitsMode = limits_mode()

LIMITS: dict[str, Limit] = {
    "channels": Limit("the channel count", 1024, 16_384),
    "groups": Limit("groups", 1024, 16_384),
    "kernel_size": Limit("kernel_size", 16, 64, " px"),
    "stride": Limit("stride", 8, 32, " px"),
    "padding": Limit("padding", 32, 512, " px"),
    "output_padding": Limit("output_padding", 7, 31, " px"),
    "dilation": Limit("dilation", 4, 16, " px"),
    "input_size": Limit("the input size", 256, 4096, " px"),
    # Overlap page (maps larger than ui.figures.overlap.MAX_HEATMAP_SIDE are drawn as a window).
    "stack_layers": Limit("the layers of the overlap stack", 6, 12),
    # Size solver.
    "chain_sizes": Limit("the sizes of a chain", 12, 64),
    "solver_size": Limit("a size in the solver", 4096, 65_536, " px"),
    "chain_layers": Limit("the layers of a chain by its ends", 6, 10),
    # Candidate layers one chain-by-its-ends search looks at (about a second of CPU per million).
    "chain_search": Limit("the candidate layers one chain search looks at", 1_000_000, 50_000_000),
    "solutions_shown": Limit("the configurations listed", 200, 2000),
    # Model converter.
    "model_text": Limit("the pasted model text", 20_000, 200_000, " characters"),
    "source_text": Limit("a model's .py file", 100_000, 200_000, " characters"),
    # Layers traced and converted per request: a 60-character `(0-9998): 9999 x Layer(...)` line
    # expands to thousands of rows and megabytes of code. Real generators have tens to hundreds.
    "converter_layers": Limit("the layers of a converted model", 500, 5000),
}


# A key "generator.<name>" names the live generator's cap <name> in `core.hosted.GENERATOR_LIMITS`
# (its widgets and links explain their limits with the same words as every other box).
GENERATOR_PREFIX = "generator."


def find(key: str) -> Limit:
    """The limit named `key`: a key in LIMITS, or "generator.<name>" for the live generator's.

    Args:
        key: e.g. "stride", or "generator.steps".

    Returns:
        The `core.limits.Limit` with its hosted and local values.

    Example:
        >>> find("generator.steps").local
        5000
    """
    if key.startswith(GENERATOR_PREFIX):
        return GENERATOR_LIMITS[key[len(GENERATOR_PREFIX) :]]
    return LIMITS[key]


def limit(key: str) -> int:
    """The value of limit `key` (see `find`) in force."""
    return find(key).value(MODE)


def explain(key: str) -> str:
    """Which limit `key` (see `find`) is and how to raise it, in plain words (see
    `core.limits.Limit`)."""
    return find(key).explain(MODE)


MAX_CHANNELS = limit("channels")
MAX_GROUPS = limit("groups")
MAX_KERNEL = limit("kernel_size")
MAX_STRIDE = limit("stride")
MAX_PADDING = limit("padding")
MAX_OUTPUT_PADDING = limit("output_padding")
MAX_DILATION = limit("dilation")
MAX_INPUT = limit("input_size")  # spatial input size, per axis (px)
MAX_STACK_LAYERS = limit("stack_layers")
MAX_CHAIN_SIZES = limit("chain_sizes")
MAX_SOLVER_SIZE = limit("solver_size")
MAX_CHAIN_LAYERS = limit("chain_layers")
MAX_CHAIN_SEARCH = limit("chain_search")
MAX_SOLUTIONS_SHOWN = limit("solutions_shown")
MAX_MODEL_TEXT = limit("model_text")
MAX_SOURCE_TEXT = limit("source_text")  # a model's .py file (core reads up to 200,000)
MAX_CONVERTER_LAYERS = limit("converter_layers")

__all__ = ["ENV_VAR", "GENERATOR_PREFIX", "LIMITS", "MODE", "explain", "find", "limit"]
