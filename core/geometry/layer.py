"""`TransposedConv`: a transposed convolution's hyper-parameters, validated as torch validates them.

Every spatial parameter is a tuple with one entry per axis, so 1D, 2D and 3D layers share
all arithmetic. Construction through `TransposedConv.make` accepts what
`nn.ConvTranspose{1,2,3}d` accepts (an int or a per-axis sequence) and raises `ConfigError`
for everything torch would refuse at construction or at its first forward call.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from core.errors import ConfigError

IntOrTuple = int | Sequence[int]

# Hard ceilings that keep every computation bounded (the hosted demo caps far lower).
MAX_DIM = 1 << 20  # any size, channel count or kernel extent
# The per-axis parameters of a transposed convolution (torch's names): the one list the CLI, the
# app's layer state and the converter use.
SPATIAL_NAMES = ("kernel_size", "stride", "padding", "output_padding", "dilation")
_MINIMA = (
    ("kernel_size", 1, "use e.g. 3 or 4"),
    ("stride", 1, "use 1 to keep the resolution or 2 to double it"),
    ("dilation", 1, "use 1 for an ordinary kernel"),
    ("padding", 0, "use 0 or more (a transposed convolution's padding crops its output)"),
)


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(
            name, f"{name} must be an integer, got {value!r} ({type(value).__name__})"
        )
    value = int(value)
    if abs(value) > MAX_DIM:
        raise ConfigError(name, f"{name} {value} is too large: keep it within ±{MAX_DIM}")
    return value


def as_tuple(
    name: str, value: IntOrTuple, ndim: int, *, broadcast_one: bool = False
) -> tuple[int, ...]:
    """Turn torch's int-or-sequence argument into a tuple of `ndim` ints, or raise ConfigError.

    `broadcast_one`: a 1-element sequence stands for every axis, as torch's convolutions accept
    for stride, padding, output_padding and dilation (not for kernel_size)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (numbers.Integral, Sequence)):
        raise ConfigError(
            name, f"{name} must be an int or {ndim} ints (one per axis), got {value!r}"
        )
    if isinstance(value, Sequence):
        if broadcast_one and len(value) == 1:
            value = tuple(value) * ndim
        if len(value) != ndim:
            raise ConfigError(
                name,
                f"{name} has {len(value)} values but the layer has {ndim} spatial axes: "
                f"give one int or {ndim} ints",
            )
        return tuple(_as_int(name, v) for v in value)
    return (_as_int(name, value),) * ndim


@dataclass(frozen=True)
class Axis:
    """The five numbers that decide one spatial axis of a transposed convolution.

    The output size, the overlap counts and the solver work axis by axis, so they take an `Axis`.
    It is not validated: take it from a validated layer (`TransposedConv.axes`).

    Args:
        kernel_size: k, the taps along this axis.
        stride: s, the upsampling factor.
        padding: p, output pixels cropped from each end.
        output_padding: op, output pixels added at the end.
        dilation: d, the spacing between taps.

    Example:
        >>> axis = TransposedConv.make(8, 4, kernel_size=4, stride=2, padding=1).axes[0]
        >>> axis
        Axis(kernel_size=4, stride=2, padding=1, output_padding=0, dilation=1)
        >>> axis.span
        4
    """

    kernel_size: int
    stride: int
    padding: int
    output_padding: int
    dilation: int

    @property
    def span(self) -> int:
        """Extent of the dilated kernel: d*(k-1) + 1."""
        return self.dilation * (self.kernel_size - 1) + 1


@dataclass(frozen=True)
class TransposedConv:
    """A validated `nn.ConvTranspose{1,2,3}d` configuration (padding_mode is always 'zeros').

    The plain-Python stand-in for a torch layer that every size, overlap and replacement
    function takes: no torch needed, frozen and hashable. Build it with `make` (torch's
    arguments) or `from_module` (a torch layer), which validate; the constructor does not.

    Args:
        in_channels: the input channels.
        out_channels: the output channels.
        kernel_size: one int per spatial axis (as every spatial field below).
        stride: the upsampling factor per axis.
        padding: output pixels cropped from each end, per axis.
        output_padding: output pixels added at the end, per axis.
        dilation: the spacing between kernel taps, per axis.
        groups: blocked connections from input to output channels, as in torch.
        bias: whether the layer adds a bias.

    Example:
        >>> layer = TransposedConv.make(64, 32, kernel_size=4, stride=2, padding=1)
        >>> layer.kernel_size, layer.ndim
        ((4, 4), 2)
        >>> layer.torch_repr()
        'nn.ConvTranspose2d(64, 32, kernel_size=4, stride=2, padding=1)'
    """

    in_channels: int
    out_channels: int
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    output_padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int = 1
    bias: bool = True

    @classmethod
    def make(
        cls,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: IntOrTuple = 0,
        output_padding: IntOrTuple = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: IntOrTuple = 1,
        ndim: int = 2,
    ) -> TransposedConv:
        """Validate torch-style arguments (same names and order as nn.ConvTranspose2d).

        Args:
            in_channels: the input channels.
            out_channels: the output channels.
            kernel_size: an int, or one int per spatial axis.
            stride: an int, or one per axis (a 1-element sequence stands for every axis).
            padding: as stride.
            output_padding: as stride; smaller than stride or dilation, as torch requires.
            groups: blocked connections; both channel counts must be divisible by it.
            bias: whether the layer adds a bias.
            dilation: as stride.
            ndim: 1, 2 or 3 spatial axes (ConvTranspose1d, 2d or 3d).

        Returns:
            The validated `TransposedConv`.

        Raises:
            ConfigError: for anything torch refuses at construction or at its first forward
                call, naming the argument and a fix.

        Example:
            >>> TransposedConv.make(8, 4, kernel_size=(3, 5), stride=2).kernel_size
            (3, 5)
            >>> TransposedConv.make(8, 4, kernel_size=4, groups=3)  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            core.errors.ConfigError: in_channels 8 must be divisible by groups 3: ...
        """
        if (
            isinstance(ndim, bool)
            or not isinstance(ndim, numbers.Integral)
            or ndim not in (1, 2, 3)
        ):
            raise ConfigError("ndim", f"ndim must be 1, 2 or 3, got {ndim!r}")
        try:
            bias = bool(bias)
        except (TypeError, ValueError) as exc:  # e.g. a numpy array of several values
            raise ConfigError("bias", f"bias must be True or False, got {bias!r}") from exc
        spatial = {
            "kernel_size": as_tuple("kernel_size", kernel_size, ndim),
            **{
                name: as_tuple(name, value, ndim, broadcast_one=True)
                for name, value in (
                    ("stride", stride),
                    ("padding", padding),
                    ("output_padding", output_padding),
                    ("dilation", dilation),
                )
            },
        }
        layer = cls(
            in_channels=_as_int("in_channels", in_channels),
            out_channels=_as_int("out_channels", out_channels),
            groups=_as_int("groups", groups),
            bias=bias,
            **spatial,
        )
        layer.validate()
        return layer

    @classmethod
    def from_module(cls, module: Any) -> TransposedConv:
        """Read the configuration of an `nn.ConvTranspose{1,2,3}d` instance.

        Args:
            module: the torch layer (anything with its attributes).

        Returns:
            Its validated `TransposedConv`.

        Raises:
            ConfigError: for a padding_mode other than 'zeros', or a configuration torch refuses.

        Example:
            >>> from torch import nn
            >>> TransposedConv.from_module(nn.ConvTranspose2d(8, 4, 4, 2, 1)).torch_repr()
            'nn.ConvTranspose2d(8, 4, kernel_size=4, stride=2, padding=1)'
        """
        if getattr(module, "padding_mode", "zeros") != "zeros":
            raise ConfigError("padding_mode", "ConvTranspose supports only padding_mode='zeros'")
        return cls.make(
            module.in_channels,
            module.out_channels,
            module.kernel_size,
            module.stride,
            module.padding,
            module.output_padding,
            module.groups,
            module.bias is not None,
            module.dilation,
            ndim=len(module.kernel_size),
        )

    def validate(self) -> None:
        """Raise ConfigError for anything torch refuses (construction or forward)."""
        for name in ("in_channels", "out_channels"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    name,
                    f"{name} must be at least 1, got {getattr(self, name)}: use the number of "
                    f"feature maps the layer {'takes' if name == 'in_channels' else 'makes'}",
                )
        if self.groups < 1:
            raise ConfigError(
                "groups",
                f"groups must be a positive integer, got {self.groups}: use 1 for an ordinary "
                "(ungrouped) layer",
            )
        for name in ("in_channels", "out_channels"):
            channels = getattr(self, name)
            if channels % self.groups:
                # groups must divide both channel counts: offer only those that do
                both = math.gcd(self.in_channels, self.out_channels)
                divisors = [g for g in range(1, both + 1) if both % g == 0][-6:]
                raise ConfigError(
                    "groups",
                    f"{name} {channels} must be divisible by groups {self.groups}: "
                    f"use groups in {divisors} or change {name}",
                )
        for name, minimum, fix in _MINIMA:
            for value in getattr(self, name):
                if value < minimum:
                    raise ConfigError(
                        name, f"{name} must be at least {minimum} on every axis, got {value}: {fix}"
                    )
        for op, s, d in zip(self.output_padding, self.stride, self.dilation, strict=True):
            if op < 0:
                raise ConfigError(
                    "output_padding",
                    f"output_padding must be at least 0, got {op}: use 0, or crop the output "
                    "with more padding",
                )
            if op >= max(s, d):
                top = max(s, d) - 1
                allowed = {0: "0", 1: "0 or 1"}.get(top, f"a value in 0..{top}")
                raise ConfigError(
                    "output_padding",
                    f"output_padding {op} must be smaller than stride {s} or dilation {d}: "
                    f"use {allowed}",
                )

    @property
    def ndim(self) -> int:
        return len(self.kernel_size)

    @property
    def axes(self) -> tuple[Axis, ...]:
        """Per-axis view: one `Axis` per spatial dimension (H, W for 2D)."""
        per_name = [getattr(self, name) for name in SPATIAL_NAMES]
        return tuple(
            Axis(**dict(zip(SPATIAL_NAMES, values, strict=True)))
            for values in zip(*per_name, strict=True)
        )

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `nn.ConvTranspose{ndim}d`, ints where all axes agree."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = value[0] if len(set(value)) == 1 else value
            out[f.name] = value
        return out

    def torch_repr(self) -> str:
        """The constructor call as it would be written in PyTorch source."""
        kw = self.kwargs()
        parts = [str(kw["in_channels"]), str(kw["out_channels"])]
        parts.append(f"kernel_size={kw['kernel_size']}")
        # torch's own order, so the text matches what print(model) shows.
        defaults = {
            "stride": 1,
            "padding": 0,
            "dilation": 1,
            "output_padding": 0,
            "groups": 1,
            "bias": True,
        }
        for name, default in defaults.items():
            if kw[name] != default:
                parts.append(f"{name}={kw[name]}")
        return f"nn.ConvTranspose{self.ndim}d({', '.join(parts)})"
