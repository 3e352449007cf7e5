"""The replacement methods Deconv Lab offers, by name."""

from __future__ import annotations

from core.replacements.plan import RESIZE_MODES

METHODS = ("subpixel", "zero-insertion", *(f"resize-{m}" for m in RESIZE_MODES))
