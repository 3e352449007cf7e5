"""Check a text conversion with torch itself: build the pasted chain, convert it live, run both.

`check_conversion(text, input_shape, method)` builds the model that a pasted printout describes
(only where the printout proves the data flow: every container an nn.Sequential or a plain list,
so the chain built here is the model), converts it with `core.converter.live.convert_model` (weights
carried), runs the original and the converted model on one random input, and reports what torch
measured: every layer's shape (forward hooks), the output shapes, and how far the outputs differ.
The page shows these numbers beside the trace, so a shape it states was also computed by torch.

Bounded for a shared server: the model is first built on torch's "meta" device (no memory) to
count its parameters, and the activations are bounded by the trace's shapes before anything runs.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from core.converter.live import ConversionReport, convert_model
from core.converter.model_text import ParsedLayer, parse_model_text
from core.converter.shape_trace import ShapeTrace, bind_arguments, trace_shapes, units
from core.converter.text_conversion import MAX_CHECK_ACTIVATION, MAX_CHECK_PARAMETERS, checkable
from core.errors import ConfigError

Shape = tuple[int, ...]
Progress = Callable[[int, int, str], object]

_PARAMETRIZATIONS = {
    "_SpectralNorm": nn.utils.parametrizations.spectral_norm,
    "_WeightNorm": nn.utils.parametrizations.weight_norm,
}


@dataclass(frozen=True)
class TorchCheck:
    """What torch measured for one conversion of a pasted chain.

    `layer_shapes` maps each layer's path to its (input, output) shape in the original model's
    forward pass (forward hooks); `max_abs_difference` and `relative_difference`
    (||y_converted - y|| / ||y||) compare the outputs of the original and the converted model on
    the same random input.
    """

    method: str
    input_shape: Shape
    output_shape: Shape
    converted_output_shape: Shape
    layer_shapes: dict[str, tuple[Shape, Shape]]
    max_abs_difference: float
    relative_difference: float
    parameters: int
    report: ConversionReport
    seconds: float

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "converted_output_shape": list(self.converted_output_shape),
            "layer_shapes": {
                path: [list(a), list(b)] for path, (a, b) in self.layer_shapes.items()
            },
            "max_abs_difference": self.max_abs_difference,
            "relative_difference": self.relative_difference,
            "parameters": self.parameters,
            "report": self.report.as_dict(),
            "seconds": self.seconds,
        }


def _build(layer: ParsedLayer) -> nn.Module:
    if layer.is_container:
        return nn.Sequential(OrderedDict((c.name, _build(c)) for c in layer.children))
    params, _ = bind_arguments(layer)  # validated values: numbers, tuples, torch's choices
    module = getattr(nn, layer.type_name)(**params)
    for tensor, kinds in layer.parametrizations:
        for kind in kinds:
            if tensor == "weight" and kind in _PARAMETRIZATIONS:
                module = _PARAMETRIZATIONS[kind](module)
    return module


def check_conversion(
    text: str | ParsedLayer,
    input_shape: Sequence[int],
    method: str,
    *,
    progress: Progress | None = None,
    seed: int = 0,
    max_parameters: int = MAX_CHECK_PARAMETERS,
) -> TorchCheck:
    """Build the pasted chain in torch, convert it with `method`, run both, report torch's numbers.

    Args:
        text: what `print(model)` shows (or a parsed tree); every container must be an
            nn.Sequential (or the text a plain list of layers).
        input_shape: the model's input, batch included.
        method: one of core.replacements.registry.METHODS.
        progress: optional progress(done, total, path), called as `convert_model` converts
            each transposed convolution.
        seed: the weights and the input are drawn from it.
        max_parameters: refuse larger models (ConfigError naming `text`).

    Returns:
        A `TorchCheck` with the shapes torch measured and the difference of the outputs.

    Raises:
        ConfigError: where the chain cannot be built or checked here (custom modules, unknown
            layers, a model or activations over the caps, a trace that stops).

    Example:
        >>> check = check_conversion("nn.ConvTranspose2d(4, 2, 4, 2, 1)", (1, 4, 8, 8), "subpixel")
        >>> check.output_shape == check.converted_output_shape == (1, 2, 16, 16)
        True
        >>> check.max_abs_difference < 1e-5
        True
    """
    start = time.perf_counter()
    root = parse_model_text(text) if isinstance(text, str) else text
    trace = _checkable_trace(root, input_shape)
    with torch.device("meta"):
        counted = sum(p.numel() for p in _build(root).parameters())
    if counted > max_parameters:
        raise ConfigError(
            "text",
            f"the model has {counted:,} parameters; the check builds models of up to "
            f"{max_parameters:,}: check a part of it, or your own model with convert_model",
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        original = _build(root).eval()
        x = torch.randn(*trace.input_shape)
    converted, report = convert_model(original, method, progress=progress)
    converted.eval()
    paths = {layer.path for layer, _ in units(root)}
    with torch.no_grad():
        y, shapes = _forward_with_shapes(original, x, paths)
        y_converted = converted(x)
    difference = (y_converted - y).abs() if y.shape == y_converted.shape else None
    reference = float(y.norm())
    return TorchCheck(
        method=method,
        input_shape=trace.input_shape,
        output_shape=tuple(y.shape),
        converted_output_shape=tuple(y_converted.shape),
        layer_shapes=shapes,
        max_abs_difference=math.inf if difference is None else float(difference.max()),
        relative_difference=(
            math.inf
            if difference is None
            else float(difference.norm()) / reference
            if reference > 0
            else 0.0
        ),
        parameters=counted,
        report=report,
        seconds=time.perf_counter() - start,
    )


def _checkable_trace(root: ParsedLayer, input_shape: Sequence[int]) -> ShapeTrace:
    """The trace of a chain the check can build and run here (ConfigError saying why not: custom
    modules, a trace that stops, activations over `MAX_CHECK_ACTIVATION`)."""
    why = checkable(root)
    if why:
        raise ConfigError("text", f"cannot check this model with torch here: {why}")
    trace = trace_shapes(root, input_shape)
    if trace.stopped_at is not None:
        raise ConfigError(
            "input_shape",
            f"the trace stops at {trace.stopped_at} ({trace.stop_reason}): fix that first",
        )
    largest = max(
        (math.prod(s) for r in trace.rows for s in (r.in_shape, r.out_shape) if s), default=0
    )
    if largest > MAX_CHECK_ACTIVATION:
        raise ConfigError(
            "input_shape",
            f"the forward pass holds a tensor of {largest:,} values; the check runs up to "
            f"{MAX_CHECK_ACTIVATION:,}: use a smaller input shape (batch 1, a smaller image)",
        )
    return trace


def _forward_with_shapes(
    model: nn.Module, x: torch.Tensor, paths: set[str]
) -> tuple[torch.Tensor, dict[str, tuple[Shape, Shape]]]:
    """model(x), and the (input, output) shape of each module at `paths` as torch's forward
    hooks saw it (a module run twice keeps its first)."""
    shapes: dict[str, tuple[Shape, Shape]] = {}

    def record(path: str) -> Callable:
        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            shapes.setdefault(path, (tuple(args[0].shape), tuple(output.shape)))

        return hook

    handles = [
        module.register_forward_hook(record(path))
        for path, module in model.named_modules()
        if path in paths
    ]
    try:
        return model(x), shapes
    finally:
        for handle in handles:
            handle.remove()
