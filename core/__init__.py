"""Deconv Lab's engine: exact arithmetic for transposed convolutions and their replacements.

Geometry (sizes, steps, solver, Keras translation, overlap counts) is plain Python and numpy;
torch is imported only by the functions that build modules or touch weights, and only when
they are first used, so `import core` and `python -m core` stay fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from core.errors import ConfigError
from core.layer import Axis, TransposedConv
from core.output_size import input_size_for, output_size, output_steps

# name -> module that defines it; imported on first access (PEP 562).
_LAZY = {
    "solve": "core.solver",
    "solve_chain": "core.solver",
    "from_keras": "core.keras",
    "list_replacements": "core.replacements",
    "replace_conv_transpose": "core.weights",
    "fuse_resize_conv": "core.weights",
    "overlap_map": "core.overlap",
    "overlap_profile": "core.overlap",
    "stack_overlap": "core.overlap",
    "overlap_stats": "core.overlap",
    "overlap_summary": "core.overlap",
    "overlap_ratio": "core.overlap",
    "replacement_overlaps": "core.overlap",
    "checkerboard_strength": "core.artifacts",
    "checkerboard_energy": "core.artifacts",
    "GeneratorConfig": "core.generator",
    "render_at_init": "core.generator",
    "fit": "core.generator",
    "pick_device": "core.generator",
    "default_target": "core.images",
    "load_upload": "core.images",
    "heavy_run_slot": "core.hosted",
    "convert_model": "core.convert",
    "fuse_model": "core.convert",
    "parse_model_text": "core.model_text",
    "trace_shapes": "core.shape_trace",
    "convert_text": "core.text_conversion",
}

__all__ = [
    "Axis",
    "ConfigError",
    "TransposedConv",
    "input_size_for",
    "output_size",
    "output_steps",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'core' has no attribute {name!r}")
