"""One report of a layer for a given input: sizes, arithmetic, overlap, replacements.

The CLI prints it as text or JSON; everything in it is computed by the modules it calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.errors import ConfigError
from core.geometry.layer import TransposedConv
from core.geometry.output_size import input_tuple, output_size, output_steps
from core.geometry.phases import even_overlap, taps_per_phase

# Largest 2D overlap grid put into a report verbatim (the per-axis profiles always are).
MAX_REPORT_CELLS = 256 * 256


def layer_report(layer: TransposedConv, input_size: int | Sequence[int]) -> dict[str, Any]:
    """A JSON-safe dict describing `layer` applied to `input_size` (ConfigError if invalid)."""
    sizes = input_tuple(layer, input_size)
    out = output_size(layer, sizes)
    report: dict[str, Any] = {
        "layer": layer.kwargs(),
        "torch": layer.torch_repr(),
        "input_size": list(sizes),
        "output_size": list(out),
        "steps": [s.as_dict() for s in output_steps(layer, sizes)],
        "taps_per_phase": [taps_per_phase(a) for a in layer.axes],
        "even_overlap": all(even_overlap(a) for a in layer.axes),
    }
    from core.overlap.counts import overlap_summary

    report.update(overlap_summary(layer, sizes, max_cells=MAX_REPORT_CELLS))
    if layer.ndim == 2:
        from core.replacements.catalog import list_replacements
        from core.replacements.plan import resize_note

        report["replacements"] = [r.as_dict() for r in list_replacements(layer, sizes)]
        report["replacements_note"] = resize_note(layer)
    else:
        report["replacements"] = []
        report["replacements_note"] = (
            f"computed for 2D layers (ConvTranspose2d) only; this one is {layer.ndim}D"
        )
    return report


def format_report(report: dict[str, Any]) -> str:
    """Human-readable text for `layer_report`'s dict."""
    lines = [f"Deconv Lab: {report['torch']}"]
    shape = " x ".join(map(str, report["input_size"]))
    out = " x ".join(map(str, report["output_size"]))
    lines += [f"input {shape}  ->  output {out}", ""]
    lines.append("Output size per axis: out = (in - 1)*s - 2p + d(k - 1) + op + 1")
    for step in report["steps"]:
        lines.append(f"  {step['axis']}: {step['substituted']}")
        terms = ", ".join(f"{t['label']} = {t['value']}" for t in step["terms"])
        lines.append(f"     {terms}")
    lines.append("")
    phases = "; ".join(
        f"{s['axis']} {_phases_text(p)}"
        for s, p in zip(report["steps"], report["taps_per_phase"], strict=True)
    )
    verdict = "even: no checkerboard" if report["even_overlap"] else "UNEVEN: checkerboard-prone"
    lines.append(f"Kernel taps per output phase: {phases} ({verdict})")
    if report.get("overlap_ratio") is not None:
        lines.append(f"Interior overlap max/min ratio: {report['overlap_ratio']:.3g}")
    if report["replacements"]:
        lines += ["", "Replacements (best first):"]
        width = max(len(r["name"]) for r in report["replacements"])
        for i, r in enumerate(report["replacements"], 1):
            kind = "exact" if r["exact"] else "approx"
            lines.append(
                f"  {i:2d}. {r['name']:<{width}}  {kind:<6}  params {r['params']:>10,}  "
                f"MACs {r['macs']:>14,}"
            )
    if report.get("replacements_note"):
        lines += ["", f"Replacements: {report['replacements_note']}."]
    if report["replacements"]:
        lines.append("")
        lines.append("Print one replacement's code with --code N; everything as JSON with --json.")
    return "\n".join(lines)


def _phases_text(counts: Sequence[int], most: int = 16) -> str:
    """Taps per phase as a list, or summarised where the stride makes it longer than `most`."""
    if len(counts) <= most:
        return str(list(counts))
    head = ", ".join(map(str, counts[: most // 2]))
    served = sum(1 for c in counts if c)
    return f"[{head}, ...] ({len(counts)} phases, {served} with taps)"


def check_ndim(sizes: Sequence[int]) -> int:
    """Number of spatial axes implied by an input size given on the command line."""
    if not 1 <= len(sizes) <= 3:
        raise ConfigError("input_size", f"--input-size takes 1, 2 or 3 values, got {len(sizes)}")
    return len(sizes)
