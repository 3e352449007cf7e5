"""Trace tensor shapes through a parsed model, layer by layer, without torch.

`trace_shapes(model, input_shape)` walks the layers of a `ParsedLayer` tree (from
`core.converter.model_text.parse_model_text`) in printed order and computes each layer's output
shape with torch's own arithmetic (transposed convolutions through `core.geometry.output_size`).

What the printout proves, and what it does not. An `nn.Sequential` (or a pasted list of layers)
runs its children in order, each on the previous one's output: rows reached through Sequentials
alone are "ok", computed exactly. A custom module, a ModuleList or a ModuleDict does not show its
`forward()`, which may concatenate skips, run branches in parallel, view or pad: rows inside one
are "assumed" (traced as if the children ran in printed order), and so is every row after the
first assumption (an unknown layer, a latent viewed as (N, C, 1, 1), an unprinted AvgPool
ceil_mode, a shape given by the user). `ShapeTrace.output_shape` is claimed only when every row is
"ok"; `assumed_output_shape` gives the conditional one.

Where the trace meets a contradiction (a layer expects channels or features that cannot be what
reaches it under the assumption), a layer torch refuses, a layer whose name suggests a shape change
it does not know, or a known layer it cannot follow (recurrent, attention, transformer blocks,
embeddings), it stops claiming shapes: `stopped_at` names the layer, `stop_reason` the likely cause
in words that fit the evidence (a Linear meeting a 4-D tensor: a flatten or view in forward();
channels doubled: a concatenation), `advice` what to do. The user can give the shape that reaches
any layer (`shapes_at`), and the trace resumes there. A parametrized layer
(`ParametrizedConvTranspose2d`, e.g. spectral norm) is traced as the layer it wraps. Nothing here
raises for a bad layer: only a bad `input_shape`, `shapes_at` or unparseable text raise
`ConfigError`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.converter.model_text import ParsedLayer, Value, parse_model_text
from core.errors import ConfigError
from core.geometry.layer import TransposedConv, as_tuple
from core.geometry.output_size import output_size

MAX_RANK = 6  # dimensions of the input shape, batch included
MAX_SIZE = 2**31  # largest size of one dimension anywhere in the trace

Shape = tuple[int, ...]

# Row statuses.
OK = "ok"  # computed exactly
ASSUMED = "assumed"  # computed on a stated assumption (e.g. a latent viewed as (N, C, 1, 1))
UNKNOWN = "unknown"  # layer not recognised: assumed to keep the shape, or the trace stops here
UNTRACEABLE = "untraceable"  # a known layer the trace cannot follow: the trace stops here
MISMATCH = "mismatch"  # channels/features contradict the assumed shape: the trace stops here
ERROR = "error"  # torch would refuse this with the shape proven to reach it: the trace stops here
SKIPPED = "skipped"  # after a stop

# How a trace can stop (ShapeTrace.stop_kind).
STOP_REFUSED = "refused"  # torch refuses a layer with the shape proven to reach it
STOP_CONTRADICTION = "contradiction"  # the assumed shape cannot be what reaches the layer
STOP_UNKNOWN = "unknown"  # a layer Deconv Lab does not know, named for a shape change
STOP_UNTRACEABLE = "untraceable"  # a known layer whose output the printout cannot decide

# Known layers whose output shape print(model) cannot decide, and why (stop messages).
_RECURRENT = (
    "a recurrent layer: RNN, LSTM and GRU return a tuple (output, hidden state), LSTMCell a "
    "tuple (h, c), RNNCell and GRUCell one hidden-state tensor, and what it gives depends on "
    "forward()'s arguments (the hidden state, batch_first), so no chain of layers can follow it"
)
_ATTENTION = (
    "an attention layer: it takes query, key and value and returns a tuple, so its inputs and "
    "output are decided by forward(), not by the printout"
)
_TRANSFORMER = (
    "a transformer block: its forward() runs attention, residual additions and norms, not its "
    "printed children in order"
)
_EMBEDDING = (
    "an embedding: it takes integer indices, not a feature tensor, and adds a dimension of its "
    "embedding size"
)
UNTRACEABLE_LAYERS: dict[str, str] = {
    **dict.fromkeys(("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"), _RECURRENT),
    "MultiheadAttention": _ATTENTION,
    **dict.fromkeys(
        (
            "Transformer",
            "TransformerEncoder",
            "TransformerDecoder",
            "TransformerEncoderLayer",
            "TransformerDecoderLayer",
        ),
        _TRANSFORMER,
    ),
    **dict.fromkeys(("Embedding", "EmbeddingBag"), _EMBEDDING),
}

REQUIRED = object()  # marks a required constructor argument in `SIGNATURES`


def _spatial(prefix: str, params: tuple[tuple[str, Any], ...]) -> dict[str, tuple]:
    return {f"{prefix}{n}d": params for n in (1, 2, 3)}


_CONV_T = (
    ("in_channels", REQUIRED),
    ("out_channels", REQUIRED),
    ("kernel_size", REQUIRED),
    ("stride", 1),
    ("padding", 0),
    ("output_padding", 0),
    ("groups", 1),
    ("bias", True),
    ("dilation", 1),
    ("padding_mode", "zeros"),
)
_CONV = (
    ("in_channels", REQUIRED),
    ("out_channels", REQUIRED),
    ("kernel_size", REQUIRED),
    ("stride", 1),
    ("padding", 0),
    ("dilation", 1),
    ("groups", 1),
    ("bias", True),
    ("padding_mode", "zeros"),
)
_NORM = (
    ("num_features", REQUIRED),
    ("eps", 1e-5),
    ("momentum", 0.1),
    ("affine", True),
    ("track_running_stats", True),
)
_INSTANCE = (
    ("num_features", REQUIRED),
    ("eps", 1e-5),
    ("momentum", 0.1),
    ("affine", False),
    ("track_running_stats", False),
)
_MAXPOOL = (
    ("kernel_size", REQUIRED),
    ("stride", None),
    ("padding", 0),
    ("dilation", 1),
    ("return_indices", False),
    ("ceil_mode", False),
)
_AVGPOOL = (
    ("kernel_size", REQUIRED),
    ("stride", None),
    ("padding", 0),
    ("ceil_mode", False),
    ("count_include_pad", True),
    ("divisor_override", None),
)
_LPPOOL = (
    ("norm_type", REQUIRED),
    ("kernel_size", REQUIRED),
    ("stride", None),
    ("ceil_mode", False),
)
_INPLACE = (("inplace", False),)
_DROPOUT = (("p", 0.5), ("inplace", False))

# Constructor arguments in torch's order, with defaults (torch 2.13; device/dtype left out).
SIGNATURES: dict[str, tuple[tuple[str, Any], ...]] = {
    **_spatial("ConvTranspose", _CONV_T),
    **_spatial("Conv", _CONV),
    **_spatial("BatchNorm", _NORM),
    **_spatial("InstanceNorm", _INSTANCE),
    **_spatial("MaxPool", _MAXPOOL),
    "AvgPool1d": _AVGPOOL[:-1],
    "AvgPool2d": _AVGPOOL,
    "AvgPool3d": _AVGPOOL,
    **_spatial("LPPool", _LPPOOL),
    **_spatial("MaxUnpool", (("kernel_size", REQUIRED), ("stride", None), ("padding", 0))),
    **_spatial("AdaptiveAvgPool", (("output_size", REQUIRED),)),
    **_spatial("AdaptiveMaxPool", (("output_size", REQUIRED), ("return_indices", False))),
    **_spatial("ZeroPad", (("padding", REQUIRED),)),
    **_spatial("ReflectionPad", (("padding", REQUIRED),)),
    **_spatial("ReplicationPad", (("padding", REQUIRED),)),
    **_spatial("CircularPad", (("padding", REQUIRED),)),
    **_spatial("ConstantPad", (("padding", REQUIRED), ("value", REQUIRED))),
    "Linear": (("in_features", REQUIRED), ("out_features", REQUIRED), ("bias", True)),
    "GroupNorm": (
        ("num_groups", REQUIRED),
        ("num_channels", REQUIRED),
        ("eps", 1e-5),
        ("affine", True),
    ),
    "LayerNorm": (
        ("normalized_shape", REQUIRED),
        ("eps", 1e-5),
        ("elementwise_affine", True),
        ("bias", True),
    ),
    "Upsample": (
        ("size", None),
        ("scale_factor", None),
        ("mode", "nearest"),
        ("align_corners", None),
        ("recompute_scale_factor", None),
    ),
    "UpsamplingNearest2d": (("size", None), ("scale_factor", None)),
    "UpsamplingBilinear2d": (("size", None), ("scale_factor", None)),
    "PixelShuffle": (("upscale_factor", REQUIRED),),
    "PixelUnshuffle": (("downscale_factor", REQUIRED),),
    "Flatten": (("start_dim", 1), ("end_dim", -1)),
    "Unflatten": (("dim", REQUIRED), ("unflattened_size", REQUIRED)),
    "ReLU": _INPLACE,
    "ReLU6": _INPLACE,
    "SELU": _INPLACE,
    "SiLU": _INPLACE,
    "Mish": _INPLACE,
    "Hardsigmoid": _INPLACE,
    "Hardswish": _INPLACE,
    "LeakyReLU": (("negative_slope", 0.01), ("inplace", False)),
    "PReLU": (("num_parameters", 1), ("init", 0.25)),
    "RReLU": (("lower", 0.125), ("upper", 1 / 3), ("inplace", False)),
    "ELU": (("alpha", 1.0), ("inplace", False)),
    "CELU": (("alpha", 1.0), ("inplace", False)),
    "GELU": (("approximate", "none"),),
    "Hardtanh": (("min_val", -1.0), ("max_val", 1.0), ("inplace", False)),
    "Softplus": (("beta", 1.0), ("threshold", 20.0)),
    "Softshrink": (("lambd", 0.5),),
    "Hardshrink": (("lambd", 0.5),),
    "Threshold": (("threshold", REQUIRED), ("value", REQUIRED), ("inplace", False)),
    "Softmax": (("dim", None),),
    "LogSoftmax": (("dim", None),),
    "Softmin": (("dim", None),),
    "GLU": (("dim", -1),),
    "Sigmoid": (),
    "Tanh": (),
    "Softsign": (),
    "Tanhshrink": (),
    "LogSigmoid": (),
    "Softmax2d": (),
    "Identity": (),
    "Dropout": _DROPOUT,
    "Dropout1d": _DROPOUT,
    "Dropout2d": _DROPOUT,
    "Dropout3d": _DROPOUT,
    "AlphaDropout": _DROPOUT,
    "FeatureAlphaDropout": _DROPOUT,
}
# Keyword-only constructor arguments (after `*` in torch's signature).
KEYWORD_ONLY: dict[str, tuple[tuple[str, Any], ...]] = {
    **_spatial("BatchNorm", (("bias", True),)),
    **_spatial("InstanceNorm", (("bias", True),)),
    "GroupNorm": (("bias", True),),
}
# Layers that accept and ignore any arguments (torch's `*args, **kwargs`).
_ANY_ARGS = frozenset(
    {"Identity", "Sigmoid", "Tanh", "Softsign", "Tanhshrink", "LogSigmoid", "Softmax2d"}
)
# Allowed string values, per argument name, for the layers above.
STRING_CHOICES: dict[str, frozenset[str]] = {
    "mode": frozenset(
        {"nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact"}
    ),
    "padding_mode": frozenset({"zeros", "reflect", "replicate", "circular"}),
    "padding": frozenset({"same", "valid"}),
    "approximate": frozenset({"none", "tanh"}),
}
_TRANSPOSED = {f"ConvTranspose{n}d": n for n in (1, 2, 3)}


# ----------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class TraceRow:
    """One layer of the trace: shapes include the batch dimension."""

    path: str
    type_name: str
    text: str
    in_shape: Shape | None
    out_shape: Shape | None
    status: str
    note: str = ""

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "type": self.type_name,
            "layer": self.text,
            "in_shape": list(self.in_shape) if self.in_shape is not None else None,
            "out_shape": list(self.out_shape) if self.out_shape is not None else None,
            "status": self.status,
            "note": self.note,
        }


@dataclass(frozen=True)
class ShapeTrace:
    """Rows in execution order, model-level notes, and where (if anywhere) the trace stopped.

    `stopped_at` is the layer where the trace stopped claiming shapes (None when it reached the
    end), `stop_kind` one of STOP_REFUSED, STOP_CONTRADICTION, STOP_UNKNOWN, STOP_UNTRACEABLE,
    `stop_reason` the likely cause in words, `advice` what the user can do, `suggested_shape` a
    shape the evidence points to for the input of `stopped_at` (or None), `given` the layers where
    the user's own shapes were used.
    """

    input_shape: Shape
    rows: tuple[TraceRow, ...]
    notes: tuple[str, ...] = ()
    stopped_at: str | None = None
    stop_reason: str = ""
    stop_kind: str = ""
    advice: str = ""
    suggested_shape: Shape | None = None
    given: tuple[str, ...] = ()

    @property
    def certainty(self) -> str:
        """ "proven" (every row computed from what the printout shows), "assumed" (it reached the
        end, but on a stated assumption) or "lost" (it stopped claiming shapes)."""
        if self.stopped_at is not None:
            return "lost"
        return "proven" if all(row.status == OK for row in self.rows) else "assumed"

    @property
    def output_shape(self) -> Shape | None:
        """The model's output shape where the printout proves it, else None."""
        if self.certainty != "proven":
            return None
        return self.rows[-1].out_shape if self.rows else self.input_shape

    @property
    def assumed_output_shape(self) -> Shape | None:
        """The final shape computed on the stated assumptions (equal to `output_shape` where that
        is proven); None where the trace stopped."""
        if self.stopped_at is not None:
            return None
        return self.rows[-1].out_shape if self.rows else self.input_shape

    @property
    def stopped_on_unknown(self) -> bool:
        """True when the trace stopped at a layer it cannot read or follow (not at one torch
        refuses and not at a contradiction)."""
        return self.stop_kind in (STOP_UNKNOWN, STOP_UNTRACEABLE)

    @property
    def clean(self) -> bool:
        """True when every row was computed exactly (no stop, assumption or mismatch)."""
        return self.certainty == "proven"

    def row(self, path: str) -> TraceRow:
        for row in self.rows:
            if row.path == path:
                return row
        raise KeyError(path)

    def as_dict(self) -> dict:
        return {
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape) if self.output_shape else None,
            "assumed_output_shape": (
                list(self.assumed_output_shape) if self.assumed_output_shape else None
            ),
            "certainty": self.certainty,
            "rows": [row.as_dict() for row in self.rows],
            "notes": list(self.notes),
            "stopped_at": self.stopped_at,
            "stop_kind": self.stop_kind,
            "stop_reason": self.stop_reason,
            "advice": self.advice,
            "suggested_shape": list(self.suggested_shape) if self.suggested_shape else None,
            "given": list(self.given),
        }


@dataclass
class _Step:
    shape: Shape
    status: str = OK
    notes: list[str] = field(default_factory=list)
    # (expected, got, what) where a layer expects other channels or features than reach it
    mismatch: tuple[int, int, str] | None = None


# ----------------------------------------------------------------------------------- arguments


def bind_arguments(layer: ParsedLayer) -> tuple[dict[str, Value], list[str]]:
    """Map a known layer's positional and keyword arguments to torch's parameter names.

    Returns (arguments given, names of arguments torch does not know, which are ignored).
    Raises ConfigError for too many positional arguments or a missing required one.
    """
    signature = SIGNATURES.get(layer.type_name)
    if signature is None:
        raise ConfigError("layer", f"{layer.type_name} is not a layer Deconv Lab knows")
    if layer.type_name in _ANY_ARGS:
        return {}, []
    names = [name for name, _ in signature]
    if len(layer.args) > len(names):
        raise ConfigError(
            layer.type_name,
            f"{layer.type_name} takes at most {len(names)} positional arguments "
            f"({', '.join(names) or 'none'}), got {len(layer.args)}",
        )
    bound: dict[str, Value] = dict(zip(names, layer.args, strict=False))
    keyword_only = [name for name, _ in KEYWORD_ONLY.get(layer.type_name, ())]
    ignored = []
    for name, value in layer.kwargs.items():
        if name in bound:
            raise ConfigError(name, f"{layer.type_name} got {name} twice")
        if name in names or name in keyword_only:
            bound[name] = value
        elif name not in ("device", "dtype"):
            ignored.append(name)
    for name, default in signature:
        if default is REQUIRED and name not in bound:
            raise ConfigError(name, f"{layer.type_name} needs {name}")
    for name, value in bound.items():
        if isinstance(value, str) and value not in STRING_CHOICES.get(name, ()):
            raise ConfigError(
                name, f"{layer.type_name}: {name}={value!r} is not a value torch accepts here"
            )
    return bound, ignored


def defaults_of(type_name: str) -> dict[str, Any]:
    """Every constructor argument of a known layer with its default (REQUIRED where none)."""
    return dict(SIGNATURES[type_name]) | dict(KEYWORD_ONLY.get(type_name, ()))


def transposed_conv(layer: ParsedLayer) -> TransposedConv:
    """The validated `TransposedConv` of a parsed ConvTranspose{1,2,3}d; ConfigError if invalid."""
    ndim = _TRANSPOSED.get(layer.type_name)
    if ndim is None:
        raise ConfigError("layer", f"{layer.type_name} is not a transposed convolution")
    params, _ = bind_arguments(layer)
    if params.get("padding_mode", "zeros") != "zeros":
        raise ConfigError(
            "padding_mode",
            f"{layer.type_name} supports only padding_mode='zeros' (torch refuses "
            f"{params['padding_mode']!r})",
        )
    if not isinstance(params.get("bias", True), (bool, int)):
        raise ConfigError("bias", "bias must be True or False")
    return TransposedConv.make(
        params["in_channels"],
        params["out_channels"],
        params["kernel_size"],
        params.get("stride", 1),
        params.get("padding", 0),
        params.get("output_padding", 0),
        params.get("groups", 1),
        bool(params.get("bias", True)),
        params.get("dilation", 1),
        ndim=ndim,
    )


def _int(name: str, value: Any, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(name, f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(name, f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _ints(name: str, value: Any, n: int, minimum: int | None = None) -> tuple[int, ...]:
    values = as_tuple(name, value, n)
    for v in values:
        _int(name, v, minimum)
    return values


def _positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ConfigError(name, f"{name} must be a positive number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(name, f"{name} must be finite, got {value!r}")
    return float(value)


# ----------------------------------------------------------------------------------- layers


def channels_first(shape: Shape, n: int) -> tuple[int, Shape] | None:
    """(channel index, shape) as an n-d spatial layer treats `shape`: (N, C, *n) or unbatched
    (C, *n) as they are, a 2-D (N, C) input before a 2-D/3-D layer (a DCGAN latent) viewed as
    (N, C, 1, ...); None where the layer cannot take it. The trace uses the same rule, so a
    row's input shape of a spatial layer maps to what that layer computed with."""
    if len(shape) == n + 2:
        return 1, tuple(shape)
    if len(shape) == n + 1:
        return 0, tuple(shape)
    if len(shape) == 2 and n >= 2:
        return 1, (*shape, *([1] * n))
    return None


def _channels_first(name: str, shape: Shape, n: int, step: _Step) -> tuple[int, Shape]:
    """Channel index and shape for an n-d spatial layer (see `channels_first`), with a note
    where a flat latent is viewed as (N, C, 1, ...)."""
    treated = channels_first(shape, n)
    if treated is not None and len(treated[1]) != len(shape):
        viewed = treated[1]
        step.status = ASSUMED
        step.notes.append(
            f"torch needs a {n + 2}-D input here and refuses {_fmt(shape)}; traced as "
            f"{_fmt(viewed)}: reshape first, e.g. z.view({shape[0]}, {shape[1]}, "
            f"{', '.join(['1'] * n)})"
        )
        return treated
    if treated is not None:
        return treated
    raise ConfigError(
        "input_shape",
        f"{name} needs a {n + 2}-D input (N, C, {_axes(n)}) or an unbatched {n + 1}-D one, "
        f"got {_fmt(shape)}",
    )


def _axes(n: int) -> str:
    return {1: "L", 2: "H, W", 3: "D, H, W"}[n]


def _check_channels(name: str, expected: int, got: int, step: _Step, what: str = "channels"):
    """Record a layer that expects other channels (or features) than reach it; the trace decides
    what that means (torch refuses, or the assumed shape is contradicted)."""
    if expected != got:
        step.status = MISMATCH
        step.mismatch = (expected, got, what)
        step.notes.append(f"{name} expects {expected} input {what} but gets {got}")


def _conv_transpose(layer: ParsedLayer, params: dict, shape: Shape, step: _Step) -> Shape:
    n = _TRANSPOSED[layer.type_name]
    spec = transposed_conv(layer)
    c_axis, shape = _channels_first(layer.type_name, shape, n, step)
    _check_channels(layer.type_name, spec.in_channels, shape[c_axis], step)
    spatial = output_size(spec, shape[-n:])
    return (*shape[:c_axis], spec.out_channels, *spatial)


def _conv(layer: ParsedLayer, params: dict, shape: Shape, step: _Step) -> Shape:
    n = int(layer.type_name[-2])
    in_c = _int("in_channels", params["in_channels"], 1)
    out_c = _int("out_channels", params["out_channels"], 1)
    groups = _int("groups", params.get("groups", 1), 1)
    if in_c % groups or out_c % groups:
        raise ConfigError(
            "groups",
            f"in_channels {in_c} and out_channels {out_c} must both be "
            f"divisible by groups {groups}",
        )
    k = _ints("kernel_size", params["kernel_size"], n, 1)
    s = _ints("stride", params.get("stride", 1), n, 1)
    d = _ints("dilation", params.get("dilation", 1), n, 1)
    padding = params.get("padding", 0)
    c_axis, shape = _channels_first(layer.type_name, shape, n, step)
    _check_channels(layer.type_name, in_c, shape[c_axis], step)
    sizes = shape[-n:]
    mode = params.get("padding_mode", "zeros")
    if padding == "same":
        if any(v != 1 for v in s):
            raise ConfigError(
                "padding",
                "padding='same' is not supported for strided "
                "convolutions: use stride 1 or a number",
            )
        for size, kk, dd in zip(sizes, k, d, strict=True):
            total = dd * (kk - 1)  # torch pads total // 2 before and the rest after
            _check_padding_mode(mode, total - total // 2, size)
        return (*shape[:c_axis], out_c, *sizes)
    p = (0,) * n if padding == "valid" else _ints("padding", padding, n, 0)
    out = []
    for axis, (size, kk, ss, pp, dd) in enumerate(zip(sizes, k, s, p, d, strict=True)):
        _check_padding_mode(mode, pp, size)
        o = (size + 2 * pp - dd * (kk - 1) - 1) // ss + 1
        if o < 1:
            raise ConfigError(
                "kernel_size",
                f"{layer.type_name}: the kernel (extent {dd * (kk - 1) + 1}) is "
                f"larger than the padded input ({size + 2 * pp}) along axis {axis}",
            )
        out.append(o)
    return (*shape[:c_axis], out_c, *out)


def _check_padding_mode(mode: str, pad: int, size: int) -> None:
    """torch: reflect padding must be smaller than the input, circular at most the input."""
    if mode in ("reflect", "circular") and pad > size - (mode == "reflect"):
        raise ConfigError(
            "padding",
            f"padding {pad} is too large for padding_mode='{mode}' on an input of size {size}",
        )


def _batch_norm(layer: ParsedLayer, params: dict, shape: Shape, step: _Step) -> Shape:
    n = int(layer.type_name[-2])
    features = _int("num_features", params["num_features"], 1)
    ranks = {1: (2, 3), 2: (4,), 3: (5,)}[n]
    if len(shape) not in ranks:
        raise ConfigError(
            "input_shape",
            f"{layer.type_name} needs a "
            f"{' or '.join(f'{r}-D' for r in ranks)} input, got {_fmt(shape)}",
        )
    _check_channels(layer.type_name, features, shape[1], step)
    if shape[0] * math.prod(shape[2:]) == 1:
        step.notes.append(
            "one value per channel: torch refuses this in training mode (fine in eval mode)"
        )
    return (shape[0], features, *shape[2:])


def _instance_norm(layer: ParsedLayer, params: dict, shape: Shape, step: _Step) -> Shape:
    n = int(layer.type_name[-2])
    features = _int("num_features", params["num_features"], 1)
    if len(shape) not in (n + 1, n + 2):
        raise ConfigError(
            "input_shape",
            f"{layer.type_name} needs a {n + 2}-D input or an "
            f"unbatched {n + 1}-D one, got {_fmt(shape)}",
        )
    c_axis = len(shape) - n - 1
    if math.prod(shape[c_axis + 1 :]) == 1:
        if not params.get("track_running_stats", False):
            raise ConfigError(
                "input_shape",
                f"{layer.type_name} needs more than one spatial element, got {_fmt(shape)}",
            )
        step.notes.append("one spatial element: torch refuses this in training mode")
    if params.get("affine", False):
        _check_channels(layer.type_name, features, shape[c_axis], step)
        return (*shape[:c_axis], features, *shape[c_axis + 1 :])
    if features != shape[c_axis]:
        step.notes.append(
            f"num_features {features} differs from the {shape[c_axis]} channels "
            "(torch only warns when affine=False)"
        )
    return shape


def _group_norm(layer: ParsedLayer, params: dict, shape: Shape, step: _Step) -> Shape:
    groups = _int("num_groups", params["num_groups"], 1)
    channels = _int("num_channels", params["num_channels"], 1)
    if channels % groups:
        raise ConfigError(
            "num_groups", f"num_channels {channels} must be divisible by num_groups {groups}"
        )
    if len(shape) < 2:
        raise ConfigError("input_shape", f"GroupNorm needs an (N, C, ...) input, got {_fmt(shape)}")
    _check_channels("GroupNorm", channels, shape[1], step)
    if shape[0] * channels // groups * math.prod(shape[2:]) == 1:
        raise ConfigError(
            "num_groups",
            f"GroupNorm({groups}, {channels}) on {_fmt(shape)} "
            "normalises single values: torch needs more than one value per group",
        )
    return (shape[0], channels, *shape[2:])


def _layer_norm(layer: ParsedLayer, params: dict, shape: Shape, step: _Step) -> Shape:
    normalized = params["normalized_shape"]
    dims = normalized if isinstance(normalized, tuple) else (normalized,)
    dims = tuple(_int("normalized_shape", v, 1) for v in dims)
    if len(dims) > len(shape) or tuple(shape[len(shape) - len(dims) :]) != dims:
        if len(dims) > len(shape):
            raise ConfigError(
                "normalized_shape",
                f"LayerNorm{dims} needs at least {len(dims)} dimensions, got {_fmt(shape)}",
            )
        step.status = MISMATCH
        step.notes.append(
            f"LayerNorm expects the last dimensions to be {dims} but they are "
            f"{tuple(shape[len(shape) - len(dims) :])}"
        )
        return (*shape[: len(shape) - len(dims)], *dims)
    return shape


def _linear(layer: ParsedLayer, params: dict, shape: Shape, step: _Step) -> Shape:
    in_f = _int("in_features", params["in_features"], 1)
    out_f = _int("out_features", params["out_features"], 1)
    if not shape:
        raise ConfigError("input_shape", "Linear needs at least a 1-D input")
    _check_channels("Linear", in_f, shape[-1], step, what="features")
    return (*shape[:-1], out_f)


def _flatten(layer: ParsedLayer, params: dict, shape: Shape, step: _Step) -> Shape:
    start = _dim("start_dim", params.get("start_dim", 1), len(shape))
    end = _dim("end_dim", params.get("end_dim", -1), len(shape))
    if start > end:
        raise ConfigError("start_dim", f"Flatten: start_dim {start} comes after end_dim {end}")
    return (*shape[:start], math.prod(shape[start : end + 1]), *shape[end + 1 :])


def _unflatten(layer: ParsedLayer, params: dict, shape: Shape, step: _Step) -> Shape:
    dim = params["dim"]
    if isinstance(dim, str):
        raise ConfigError("dim", "Unflatten by a named dimension is not supported here")
    axis = _dim("dim", dim, len(shape))
    sizes = params["unflattened_size"]
    sizes = sizes if isinstance(sizes, tuple) else (sizes,)
    if not sizes or any(isinstance(v, tuple) for v in sizes):
        raise ConfigError("unflattened_size", "unflattened_size must be a tuple of ints")
    sizes = tuple(_int("unflattened_size", v) for v in sizes)
    if sum(v == -1 for v in sizes) > 1 or any(v < -1 or v == 0 for v in sizes):
        raise ConfigError(
            "unflattened_size",
            f"unflattened_size {sizes} may hold one -1 and otherwise positive sizes",
        )
    known = math.prod(v for v in sizes if v != -1)
    total = shape[axis]
    if -1 in sizes:
        if total % known:
            raise ConfigError(
                "unflattened_size",
                f"Unflatten cannot split {total} into {sizes}: {total} is not divisible by {known}",
            )
        sizes = tuple(total // known if v == -1 else v for v in sizes)
    elif known != total:
        raise ConfigError(
            "unflattened_size",
            f"Unflatten cannot split dimension {axis} of size "
            f"{total} into {sizes} (product {known})",
        )
    return (*shape[:axis], *sizes, *shape[axis + 1 :])


def _dim(name: str, value: Any, rank: int) -> int:
    d = _int(name, value)
    if not -rank <= d < rank:
        raise ConfigError(name, f"{name} {d} is out of range for a {rank}-D input")
    return d % rank


_MODE_RANK = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}


def _upsample(layer: ParsedLayer, params: dict, shape: Shape, step: _Step) -> Shape:
    mode = {"UpsamplingBilinear2d": "bilinear", "UpsamplingNearest2d": "nearest"}.get(
        layer.type_name, params.get("mode", "nearest")
    )
    if layer.type_name != "Upsample" and len(shape) != 4:
        raise ConfigError("input_shape", f"{layer.type_name} needs a 4-D input, got {_fmt(shape)}")
    if len(shape) not in (3, 4, 5):
        raise ConfigError(
            "input_shape", f"Upsample needs a 3-D, 4-D or 5-D input (N, C, ...), got {_fmt(shape)}"
        )
    if mode in _MODE_RANK and len(shape) != _MODE_RANK[mode]:
        raise ConfigError(
            "mode", f"mode='{mode}' needs a {_MODE_RANK[mode]}-D input, got {_fmt(shape)}"
        )
    n = len(shape) - 2
    size, scale = params.get("size"), params.get("scale_factor")
    if (size is None) == (scale is None):
        raise ConfigError("scale_factor", "give exactly one of size and scale_factor")
    if size is not None:
        out = _ints("size", size, n, 1)
    else:
        scales = scale if isinstance(scale, tuple) else (scale,) * n
        if len(scales) != n:
            raise ConfigError(
                "scale_factor", f"scale_factor has {len(scales)} values for {n} spatial axes"
            )
        # torch: floor(in * scale) in double precision.
        out = tuple(
            math.floor(size_ * _positive_float("scale_factor", s))
            for size_, s in zip(shape[2:], scales, strict=True)
        )
        if any(o < 1 for o in out):
            raise ConfigError(
                "scale_factor", f"scale_factor {scale} makes an empty output from {_fmt(shape)}"
            )
    return (*shape[:2], *out)


def _pixel_shuffle(layer: ParsedLayer, params: dict, shape: Shape, step: _Step) -> Shape:
    if len(shape) < 3:
        raise ConfigError(
            "input_shape", f"{layer.type_name} needs at least a 3-D input, got {_fmt(shape)}"
        )
    *batch, c, h, w = shape
    if layer.type_name == "PixelShuffle":
        r = _int("upscale_factor", params["upscale_factor"], 1)
        if c % (r * r):
            raise ConfigError(
                "upscale_factor", f"PixelShuffle({r}) needs channels divisible by {r * r}, got {c}"
            )
        return (*batch, c // (r * r), h * r, w * r)
    r = _int("downscale_factor", params["downscale_factor"], 1)
    if h % r or w % r:
        raise ConfigError(
            "downscale_factor",
            f"PixelUnshuffle({r}) needs height and width divisible by {r}, got {h}x{w}",
        )
    return (*batch, c * r * r, h // r, w // r)


def _pool_geometry(
    layer: ParsedLayer, params: dict, shape: Shape
) -> tuple[int, Shape, Shape, Shape]:
    """A pooling or unpooling layer's (spatial dims, kernel, stride, padding), the input's rank
    checked; the stride defaults to the kernel, as torch's does."""
    n = int(layer.type_name[-2])
    if len(shape) not in (n + 1, n + 2):
        raise ConfigError(
            "input_shape",
            f"{layer.type_name} needs a {n + 2}-D input or an "
            f"unbatched {n + 1}-D one, got {_fmt(shape)}",
        )
    k = _ints("kernel_size", params["kernel_size"], n, 1)
    stride = params.get("stride")
    s = k if stride is None or stride == () else _ints("stride", stride, n, 1)
    p = _ints("padding", params.get("padding", 0), n, 0)
    return n, k, s, p


def _pool(layer: ParsedLayer, params: dict, shape: Shape, step: _Step) -> Shape:
    n, k, s, p = _pool_geometry(layer, params, shape)
    d = _ints("dilation", params.get("dilation", 1), n, 1)
    ceil_mode = bool(params.get("ceil_mode", False))
    if layer.type_name in ("AvgPool3d", "LPPool3d") and any(
        size < kk for size, kk in zip(shape[-n:], k, strict=True)
    ):  # torch's avg_pool3d checks the unpadded input against the kernel, ceil_mode or not
        raise ConfigError(
            "kernel_size",
            f"{layer.type_name}: the input {_fmt(shape[-n:])} is smaller than the kernel {_fmt(k)}",
        )
    out = _pool_sizes(layer.type_name, shape[-n:], k, s, p, d, ceil_mode)
    if (
        layer.type_name.startswith("AvgPool")
        and "ceil_mode" not in layer.kwargs
        and len(layer.args) < 4
    ):
        with_ceil = _pool_sizes(layer.type_name, shape[-n:], k, s, p, d, True)
        if with_ceil != out:
            step.status = ASSUMED
            step.notes.append(
                "print(model) does not show AvgPool's ceil_mode: traced with ceil_mode=False; "
                f"with ceil_mode=True the output would be {_fmt((*shape[:-n], *with_ceil))}"
            )
    return (*shape[:-n], *out)


def _pool_sizes(
    name: str, sizes: Shape, k: Shape, s: Shape, p: Shape, d: Shape, ceil_mode: bool
) -> Shape:
    out = []
    for size, kk, ss, pp, dd in zip(sizes, k, s, p, d, strict=True):
        half = (dd * (kk - 1) + 1) // 2
        if pp > half:
            raise ConfigError(
                "padding",
                f"padding {pp} must be at most half the (dilated) kernel size: at most {half}",
            )
        span = size + 2 * pp - dd * (kk - 1) - 1
        o = (span + (ss - 1 if ceil_mode else 0)) // ss + 1
        if ceil_mode and (o - 1) * ss >= size + pp:
            o -= 1
        if o < 1:
            raise ConfigError(
                "kernel_size",
                f"{name}: output would be empty (input {size}, kernel {kk}, padding {pp})",
            )
        out.append(o)
    return tuple(out)


def _max_unpool(layer: ParsedLayer, params: dict, shape: Shape, step: _Step) -> Shape:
    """torch's default size (in - 1)*s - 2p + k; forward() may pass output_size= instead."""
    n, k, s, p = _pool_geometry(layer, params, shape)
    out = tuple(
        (size - 1) * ss - 2 * pp + kk for size, kk, ss, pp in zip(shape[-n:], k, s, p, strict=True)
    )
    if any(o < 1 for o in out):
        raise ConfigError("padding", f"{layer.type_name}: output would be empty: {_fmt(out)}")
    step.status = ASSUMED
    step.notes.append(
        f"{layer.type_name} takes the pooling indices in forward(), which may also pass "
        "output_size=: traced with torch's default size (in - 1)*stride - 2*padding + kernel_size"
    )
    return (*shape[:-n], *out)


def _adaptive_pool(layer: ParsedLayer, params: dict, shape: Shape, step: _Step) -> Shape:
    n = int(layer.type_name[-2])
    if len(shape) not in (n + 1, n + 2):
        raise ConfigError(
            "input_shape",
            f"{layer.type_name} needs a {n + 2}-D input or an "
            f"unbatched {n + 1}-D one, got {_fmt(shape)}",
        )
    wanted = params["output_size"]
    wanted = wanted if isinstance(wanted, tuple) else (wanted,) * n
    if len(wanted) != n:
        raise ConfigError("output_size", f"output_size needs {n} values, got {wanted}")
    out = tuple(
        size if w is None else _int("output_size", w, 1)
        for size, w in zip(shape[-n:], wanted, strict=True)
    )
    return (*shape[:-n], *out)


def _pad(layer: ParsedLayer, params: dict, shape: Shape, step: _Step) -> Shape:
    n = int(layer.type_name[-2])
    if layer.type_name.startswith(("Zero", "Constant")):
        # torch pads the last n dimensions of any input with at least n (F.pad, constant mode)
        if len(shape) < n:
            raise ConfigError(
                "input_shape",
                f"{layer.type_name} pads the last {n} dimensions: it needs at least a "
                f"{n}-D input, got {_fmt(shape)}",
            )
    elif len(shape) not in (n + 1, n + 2):
        raise ConfigError(
            "input_shape",
            f"{layer.type_name} needs a {n + 2}-D input or an "
            f"unbatched {n + 1}-D one, got {_fmt(shape)}",
        )
    pads = _ints("padding", params["padding"], 2 * n)
    out = list(shape)
    for i in range(n):  # pads run from the last axis backwards: (left, right, top, bottom, ...)
        axis = len(shape) - 1 - i
        before, after = pads[2 * i], pads[2 * i + 1]
        if layer.type_name.startswith("Reflection") and max(before, after) >= shape[axis]:
            raise ConfigError(
                "padding",
                f"reflection padding {max(before, after)} must be "
                f"smaller than the input size {shape[axis]}",
            )
        if layer.type_name.startswith("Circular") and max(before, after) > shape[axis]:
            raise ConfigError(
                "padding",
                f"circular padding {max(before, after)} must be at "
                f"most the input size {shape[axis]}",
            )
        if (
            layer.type_name.startswith(("Reflection", "Replication", "Circular"))
            and min(before, after) < 0
        ):
            raise ConfigError("padding", f"{layer.type_name} needs non-negative padding")
        out[axis] = shape[axis] + before + after
        if out[axis] < 1:
            raise ConfigError("padding", f"padding {pads} crops away the whole input")
    return tuple(out)


def _prelu(layer: ParsedLayer, params: dict, shape: Shape, step: _Step) -> Shape:
    count = _int("num_parameters", params.get("num_parameters", 1), 1)
    if count > 1:
        c_axis = 0 if len(shape) == 1 else 1
        _check_channels("PReLU", count, shape[c_axis], step)
        return (*shape[:c_axis], count, *shape[c_axis + 1 :])
    return shape


def _glu(layer: ParsedLayer, params: dict, shape: Shape, step: _Step) -> Shape:
    axis = _dim("dim", params.get("dim", -1), len(shape))
    if shape[axis] % 2:
        raise ConfigError("dim", f"GLU halves dimension {axis}, which has odd size {shape[axis]}")
    return (*shape[:axis], shape[axis] // 2, *shape[axis + 1 :])


def _same(layer: ParsedLayer, params: dict, shape: Shape, step: _Step) -> Shape:
    return shape


Handler = Callable[[ParsedLayer, dict, Shape, _Step], Shape]
_HANDLERS: dict[str, Handler] = {
    **{name: _conv_transpose for name in _TRANSPOSED},
    **_spatial("Conv", _conv),  # type: ignore[arg-type]
    **_spatial("BatchNorm", _batch_norm),  # type: ignore[arg-type]
    **_spatial("InstanceNorm", _instance_norm),  # type: ignore[arg-type]
    **_spatial("MaxPool", _pool),  # type: ignore[arg-type]
    **_spatial("AvgPool", _pool),  # type: ignore[arg-type]
    **_spatial("LPPool", _pool),  # type: ignore[arg-type]
    **_spatial("MaxUnpool", _max_unpool),  # type: ignore[arg-type]
    **_spatial("AdaptiveAvgPool", _adaptive_pool),  # type: ignore[arg-type]
    **_spatial("AdaptiveMaxPool", _adaptive_pool),  # type: ignore[arg-type]
    **{
        f"{kind}Pad{n}d": _pad
        for kind in ("Zero", "Reflection", "Replication", "Circular", "Constant")
        for n in (1, 2, 3)
    },
    "Linear": _linear,
    "GroupNorm": _group_norm,
    "LayerNorm": _layer_norm,
    "Upsample": _upsample,
    "UpsamplingNearest2d": _upsample,
    "UpsamplingBilinear2d": _upsample,
    "PixelShuffle": _pixel_shuffle,
    "PixelUnshuffle": _pixel_shuffle,
    "Flatten": _flatten,
    "Unflatten": _unflatten,
    "PReLU": _prelu,
    "GLU": _glu,
}
KNOWN_LAYERS = frozenset(SIGNATURES)
assert set(_HANDLERS) <= KNOWN_LAYERS


def _fmt(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(v) for v in shape) + ("," if len(shape) == 1 else "") + ")"


# ----------------------------------------------------------------------------------- trace


def check_input_shape(input_shape: Any) -> Shape:
    """Validate an input shape: 1 to 6 positive ints, the batch dimension included."""
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
        raise ConfigError(
            "input_shape",
            f"input_shape must be a sequence of ints such as (1, 100, 1, 1), got {input_shape!r}"[
                :300
            ],
        )
    if not 1 <= len(input_shape) <= MAX_RANK:
        raise ConfigError(
            "input_shape",
            f"input_shape needs 1 to {MAX_RANK} dimensions (batch "
            f"included), got {len(input_shape)}",
        )
    shape = tuple(_int("input_shape", v, 1) for v in input_shape)
    if max(shape) > 1 << 20:
        raise ConfigError(
            "input_shape", f"input_shape {_fmt(shape)} is too large: each size at most {1 << 20}"
        )
    return shape


# Words of an unknown layer's name that suggest it changes the shape, matched against the
# CamelCase words of the name ("MyUpsample2x" -> my, upsample, 2, x): whole words, and prefixes.
_RESHAPING_WORDS = frozenset(
    {"up", "down", "cat", "pad", "view", "rgb", "lstm", "gru", "rnn", "dense"}
)
_RESHAPING_PREFIXES = (
    "pool",
    "unpool",
    "conv",
    "deconv",
    "fold",
    "unfold",
    "embed",
    "upsampl",
    "downsampl",
    "upscal",
    "downscal",
    "shuffle",
    "unshuffle",
    "resiz",
    "interp",
    "linear",
    "bilinear",
    "flatten",
    "unflatten",
    "reshap",
    "permut",
    "transpos",
    "squeez",
    "unsqueez",
    "crop",
    "patch",
    "concat",
    "split",
    "chunk",
    "stack",
    "merge",
    "zoom",
    "stride",
    "project",
    "padding",
)
_WORD_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def reshaping_word(type_name: str) -> str | None:
    """The word of an unknown layer's name that suggests a shape change ("Pool" in "LPPool2d",
    "Upsample" in "MyUpsample"), or None where keeping the shape is plausible."""
    for word in _WORD_RE.findall(type_name):
        low = word.lower()
        if low in _RESHAPING_WORDS or low.startswith(_RESHAPING_PREFIXES):
            return word
    return None


def _unknown_row(layer: ParsedLayer, shape: Shape) -> TraceRow:
    word = reshaping_word(layer.type_name)
    if word is None:
        return TraceRow(
            layer.path,
            layer.type_name,
            layer.text,
            shape,
            shape,
            UNKNOWN,
            f"{layer.type_name} is not a layer Deconv Lab knows: assumed to keep "
            "the shape; check it",
        )
    return TraceRow(
        layer.path,
        layer.type_name,
        layer.text,
        shape,
        None,
        UNKNOWN,
        f"{layer.type_name} is not a layer Deconv Lab knows, and its name ({word!r}) suggests "
        "that it changes the shape: the trace stops here. If it keeps the shape, write "
        "Identity() in its place; otherwise write the known layers it computes (Conv2d, "
        "AvgPool2d, Upsample, ...)",
    )


def _untraceable_row(layer: ParsedLayer, shape: Shape) -> TraceRow:
    return TraceRow(
        layer.path,
        layer.type_name,
        layer.text,
        shape,
        None,
        UNTRACEABLE,
        f"{layer.type_name} is {UNTRACEABLE_LAYERS[layer.type_name]}: the trace stops here",
    )


def _trace_step(layer: ParsedLayer, shape: Shape) -> tuple[TraceRow, _Step]:
    step = _Step(shape)
    if layer.type_name in UNTRACEABLE_LAYERS:
        return _untraceable_row(layer, shape), step
    try:
        if layer.type_name not in KNOWN_LAYERS:
            return _unknown_row(layer, shape), step
        params, ignored = bind_arguments(layer)
        out = _HANDLERS.get(layer.type_name, _same)(layer, params, shape, step)
        if any(v > MAX_SIZE for v in out):
            raise ConfigError("input_shape", f"output shape {_fmt(out)} is too large")
        if ignored:
            step.notes.append(f"ignored arguments torch does not take: {', '.join(ignored)}")
        if layer.parametrizations:
            step.notes.append(
                f"{layer.printed_type} ({layer.parametrization_text}): traced as "
                f"{layer.type_name}; a parametrization computes the {_tensors(layer)}, "
                "not the output's shape"
            )
        row = TraceRow(
            layer.path,
            layer.type_name,
            layer.text,
            shape,
            tuple(out),
            step.status,
            "; ".join(step.notes),
        )
        return row, step
    except (ValueError, TypeError, ArithmeticError) as exc:  # ConfigError is a ValueError
        message = (
            exc.message
            if isinstance(exc, ConfigError)
            else (f"could not read the arguments of {layer.type_name}")
        )
        return TraceRow(layer.path, layer.type_name, layer.text, shape, None, ERROR, message), step


def _tensors(layer: ParsedLayer) -> str:
    names = [name for name, _ in layer.parametrizations]
    return " and ".join(names)


def _runs_in_order(layer: ParsedLayer) -> bool:
    """True for containers whose forward is known to run the children in order, each on the
    previous one's output: nn.Sequential, and the list of layers a plain paste becomes."""
    return layer.synthetic or (layer.type_name == "Sequential" and not layer.args)


def _label(layer: ParsedLayer) -> str:
    return f"{layer.path or 'the model'} ({layer.type_name})"


def _container_note(layer: ParsedLayer) -> str | None:
    label = _label(layer)
    if _runs_in_order(layer):
        return None
    if layer.type_name in ("ModuleList", "ModuleDict"):
        return (
            f"{label} has no forward of its own: its layers are assumed to run in the printed order"
        )
    if layer.args or layer.kwargs:
        return (
            f"{label} is a custom module with arguments and children: only its children "
            "are traced, in the printed order; check its forward"
        )
    return (
        f"{label} is a custom module: its children are assumed to run in the printed "
        "order; check its forward (skip connections, reshapes)"
    )


def units(root: ParsedLayer) -> list[tuple[ParsedLayer, ParsedLayer | None]]:
    """The layers the trace visits, in printed order, each with the outermost container around it
    whose forward is not shown (None where only Sequentials hold it). A recurrent, attention or
    transformer module counts as one layer, its children not visited."""
    found: list[tuple[ParsedLayer, ParsedLayer | None]] = []
    stack: list[tuple[ParsedLayer, ParsedLayer | None]] = [(root, None)]
    while stack:
        layer, hidden = stack.pop()
        if not layer.is_container or layer.type_name in UNTRACEABLE_LAYERS:
            found.append((layer, hidden))
            continue
        inner = hidden if hidden is not None or _runs_in_order(layer) else layer
        stack.extend((child, inner) for child in reversed(layer.children))
    return found


def _volume_side(count: int, dims: int) -> int | None:
    """k where k**dims == count, else None."""
    side = round(count ** (1 / dims)) if count > 0 else 0
    for k in (side - 1, side, side + 1):
        if k > 0 and k**dims == count:
            return k
    return None


def _contradiction(row: TraceRow, step: _Step) -> tuple[str, Shape | None]:
    """The likely cause of a mismatch met under an assumption, in words that fit the evidence,
    and the input shape the evidence points to (or None)."""
    shape = row.in_shape or ()
    if step.mismatch is None:  # LayerNorm: the last dimensions differ
        return "forward() reshapes the tensor before this layer (a view, permute or flatten)", None
    expected, got, what = step.mismatch
    batch = shape[0] if shape else 1
    if row.type_name == "Linear" and len(shape) > 2:
        per_sample = math.prod(shape[1:])
        if per_sample == expected:
            return (
                f"a flatten or view in forward(): the {len(shape)}-D tensor {_fmt(shape)} holds "
                f"{per_sample} values per sample, exactly the Linear's in_features",
                (batch, expected),
            )
        return (
            f"a Linear meets the {len(shape)}-D tensor {_fmt(shape)}: forward() flattens or views "
            f"it first, or changes it before (it holds {per_sample} values per sample, the Linear "
            f"expects {expected})",
            None,
        )
    n = _SPATIAL_RANK.get(row.type_name)
    if what == "channels" and n is not None and len(shape) == 2 and got % expected == 0:
        side = _volume_side(got // expected, n)
        if side is not None:
            viewed = (batch, expected, *([side] * n))
            return (
                f"a view in forward(): the {got} features per sample of {_fmt(shape)} are "
                f"{expected} channels of {' x '.join([str(side)] * n)}, reshaped to {_fmt(viewed)}",
                viewed,
            )
    if expected == 2 * got:
        spatial = shape[2:] if len(shape) > 2 else ()
        return (
            f"{what} doubled ({got} arrive, {expected} expected): a concatenation in forward(), "
            "such as torch.cat with a skip connection",
            (batch, expected, *spatial) if spatial else None,
        )
    if expected > got:
        return (
            f"more {what} expected than arrive ({expected}, not {got}): a concatenation in "
            "forward() (a skip connection, or parallel branches joined)",
            None,
        )
    return (
        f"fewer {what} expected than arrive ({expected}, not {got}): forward() splits, selects "
        "or reshapes the tensor before this layer",
        None,
    )


_SPATIAL_RANK = {
    f"{kind}{n}d": n
    for kind in ("Conv", "ConvTranspose", "BatchNorm", "InstanceNorm")
    for n in (1, 2, 3)
}


def _advice(path: str, suggested: Shape | None) -> str:
    guess = (
        f" (the evidence points to {_fmt(suggested)}: check it against your forward())"
        if suggested is not None
        else ""
    )
    return (
        f"To trace on: give the shape that reaches {path}{guess} as a known shape at that layer, "
        f"or paste the layers from {path} on alone with that shape as the input shape; or "
        "convert the live model in Python with core.converter.live.convert_model, which needs "
        "no shapes"
    )


def _check_shapes_at(shapes_at: Any, paths: Sequence[str]) -> dict[str, Shape]:
    if shapes_at is None:
        return {}
    if not isinstance(shapes_at, Mapping):
        raise ConfigError(
            "shapes_at",
            f"shapes_at must map layer paths to shapes, such as {{'up.0': (1, 256, 16, 16)}}; "
            f"got {type(shapes_at).__name__}",
        )
    known = set(paths)
    out = {}
    for path, shape in shapes_at.items():
        if path not in known:
            some = ", ".join(list(paths)[:5])
            raise ConfigError(
                "shapes_at",
                f"shapes_at names {str(path)[:60]!r}, which is not a layer of this model: use a "
                f"layer path from the table, such as {some}"[:300],
            )
        out[path] = check_input_shape(shape)
    return out


def trace_shapes(
    model: ParsedLayer | str,
    input_shape: Sequence[int],
    shapes_at: Mapping[str, Sequence[int]] | None = None,
) -> ShapeTrace:
    r"""Trace shapes from `input_shape` (batch included) through every layer in order.

    Args:
        model: a `ParsedLayer` tree or the text to parse (what `print(model)` shows).
        input_shape: the model's input, batch included, e.g. (1, 100, 1, 1).
        shapes_at: optional known shapes, {layer path: the shape that reaches that layer}; the
            trace resumes from each (the rows after it are "assumed": the shape is the user's).

    Returns:
        A `ShapeTrace`: one row per layer, and where (and why) the trace stopped claiming shapes.

    Raises:
        ConfigError: only for a bad `input_shape`, `shapes_at` or text that does not parse;
            layer problems are reported on their rows.

    Example:
        >>> trace = trace_shapes("nn.ConvTranspose2d(8, 4, 4, 2, 1)\nnn.ReLU()", (1, 8, 16, 16))
        >>> trace.output_shape, trace.certainty
        ((1, 4, 32, 32), 'proven')
    """
    root = parse_model_text(model) if isinstance(model, str) else model
    if not isinstance(root, ParsedLayer):
        raise ConfigError("model", "model must be parsed text (ParsedLayer) or a string")
    shape: Shape | None = check_input_shape(input_shape)
    start = shape
    visited = units(root)
    given = _check_shapes_at(shapes_at, [layer.path for layer, _ in visited])
    notes = [
        note
        for layer in root.walk()
        if layer.is_container
        and layer.type_name not in UNTRACEABLE_LAYERS
        and (note := _container_note(layer)) is not None
    ]
    rows: list[TraceRow] = []
    stop: _Stop | None = None
    assumed_at: str | None = None  # the first row whose shape rests on an assumption
    for layer, hidden in visited:
        if layer.path in given:
            shape, stop = given[layer.path], None
            assumed_at = layer.path if assumed_at is None else assumed_at
        if stop is not None or shape is None:
            rows.append(_not_traced(layer, stop))
            continue
        row, step = _trace_step(layer, shape)
        input_proven = assumed_at is None and hidden is None and layer.path not in given
        row = _with_assumption(row, shape, hidden, layer.path in given, assumed_at)
        row, stop = _stopped(row, step, layer.path, input_proven)
        starts_assuming = row.status in (ASSUMED, UNKNOWN) or not input_proven
        if stop is None and assumed_at is None and starts_assuming:
            assumed_at = layer.path
        rows.append(row)
        shape = row.out_shape
    path, kind, reason, advice, suggested = stop if stop is not None else (None, "", "", "", None)
    return ShapeTrace(
        start,
        tuple(rows),
        tuple(notes),
        path,
        reason,
        kind,
        advice,
        suggested,
        tuple(p for p in given if any(r.path == p for r in rows)),
    )


# Where the trace stopped claiming shapes: path, kind, reason, advice, suggested shape.
_Stop = tuple[str, str, str, str, "Shape | None"]


def _not_traced(layer: ParsedLayer, stop: _Stop | None) -> TraceRow:
    """The row of a layer after the trace stopped (or while no shape is known)."""
    where = stop[0] if stop is not None else "?"
    return TraceRow(
        layer.path,
        layer.type_name,
        layer.text,
        None,
        None,
        SKIPPED,
        f"not traced: the trace stopped at {where}",
    )


def _with_assumption(
    row: TraceRow,
    shape: Shape,
    hidden: ParsedLayer | None,
    given: bool,
    assumed_at: str | None,
) -> TraceRow:
    """`row` with the assumption its input rests on, if any, in its note ("ok" becomes
    "assumed"): a shape the user gave, a custom container whose forward() is not shown, or an
    earlier assumption."""
    if given:
        return _with_note(row, f"the input shape {_fmt(shape)} is the one you gave", _assumed(row))
    if hidden is not None and assumed_at is None:
        return _with_note(
            row,
            f"inside {_label(hidden)}, whose forward() is not shown: traced as if it runs its "
            "children in the printed order",
            _assumed(row),
        )
    if assumed_at is not None:
        return _with_note(row, f"follows from the assumption at {assumed_at}", _assumed(row))
    return row


def _stopped(
    row: TraceRow, step: _Step, path: str, input_proven: bool
) -> tuple[TraceRow, _Stop | None]:
    """The row, and where the trace stops at it (None: it goes on). A mismatch on a proven
    input is torch's refusal; on an assumed one, a contradiction with its likely cause."""
    if row.status == MISMATCH and input_proven and not _flat_viewed(row):
        row = dataclasses.replace(
            row,
            out_shape=None,
            status=ERROR,
            note=f"{row.note}: torch refuses this (the layers before it run in order)",
        )
    if row.status == MISMATCH:
        cause, suggested = _contradiction(row, step)
        note = f"{'; '.join(step.notes)}: the trace stops here; likely cause: {cause}"
        row = dataclasses.replace(row, out_shape=None, note=note)
        return row, (path, STOP_CONTRADICTION, cause, _advice(path, suggested), suggested)
    if row.status == ERROR and not input_proven:
        cause = (
            f"with the shape assumed here torch would refuse this layer ({row.note}): "
            "forward() probably changes the shape before it (a concatenation, view, pad or "
            "crop that the printout does not show)"
        )
        return row, (path, STOP_CONTRADICTION, cause, _advice(path, None), None)
    if row.status == ERROR:
        return row, (path, STOP_REFUSED, row.note, "", None)
    if row.status == UNTRACEABLE:
        return row, (path, STOP_UNTRACEABLE, row.note, _advice(path, None), None)
    if row.out_shape is None:
        return row, (path, STOP_UNKNOWN, row.note, _advice(path, None), None)
    return row, None


def _assumed(row: TraceRow) -> str:
    """The status of a row whose input rests on an assumption: "ok" becomes "assumed"."""
    return ASSUMED if row.status == OK else row.status


def _flat_viewed(row: TraceRow) -> bool:
    """True where a spatial layer got a flat (N, C) input, traced as (N, C, 1, ...)."""
    n = _SPATIAL_RANK.get(row.type_name)
    return n is not None and row.in_shape is not None and len(row.in_shape) == 2 and n >= 2


def _with_note(row: TraceRow, note: str, status: str) -> TraceRow:
    return dataclasses.replace(row, status=status, note=f"{row.note}; {note}" if row.note else note)


@dataclass(frozen=True)
class SuggestedShape:
    """An input shape read off a model's first layer, and why."""

    shape: Shape
    reason: str


def suggest_input_shape(model: ParsedLayer | str) -> SuggestedShape | None:
    """The input shape a model's first layer suggests, or None where it says nothing.

    A Linear takes a latent of in_features; a ConvTranspose from many channels (64 or more) with
    stride 1 and no padding takes a latent viewed as (N, C, 1, ...) (DCGAN's first layer); other
    transposed convolutions an 8-pixel feature map; convolutions of 1 to 4 channels a 64-pixel
    image, of more channels a 16-pixel feature map; a norm its num_features at 16 pixels. Batch 1
    always.

    Example:
        >>> suggest_input_shape("nn.ConvTranspose2d(100, 512, 4, 1, 0)").shape
        (1, 100, 1, 1)
    """
    root = parse_model_text(model) if isinstance(model, str) else model
    visited = units(root)
    if not visited:
        return None
    first = visited[0][0]
    try:
        params, _ = bind_arguments(first)
    except ConfigError:
        return None
    name = first.type_name
    if name == "Linear":
        features = params.get("in_features")
        if isinstance(features, int) and features >= 1:
            return SuggestedShape((1, features), f"the first layer, a Linear, takes {features}")
        return None
    n = _SPATIAL_RANK.get(name)
    if n is None:
        return None
    channels = params.get("in_channels", params.get("num_features"))
    if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= 1 << 20:
        return None
    if name.startswith("ConvTranspose"):
        unit = all(
            value == default or (isinstance(value, tuple) and set(value) == {default})
            for value, default in ((params.get("padding", 0), 0), (params.get("stride", 1), 1))
        )
        if channels >= 64 and unit:
            side, what = 1, "a latent vector viewed as 1 x 1 (DCGAN's first layer)"
        else:
            side, what = 8, "an 8-pixel feature map (edit to your size)"
    elif name.startswith("Conv") and channels <= 4:
        side, what = 64, "a 64-pixel image (edit to your size)"
    else:
        side, what = 16, "a 16-pixel feature map (edit to your size)"
    shape = (1, channels, *([side] * n))
    return SuggestedShape(shape, f"the first layer, a {name}, takes {channels} channels: {what}")
