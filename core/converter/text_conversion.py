"""Convert a pasted model text: trace it, rewrite every ConvTranspose2d, write the new model's code.

`convert_text(text, input_shape, method)` parses what `print(model)` shows (or a plain list of
layers), traces the shapes from `input_shape`, replaces every ConvTranspose2d by the best-ranked
replacement of the chosen method from `core.replacements.catalog.list_replacements`, and returns the
per-layer table and a standalone PyTorch file that builds the converted model as `model`.

A stride-1 ConvTranspose2d is an ordinary convolution: under a resize method it is rewritten
exactly with its sub-pixel equivalent (an upsampling by 1 would change nothing), and its row says
so (`method_for`). Layers kept as they are, each with the reason on its row: strides beyond the
resize-convolutions offered (resize methods), ConvTranspose1d/3d (replacements are built for
ConvTranspose2d only) and layers the trace did not reach. A parametrized ConvTranspose2d (spectral
norm) is replaced like a plain one; its parametrization is not carried into the replacement, and
its row says so.

The generated code holds nothing the user typed except validated numbers and names: layer types
come from Deconv Lab's own list of torch layers, argument names from torch's signatures, string
values from torch's allowed choices, module names only if they are plain identifiers (others are
renamed), and the replacement snippets are written by `core.replacements.codegen` from numbers.
Unknown layers become `nn.Identity()` placeholders with a comment.

Plain Python (no torch), so the app can call it on every change.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.converter.model_text import ParsedLayer, Value, is_safe_child_name, parse_model_text
from core.converter.shape_trace import (
    ERROR,
    KNOWN_LAYERS,
    REQUIRED,
    STOP_CONTRADICTION,
    STOP_REFUSED,
    STOP_UNKNOWN,
    STOP_UNTRACEABLE,
    UNTRACEABLE_LAYERS,
    ShapeTrace,
    TraceRow,
    bind_arguments,
    channels_first,
    defaults_of,
    trace_shapes,
    transposed_conv,
    units,
)
from core.errors import ConfigError
from core.geometry.layer import SPATIAL_NAMES, TransposedConv
from core.replacements import registry
from core.replacements.entries import Replacement
from core.replacements.plan import resize_note

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_KIND_RE = re.compile(r"_?[A-Za-z][A-Za-z0-9]{0,63}")  # a parametrization named in a comment
_CHOICE_RE = re.compile(r"[a-z][a-z\-]{0,19}")


@dataclass(frozen=True)
class ConvertedLayer:
    """One row of the conversion table (shapes include the batch dimension)."""

    path: str
    type_name: str
    before: str  # the layer as parsed
    after: str  # the replacement's name, or "unchanged"
    in_shape: tuple[int, ...] | None
    out_shape_before: tuple[int, ...] | None
    out_shape_after: tuple[int, ...] | None
    method: str | None  # None where the layer was kept
    exact: bool | None  # None where the layer was kept
    status: str  # the trace's status for this layer
    note: str = ""

    @property
    def replaced(self) -> bool:
        return self.method is not None

    def as_dict(self) -> dict:
        def listed(shape: tuple[int, ...] | None) -> list[int] | None:
            return list(shape) if shape is not None else None

        return {
            "path": self.path,
            "type": self.type_name,
            "before": self.before,
            "after": self.after,
            "in_shape": listed(self.in_shape),
            "out_shape_before": listed(self.out_shape_before),
            "out_shape_after": listed(self.out_shape_after),
            "method": self.method,
            "exact": self.exact,
            "status": self.status,
            "note": self.note,
        }


@dataclass(frozen=True)
class TextConversion:
    """The result of `convert_text`: the table, the code, the trace and model-level notes."""

    method: str
    input_shape: tuple[int, ...]
    rows: tuple[ConvertedLayer, ...]
    code: str
    trace: ShapeTrace
    notes: tuple[str, ...] = ()

    @property
    def replaced(self) -> int:
        """How many transposed convolutions were rewritten."""
        return sum(row.replaced for row in self.rows)

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        return self.trace.output_shape

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape) if self.output_shape else None,
            "replaced": self.replaced,
            "rows": [row.as_dict() for row in self.rows],
            "code": self.code,
            "notes": list(self.notes),
            "trace": self.trace.as_dict(),
        }


def _literal(value: Value) -> str:
    """Python source for a parsed value; refuses anything but numbers, bools, None, tuples and
    short lowercase choice strings (the only strings torch's layers take)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else '-float("inf")'
        return repr(float(value))
    if isinstance(value, tuple):
        inner = ", ".join(_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, str) and _CHOICE_RE.fullmatch(value):
        return f'"{value}"'  # lowercase letters and dashes only
    raise ConfigError("text", "a value that cannot be written into code safely")


def _layer_call(layer: ParsedLayer) -> str:
    """`nn.Type(required..., name=value...)` for a known torch layer, defaults left out."""
    params, _ = bind_arguments(layer)
    defaults = defaults_of(layer.type_name)
    parts = []
    for name, default in defaults.items():
        if name not in params:
            continue
        value = _compact(name, params[name])
        if default is REQUIRED:
            parts.append(_literal(value))
        elif not _same_value(value, default):
            parts.append(f"{name}={_literal(value)}")
    return f"nn.{layer.type_name}({', '.join(parts)})"


# Parametrizations print(model) names, and the torch call that puts each back on `weight`
# (with its default settings: print(model) does not show them).
_PARAMETRIZATION_CALLS = {
    "_SpectralNorm": "nn.utils.parametrizations.spectral_norm",
    "_WeightNorm": "nn.utils.parametrizations.weight_norm",
    "_Orthogonal": "nn.utils.parametrizations.orthogonal",
}


def _kind(name: str) -> str:
    """A parametrization's type name as it may appear in a comment of the generated code."""
    return name if _KIND_RE.fullmatch(name) else "a parametrization"


def _parametrized(layer: ParsedLayer, call: str) -> str:
    """`call` wrapped in the parametrizations of a `ParametrizedX(...)` layer where torch has a
    public function for them; a comment naming the ones left out otherwise."""
    if not layer.parametrizations:
        return call
    left_out = []
    for tensor, kinds in layer.parametrizations:
        for kind in kinds:
            if tensor == "weight" and kind in _PARAMETRIZATION_CALLS:
                call = f"{_PARAMETRIZATION_CALLS[kind]}({call})"
            else:
                left_out.append(_kind(kind))
    if left_out:
        shown = ", ".join(dict.fromkeys(left_out))
        call += f"  # parametrized in the original ({shown}): not rebuilt here"
    return call


def _same_value(value: Value, default: object) -> bool:
    if isinstance(value, tuple) and value and type(default) is int:
        return all(type(v) is int and v == default for v in value)
    return type(value) is type(default) and value == default


def _compact(name: str, value: Value) -> Value:
    """torch style: `kernel_size=(4, 4)` written as `kernel_size=4`."""
    if (
        name in SPATIAL_NAMES
        and isinstance(value, tuple)
        and len(set(value)) == 1
        and all(type(v) is int for v in value)
    ):
        return value[0]
    return value


def _identifier(path: str, used: set[str]) -> str:
    base = "replaced_" + re.sub(r"[^A-Za-z0-9_]", "_", path or "root")
    base = base[:60] if _IDENT_RE.fullmatch(base[:60]) else "replaced_layer"
    name, k = base, 2
    while name in used:
        name, k = f"{base}_{k}", k + 1
    used.add(name)
    return name


@dataclass(frozen=True)
class _Chosen:
    """A rewritten layer's part of the code: a module-level snippet bound to `variable`."""

    variable: str
    header: str  # comment line naming the layer and its replacement
    snippet: str  # the replacement's code, imports removed
    imports: tuple[str, ...]  # the snippet's import lines


class _CodeWriter:
    """Write the converted model as nn.Sequential trees, replacements as module-level snippets."""

    def __init__(self, chosen: dict[str, _Chosen], renamed: dict[str, str]) -> None:
        self.chosen = chosen
        self.renamed = renamed
        self.uses_ordered_dict = False
        self.placeholders = 0

    def module(self, layer: ParsedLayer, indent: int) -> str:
        if layer.path in self.chosen:
            return self.chosen[layer.path].variable
        if layer.type_name in UNTRACEABLE_LAYERS:
            self.placeholders += 1
            return (
                f"nn.Identity()  # placeholder for {layer.type_name}: not rebuilt here, copy it "
                "from your model"
            )
        if layer.is_container:
            return self.container(layer, indent)
        if layer.type_name in KNOWN_LAYERS:
            try:
                return _parametrized(layer, _layer_call(layer))
            except ConfigError:
                self.placeholders += 1
                return (
                    f"nn.Identity()  # placeholder: the arguments of this {layer.type_name} "
                    "could not be read"
                )
        self.placeholders += 1
        kind = layer.type_name if _IDENT_RE.fullmatch(layer.type_name) else "layer"
        return f"nn.Identity()  # placeholder for {kind}, unknown to Deconv Lab: put yours here"

    def container(self, layer: ParsedLayer, indent: int) -> str:
        pad = " " * (indent + 4)
        names = [self.renamed.get(child.path, child.name) for child in layer.children]
        if not layer.children:
            return "nn.Sequential()"
        plain = names == [str(i) for i in range(len(names))]
        lines = []
        for name, child in zip(names, layer.children, strict=True):
            code = self.module(child, indent + (4 if plain else 8))
            code, comment = _split_comment(code)
            if plain:
                lines.append(f"{pad}{code},{comment}")
            else:
                lines.append(f'{pad}    ("{name}", {code}),{comment}')
        if plain:
            return "nn.Sequential(\n" + "\n".join(lines) + f"\n{' ' * indent})"
        self.uses_ordered_dict = True
        return (
            "nn.Sequential(\n"
            + f"{pad}OrderedDict([\n"
            + "\n".join(lines)
            + f"\n{pad}])\n{' ' * indent})"
        )


def _comment(text: str) -> str:
    """`text` as `# ` comment lines of at most 96 characters."""
    return "\n".join(textwrap.wrap(text, 96, initial_indent="# ", subsequent_indent="# "))


def _split_comment(code: str) -> tuple[str, str]:
    """Move a trailing `# comment` of a one-line module after the comma that follows it."""
    if "\n" not in code and "  # " in code:
        body, comment = code.split("  # ", 1)
        return body, f"  # {comment}"
    return code, ""


def _split_snippet(code: str) -> tuple[list[str], str]:
    """(import lines, the rest) of a replacement snippet from core.replacements.codegen."""
    imports, rest = [], []
    for line in code.splitlines():
        if line.startswith(("import ", "from ")):
            imports.append(line)
        else:
            rest.append(line)
    return imports, "\n".join(rest).strip("\n")


def _safe_names(root: ParsedLayer) -> tuple[dict[str, str], list[str]]:
    """Child names that may not go into code, renamed `child<i>`; notes saying so."""
    renamed: dict[str, str] = {}
    notes = []
    for layer in root.walk():
        taken = {c.name for c in layer.children if is_safe_child_name(c.name)}
        for i, child in enumerate(layer.children):
            if not is_safe_child_name(child.name):
                new = f"child{i}"
                while new in taken:
                    new += "_"
                taken.add(new)
                renamed[child.path] = new
                notes.append(
                    f"a module name under {layer.path or 'the model'} is not a plain "
                    f"identifier: called {new} in the code"
                )
    return renamed, notes


def _code_path(path: str, renamed: dict[str, str]) -> str:
    """The dotted path with renamed segments, as it will be in the generated model."""
    parts = path.split(".") if path else []
    out = []
    for i in range(len(parts)):
        full = ".".join(parts[: i + 1])
        out.append(renamed.get(full, parts[i]))
    return ".".join(out)


def _write_code(
    root: ParsedLayer,
    method: str,
    chosen: dict[str, _Chosen],
    renamed: dict[str, str],
    warnings: list[str],
) -> str:
    """The converted model's file: header and imports, notes, the replacements, the model."""
    writer = _CodeWriter(chosen, renamed)
    body = (
        writer.module(root, 0)
        if root.is_container
        else writer.container(ParsedLayer("", "", "Sequential", children=(root,)), 0)
    )
    if writer.placeholders:
        warnings = [
            f"{writer.placeholders} layer(s) could not be written and are "
            "nn.Identity() placeholders: see the comments below.",
            *warnings,
        ]
    imports = [line for item in chosen.values() for line in item.imports]
    lines = [
        *_code_header(method, imports, writer.uses_ordered_dict),
        "",
        *_note_lines(warnings),
        *_snippet_lines(chosen),
        "",
        f"model = {body}",
        "",
    ]
    return "\n".join(lines).replace("\n\n\n\n", "\n\n\n")


def _code_header(method: str, imports: list[str], uses_ordered_dict: bool) -> list[str]:
    """The file's docstring and its imports, in isort's order."""
    header = [
        f'"""Converted by Deconv Lab: every ConvTranspose2d rewritten with the "{method}" method.',
        "",
        "Built from the pasted model text: custom modules become nn.Sequential containers",
        "that run their children in the printed order, and weights start fresh",
        "(core.converter.live.convert_model carries trained weights in a live model).",
        '"""',
        "",
    ]
    wanted = ["import torch", "from torch import nn", *imports]
    if uses_ordered_dict:
        wanted.append("from collections import OrderedDict")
    # stdlib first, then torch; plain imports before from-imports (isort's order)
    ordered = sorted(dict.fromkeys(wanted), key=lambda s: ("torch" in s, s.startswith("from"), s))
    if uses_ordered_dict:
        ordered.insert(1, "")
    return header + ordered


def _note_lines(warnings: list[str]) -> list[str]:
    """The warnings as `# NOTE:` comments, then a blank line (nothing without warnings)."""
    lines = []
    for note in warnings:
        lines += textwrap.wrap(note, 96, initial_indent="# NOTE: ", subsequent_indent="# ")
    return [*lines, ""] if warnings else []


def _snippet_lines(chosen: dict[str, _Chosen]) -> list[str]:
    """Each replacement's snippet bound to its variable; a helper class written once only."""
    lines = []
    seen_blocks: set[str] = set()
    for item in chosen.values():
        snippet = item.snippet
        for block in _class_blocks(item.snippet):
            if block in seen_blocks:
                snippet = snippet.replace(block, "").strip("\n")
            seen_blocks.add(block)
        lines += ["", item.header, snippet, f"{item.variable} = layer", ""]
    return lines


def _class_blocks(snippet: str) -> list[str]:
    """Top-level `class ...:` blocks of a snippet (each up to the next top-level line)."""
    blocks, current = [], None
    for line in snippet.splitlines():
        if line.startswith("class "):
            current = [line]
            blocks.append(current)
        elif current is not None and (not line or line.startswith((" ", "\t"))):
            current.append(line)
        else:
            current = None
    return ["\n".join(b).rstrip("\n") for b in blocks]


_TRANSPOSED = ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
_OTHER_TRANSPOSED = ("ConvTranspose1d", "ConvTranspose3d")


def method_for(layer: TransposedConv, method: str) -> tuple[str, str]:
    """(method to use, note) for a valid ConvTranspose2d under the chosen `method`.

    With stride 1 everywhere a transposed convolution is an ordinary convolution: there is
    nothing to upsample and no checkerboard, and a resize-convolution would be an Upsample by 1
    (a no-op) before a Conv2d. So a resize method rewrites such a layer exactly, with its
    sub-pixel equivalent (a Conv2d at the input's resolution, nothing to shuffle),
    and says so. Every other case uses `method` as chosen, with no note. Shared by
    `convert_text` and `core.converter.live.convert_model`, so that both paths treat a layer
    alike."""
    if registry.method(method).resize_mode is None or any(s != 1 for s in layer.stride):
        return method, ""
    return registry.STRIDE_ONE_METHOD, (
        f"stride 1: an ordinary convolution (nothing to upsample, no checkerboard), so {method} "
        "would add an upsampling by 1 that changes nothing; rewritten exactly with its "
        "sub-pixel equivalent, a Conv2d"
    )


def other_transposed_reason(type_name: str) -> str:
    """Why a ConvTranspose1d/3d is kept: replacements are built for ConvTranspose2d only."""
    return (
        f"kept as it is: Deconv Lab builds replacements for ConvTranspose2d only, not "
        f"{type_name}; rewrite it by hand (the same recipes apply per axis) or leave it"
    )


def _check_max_layers(root: ParsedLayer, max_layers: int | None) -> None:
    if max_layers is None:
        return
    count = len(root.leaves())
    if count > max_layers:
        raise ConfigError(
            "text",
            f"the model has {count:,} layers; at most {max_layers:,} are converted here. "
            "Paste the part of the model that holds the transposed convolutions, or convert "
            "the whole model in Python: core.converter.live.convert_model on the live model, or "
            "core.converter.text_conversion.convert_text without max_layers",
        )


def convert_text(
    text: str,
    input_shape: Sequence[int],
    method: str,
    *,
    max_layers: int | None = None,
    shapes_at: Mapping[str, Sequence[int]] | None = None,
) -> TextConversion:
    """Parse, trace and convert a pasted model; see the module docstring.

    Args:
        text: what `print(model)` shows, or one layer per line.
        input_shape: the model's input, batch included, e.g. (1, 100, 1, 1) for a DCGAN latent.
        method: one of core.replacements.registry.METHODS.
        max_layers: refuse models with more layers (leaves) than that before any tracing (the
            app passes its cap; None: only the parser's own MAX_LAYERS).
        shapes_at: known shapes at layers, as in `core.converter.shape_trace.trace_shapes`.

    Returns:
        A `TextConversion`: one row per layer, the converted model's code, the trace.

    Raises ConfigError for unparseable text, too many layers, a bad input shape or an unknown
    method; layer problems are reported on their rows. A transposed convolution the trace did not
    reach with a shape is still rewritten (a replacement's geometry does not depend on the input
    size); its row and code then state no shapes.

    Example:
        >>> result = convert_text("nn.ConvTranspose2d(8, 4, 4, 2, 1)", (1, 8, 16, 16), "subpixel")
        >>> result.replaced, result.output_shape
        (1, (1, 4, 32, 32))
    """
    method = registry.method(method).name
    root = parse_model_text(text)
    _check_max_layers(root, max_layers)
    trace = trace_shapes(root, input_shape, shapes_at)
    renamed, notes = _safe_names(root)
    layers = {layer.path: layer for layer, _ in units(root)}
    rows: list[ConvertedLayer] = []
    chosen: dict[str, _Chosen] = {}
    used: set[str] = set()  # the replacements' variable names
    for row in trace.rows:
        leaf = layers[row.path]
        converted, best, method_note = _convert_row(row, leaf, method)
        rows.append(converted)
        if best is not None:
            chosen[row.path] = _chosen(row.path, leaf, best, method_note, renamed, used)
    if any(leaf.type_name == "Upsample" for leaf in layers.values()):
        notes.append("print(model) does not show Upsample's align_corners: check it in the code")
    code = _write_code(root, method, chosen, renamed, _code_warnings(root, trace, renamed))
    return TextConversion(
        method, trace.input_shape, tuple(rows), code, trace, (*trace.notes, *notes)
    )


def _convert_row(
    row: TraceRow, leaf: ParsedLayer, method: str
) -> tuple[ConvertedLayer, Replacement | None, str]:
    """The conversion decision for one traced layer.

    Args:
        row: the layer's row of the trace.
        leaf: the parsed layer.
        method: the method chosen for the model.

    Returns:
        Its table row; its replacement, None where it is kept (the row's note says why); the
        note on the method used (`method_for`), "" where it is the chosen one.
    """
    from core.replacements.catalog import best_replacement  # looked up at each call

    kept = _unchanged(row)
    if row.type_name not in _TRANSPOSED:
        return kept, None, ""
    spec = _spec_or_reason(row, leaf)
    if isinstance(spec, str):
        return _with_note(kept, spec), None, ""
    used_method, method_note = method_for(spec, method)
    sizes = _input_sizes(row)
    best = best_replacement(spec, used_method, sizes)
    if best is None:  # resize methods beyond MAX_RESIZE_SCALE: resize_note says why
        why = resize_note(spec) or f"no {method} replacement for this layer"
        return _with_note(kept, f"not converted: {why}"), None, ""
    out_after = _output_after(row, spec, best, sizes)
    if out_after is not None and out_after != row.out_shape:  # never write another size
        why = (
            f"not converted: the {used_method} replacement would output {out_after}, "
            f"not {row.out_shape} (a Deconv Lab bug: please report it)"
        )
        return _with_note(kept, why), None, ""
    return _rewritten(row, leaf, best, out_after, method_note), best, method_note


def _output_after(
    row: TraceRow, spec: TransposedConv, best: Replacement, sizes: tuple[int, int] | None
) -> tuple[int, ...] | None:
    """The replacement's output shape (batch included), None where no shape reached the layer."""
    if sizes is None or row.out_shape is None:
        return None
    return (*row.out_shape[:-3], spec.out_channels, *best.output_size)


def _rewritten(
    row: TraceRow,
    leaf: ParsedLayer,
    best: Replacement,
    out_after: tuple[int, ...] | None,
    method_note: str,
) -> ConvertedLayer:
    """The table row of a rewritten layer, with everything to know about it in its note."""
    parametrization = _parametrization_dropped(leaf) if leaf.parametrizations else ""
    unsized = "rewritten from the layer alone (no shape reached it)" if out_after is None else ""
    note = "; ".join(filter(None, [row.note, method_note, parametrization, unsized]))
    return ConvertedLayer(
        row.path,
        row.type_name,
        row.text,
        best.name,
        row.in_shape,
        row.out_shape,
        out_after,
        best.method,
        best.exact,
        row.status,
        note,
    )


def _unchanged(row: TraceRow) -> ConvertedLayer:
    """The table row of a layer kept as it is."""
    return ConvertedLayer(
        row.path,
        row.type_name,
        row.text,
        "unchanged",
        row.in_shape,
        row.out_shape,
        row.out_shape,
        None,
        None,
        row.status,
        row.note,
    )


def _spec_or_reason(row: TraceRow, leaf: ParsedLayer) -> TransposedConv | str:
    """The ConvTranspose2d to rewrite, or why this transposed convolution is kept."""
    if row.type_name in _OTHER_TRANSPOSED:
        return other_transposed_reason(row.type_name)
    if row.status == ERROR:  # torch refuses it with the input that reaches it
        return "not converted: torch refuses this layer here"
    try:
        return transposed_conv(leaf)
    except ConfigError as exc:
        return f"not converted: {exc.message}"


def _input_sizes(row: TraceRow) -> tuple[int, int] | None:
    """The (H, W) the layer computed with (a flat (N, C) latent is viewed as (N, C, 1, 1)), or
    None where no shape reached it."""
    treated = channels_first(row.in_shape, 2) if row.in_shape is not None else None
    return tuple(treated[1][-2:]) if treated is not None and row.out_shape else None


def _chosen(
    path: str,
    leaf: ParsedLayer,
    best: Replacement,
    method_note: str,
    renamed: dict[str, str],
    used: set[str],
) -> _Chosen:
    """A rewritten layer's snippet, under a fresh variable name (added to `used`)."""
    code_path = _code_path(path, renamed)
    imports, snippet = _split_snippet(best.code)
    header = _snippet_header(code_path, leaf, best, method_note)
    return _Chosen(_identifier(code_path, used), header, snippet, tuple(imports))


def _snippet_header(code_path: str, leaf: ParsedLayer, best: Replacement, method_note: str) -> str:
    """The comment above a replacement's snippet: the layer, its replacement, what to know."""
    exactness = "exact" if best.exact else "same size, not exact"
    header = f"# {code_path or 'model'}: {best.name} ({exactness})"
    if method_note:
        header += "\n" + _comment(method_note)
    if leaf.parametrizations:
        kinds = ", ".join(dict.fromkeys(_kind(k) for _, ks in leaf.parametrizations for k in ks))
        header += f"\n# its parametrization in the original ({kinds}) is not carried here"
    return header


def _code_warnings(root: ParsedLayer, trace: ShapeTrace, renamed: dict[str, str]) -> list[str]:
    """What the generated file must say about itself, from the trace."""
    warnings = []
    if trace.stopped_at is not None:  # fixed words only: the reason may quote the user's text
        where = _code_path(trace.stopped_at, renamed) or "the model"
        why = {
            STOP_REFUSED: "this model fails for the given input shape",
            STOP_CONTRADICTION: "what reaches it is not what it expects: the model's forward() "
            "does something the printout does not show",
            STOP_UNKNOWN: "a layer Deconv Lab does not know, whose name suggests a shape change",
            STOP_UNTRACEABLE: "a layer whose output the printout cannot decide",
        }[trace.stop_kind]
        warnings.append(
            f"the shape trace stopped at {where}: {why} (the conversion table says why). The "
            "transposed convolutions after it were rewritten from their own arguments, without "
            "shapes."
        )
    flat = next(
        (r for r in trace.rows if r.in_shape is not None and channels_first_viewed(r)), None
    )
    if flat is not None and flat.in_shape is not None:
        viewed = (*flat.in_shape, *[1] * _SPATIAL_CONVS[flat.type_name])
        warnings.append(
            f"{_code_path(flat.path, renamed)} gets the {len(flat.in_shape)}-D input "
            f"{flat.in_shape}, which torch refuses: reshape it to {viewed} first "
            "(the conversion table traced it so)."
        )
    if trace.certainty != "proven" and any(
        not layer.synthetic and layer.type_name != "Sequential"
        for layer in root.walk()
        if layer.is_container
    ):
        warnings.append(
            "custom modules are written here as nn.Sequential containers that run their "
            "children in the printed order; their own forward() (skip connections, views, "
            "parallel branches) is not in a printout: copy the replaced layers into your own "
            "model's code rather than running this file as the model."
        )
    return warnings


MAX_CHECK_PARAMETERS = (
    80_000_000  # core.converter.torch_check builds models up to this (pix2pix: 54 M)
)
MAX_CHECK_ACTIVATION = 1 << 25  # values of the largest tensor in a checked forward pass


def checkable(root: ParsedLayer) -> str:
    """Why `core.converter.torch_check.check_conversion` cannot build and check this pasted model,
    or ""
    where it can: every container must run its layers in order (nn.Sequential, or a plain list),
    so that the chain built from the printout is the model, and every layer must be one Deconv
    Lab can build."""
    for layer in root.walk():
        if layer.is_container and not (layer.synthetic or layer.type_name == "Sequential"):
            return (
                f"{layer.path or 'the model'} is a {layer.type_name}, whose forward() is not in "
                "the printout: a chain built from it would not be your model. Paste the "
                "Sequential inside it alone, or check your own model with "
                "core.converter.live.convert_model"
            )
        if not layer.is_container and layer.type_name not in KNOWN_LAYERS:
            return f"{layer.type_name} at {layer.path} is not a layer Deconv Lab can build"
    return ""


def channels_first_viewed(row: TraceRow) -> bool:
    """True where the trace viewed a flat (N, C) input as (N, C, 1, 1[, 1]) for this row's
    2D/3D convolution (torch itself refuses it)."""
    n = _SPATIAL_CONVS.get(row.type_name)
    if n is None or row.in_shape is None:
        return False
    treated = channels_first(row.in_shape, n)
    return treated is not None and len(treated[1]) != len(row.in_shape)


_SPATIAL_CONVS = {f"{kind}{n}d": n for kind in ("Conv", "ConvTranspose") for n in (2, 3)}


def _parametrization_dropped(leaf: ParsedLayer) -> str:
    return (
        f"its parametrization ({leaf.parametrization_text}) is not carried into the "
        "replacement: core.converter.live.convert_model folds it into the weights; apply it to "
        "the new convolution to train on with it"
    )


def _with_note(row: ConvertedLayer, note: str) -> ConvertedLayer:
    joined = f"{row.note}; {note}" if row.note else note
    return ConvertedLayer(
        row.path,
        row.type_name,
        row.before,
        row.after,
        row.in_shape,
        row.out_shape_before,
        row.out_shape_after,
        None,
        None,
        row.status,
        joined,
    )
