"""Deconv Lab's engine: exact arithmetic for transposed convolutions and their replacements.

Geometry (sizes, steps, solver, Keras translation, overlap counts) is plain Python and numpy;
torch is imported only by the functions that build modules or touch weights, and only when
they are first used, so `import core` and `python -m core` stay fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from core.errors import ConfigError
from core.geometry.layer import Axis, TransposedConv
from core.geometry.output_size import input_size_for, output_size, output_steps

# name -> module that defines it; imported on first access (PEP 562).
_LAZY = {
    "solve": "core.geometry.solver",
    "solve_chain": "core.geometry.solver",
    "solve_ends": "core.geometry.chains",
    "chain_code": "core.geometry.chains",
    "changes_for": "core.geometry.changes",
    "near_multiple": "core.geometry.changes",
    "from_keras": "core.geometry.keras",
    "list_replacements": "core.replacements.catalog",
    "best_replacement": "core.replacements.catalog",
    "replace_conv_transpose": "core.replacements.weights",
    "fuse_resize_conv": "core.replacements.weights",
    "overlap_map": "core.overlap.counts",
    "overlap_profile": "core.overlap.counts",
    "stack_overlap": "core.overlap.counts",
    "overlap_stats": "core.overlap.counts",
    "overlap_summary": "core.overlap.counts",
    "overlap_ratio": "core.overlap.counts",
    "replacement_overlaps": "core.overlap.replacement_maps",
    "pipeline": "core.replacements.pipelines",
    "trace_output": "core.replacements.pipelines",
    "checkerboard_strength": "core.checkerboard",
    "checkerboard_energy": "core.checkerboard",
    "GeneratorConfig": "core.generator.config",
    "render_at_init": "core.generator.run",
    "fit": "core.generator.run",
    "pick_device": "core.generator.devices",
    "default_target": "core.generator.images",
    "load_upload": "core.generator.images",
    "heavy_run_slot": "core.hosted",
    "convert_model": "core.converter.live",
    "fuse_model": "core.converter.live",
    "parse_model_text": "core.converter.model_text",
    "trace_shapes": "core.converter.shape_trace",
    "convert_text": "core.converter.text_conversion",
    "check_conversion": "core.converter.torch_check",
    "convert_source": "core.converter.source_conversion",
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
