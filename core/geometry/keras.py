"""Translate Keras/TensorFlow `Conv2DTranspose` into torch's `nn.ConvTranspose2d`.

Keras picks the output length from `padding` ("valid" or "same") and an optional
`output_padding`; TensorFlow then places the full transposed-convolution result
((in - 1)*s + d(k - 1) + 1 samples) into that length by cropping `before = total // 2` from the
start and the rest from the end, where total = full - out ("same") or 0 ("valid"). Torch always
crops `padding` from both ends and adds `output_padding` at the end, so when the total crop is
odd, torch needs `padding = total // 2` plus one more sample cropped from the end:
`layer(x)[..., :-1, :-1]`. Using padding = ceil(total / 2) with output_padding = 1 instead gives
the right size but a grid shifted by one pixel, a silent mismatch when porting weights.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import ConfigError
from core.geometry.layer import TransposedConv, as_tuple
from core.geometry.output_size import AXIS_NAMES, input_tuple, output_size


@dataclass(frozen=True)
class KerasTranslation:
    """The torch layer, the extra end crop per axis (0 or 1), and the resulting output size."""

    layer: TransposedConv
    crop_end: tuple[int, ...]
    output_size: tuple[int, ...] | None
    keras_output_size: tuple[int, ...] | None
    notes: tuple[str, ...]

    def code(self) -> str:
        """A self-contained torch snippet binding the translated layer to `layer`."""
        lines = ["import torch.nn as nn", ""]
        construct = self.layer.torch_repr()
        if not any(self.crop_end):
            lines.append(f"layer = {construct}")
        else:
            slices = ", ".join(":-1" if c else ":" for c in self.crop_end)
            lines += [
                "class CroppedConvTranspose(nn.Module):",
                '    """Keras "same" alignment: torch padding, then one more sample cropped."""',
                "",
                "    def __init__(self):",
                "        super().__init__()",
                f"        self.conv = {construct}",
                "",
                "    def forward(self, x):",
                f"        return self.conv(x)[..., {slices}]",
                "",
                "layer = CroppedConvTranspose()",
            ]
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict:
        return {
            "torch": self.layer.kwargs(),
            "crop_end": list(self.crop_end),
            "output_size": list(self.output_size) if self.output_size else None,
            "code": self.code(),
            "notes": list(self.notes),
        }


def keras_output_length(n: int, k: int, s: int, padding: str, op: int | None, d: int) -> int:
    """Keras's `deconv_output_length`, reproduced for one axis."""
    span = d * (k - 1) + 1
    if op is None:
        return n * s + max(span - s, 0) if padding == "valid" else n * s
    pad = 0 if padding == "valid" else span // 2
    return (n - 1) * s + span - 2 * pad + op


def from_keras(
    filters: int,
    kernel_size: int | Sequence[int],
    strides: int | Sequence[int] = 1,
    padding: str = "valid",
    output_padding: int | Sequence[int] | None = None,
    dilation_rate: int | Sequence[int] = 1,
    *,
    in_channels: int,
    input_size: int | Sequence[int] | None = None,
    use_bias: bool = True,
) -> KerasTranslation:
    """Torch equivalent of `keras.layers.Conv2DTranspose(filters, kernel_size, strides, padding,
    output_padding, dilation_rate=...)` applied to `in_channels` input channels.

    For porting a Keras model: the torch layer alone does not always align with Keras ("same"
    with an odd total crop needs one more sample cropped at the end; see the module docstring).

    Args:
        filters: the output channels, as Keras names them.
        kernel_size: an int, or one per axis (H, W).
        strides: an int, or one per axis.
        padding: "valid" or "same", as in Keras.
        output_padding: None (Keras's default length) or an int, or one per axis, each smaller
            than the stride.
        dilation_rate: an int, or one per axis (Keras refuses it above 1 with strides above 1).
        in_channels: the input channels (Keras infers them; torch needs them).
        input_size: the spatial input size, to check the output size against Keras's; None to
            skip that.
        use_bias: whether the layer adds a bias.

    Returns:
        A `KerasTranslation`: the torch layer, the extra end crop per axis (0 or 1), the output
        size where `input_size` was given, notes, and `code()` for a torch snippet.

    Raises:
        ConfigError: for anything Keras or torch refuses, naming the Keras argument.

    Example:
        >>> same = from_keras(4, 3, strides=2, padding="same", in_channels=8, input_size=16)
        >>> same.layer.torch_repr(), same.crop_end, same.output_size
        ('nn.ConvTranspose2d(8, 4, kernel_size=3, stride=2)', (1, 1), (32, 32))
    """
    if not isinstance(padding, str) or padding not in ("valid", "same"):
        raise ConfigError("padding", f"padding must be 'valid' or 'same', got {padding!r}")
    if isinstance(filters, bool) or not isinstance(filters, numbers.Integral) or filters < 1:
        raise ConfigError(
            "filters", f"filters must be a positive integer (the output channels), got {filters!r}"
        )
    k = as_tuple("kernel_size", kernel_size, 2)
    s = as_tuple("strides", strides, 2)
    d = as_tuple("dilation_rate", dilation_rate, 2)
    ops = (None, None) if output_padding is None else as_tuple("output_padding", output_padding, 2)
    for name, values in (("kernel_size", k), ("strides", s), ("dilation_rate", d)):
        if min(values) < 1:
            raise ConfigError(name, f"{name} must be at least 1 on every axis, got {values}")
    if any(si > 1 for si in s) and any(di > 1 for di in d):
        raise ConfigError(
            "dilation_rate",
            "Keras refuses strides > 1 together with dilation_rate > 1: set one of them to 1",
        )
    for op, si in zip(ops, s, strict=True):
        if op is not None and not 0 <= op < si:
            raise ConfigError(
                "output_padding",
                f"output_padding {op} must be in 0..{si - 1} (smaller than strides {si})",
            )
    pads, torch_ops, crops, notes = [], [], [], []
    for name, ki, si, di, op in zip(AXIS_NAMES[2], k, s, d, ops, strict=True):
        span = di * (ki - 1) + 1
        # Total crop is independent of the input size: full - keras_out for n = 1.
        total = span - keras_output_length(1, ki, si, padding, op, di)
        before = 0 if padding == "valid" or total < 0 else total // 2
        after = total - before
        pads.append(before)
        torch_ops.append(max(before - after, 0))
        crops.append(max(after - before, 0))
        if crops[-1]:
            notes.append(
                f"{name}: Keras crops {before} before and {after} after; torch crops "
                f"padding={before} on both sides, so crop 1 more at the end"
            )
    layer = TransposedConv.make(
        in_channels, filters, k, s, tuple(pads), tuple(torch_ops), 1, use_bias, d
    )
    out = keras_out = None
    if input_size is not None:
        sizes = input_tuple(layer, input_size)
        keras_out = tuple(
            keras_output_length(n, ki, si, padding, op, di)
            for n, ki, si, op, di in zip(sizes, k, s, ops, d, strict=True)
        )
        torch_out = output_size(layer, sizes)
        out = tuple(o - c for o, c in zip(torch_out, crops, strict=True))
        assert out == keras_out, (out, keras_out)
    return KerasTranslation(layer, tuple(crops), out, keras_out, tuple(notes))
