"""The exact ConvTranspose2d stand-ins as reusable modules, and the weight rearrangements.

The snippets of `core.replacements.codegen` define classes that behave exactly like these
(specialised to one configuration); tests run both side by side.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.geometry.layer import TransposedConv
from core.replacements.plan import subpixel_axis, zero_insertion_axis


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def regroup(weight: torch.Tensor, groups: int) -> torch.Tensor:
    """ConvTranspose2d weight (in, out/g, kh, kw) -> Conv2d layout (out, in/g, kh, kw).

    Applied to a Conv2d layout it gives the ConvTranspose2d layout back (an involution)."""
    cin, cout_g, kh, kw = weight.shape
    w = weight.reshape(groups, cin // groups, cout_g, kh, kw).transpose(1, 2)
    return w.reshape(groups * cout_g, cin // groups, kh, kw)


def subpixel_weight(
    weight: torch.Tensor, groups: int, stride: tuple[int, int], dilation: tuple[int, int]
) -> torch.Tensor:
    """The sub-pixel Conv2d's weight (out*sh*sw, in/g, Kh, Kw) holding every tap of `weight`.

    Tap j lands j*d output pixels after its input pixel: in phase (j*d) % s, (j*d) // s input
    pixels later, i.e. at conv position reach - (j*d) // s with reach = d(k-1) // s.
    """
    w = regroup(weight, groups)
    cout, cin_g, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    reach_h, reach_w = dh * (kh - 1) // sh, dw * (kw - 1) // sw
    jh = torch.arange(kh) * dh
    jw = torch.arange(kw) * dw
    phases = w.new_zeros(sh, reach_h + 1, sw, reach_w + 1, cout, cin_g)
    index = (
        (jh % sh)[:, None],
        (reach_h - jh // sh)[:, None],
        (jw % sw)[None, :],
        (reach_w - jw // sw)[None, :],
    )
    phases[index] = w.permute(2, 3, 0, 1)  # (kh, kw, out, in/g); every tap has its own slot
    # (sh, Kh, sw, Kw, out, in/g) -> (out, sh, sw, in/g, Kh, Kw) -> (out*sh*sw, in/g, Kh, Kw)
    phases = phases.permute(4, 0, 2, 5, 1, 3)
    return phases.reshape(cout * sh * sw, cin_g, reach_h + 1, reach_w + 1)


class SubPixelConvTranspose2d(nn.Module):
    """Exact stand-in for a ConvTranspose2d: one Conv2d at the input's resolution computes all
    stride_h x stride_w output phases, a pixel shuffle interleaves them, a crop trims the borders.

    No multiply-add is spent on inserted zeros; the crop is a view (no copy).
    """

    def __init__(
        self, conv: nn.Conv2d, stride: int | tuple[int, int], crop: tuple[int, int, int, int]
    ) -> None:
        super().__init__()
        self.conv = conv
        self.stride = _pair(stride)
        self.crop = tuple(int(c) for c in crop)  # (left, right, top, bottom)

    @classmethod
    def from_conv_transpose(cls, layer: nn.ConvTranspose2d) -> SubPixelConvTranspose2d:
        """The exact equivalent of `layer`, weights included (same device and dtype)."""
        config = TransposedConv.from_module(layer)
        h, w = (subpixel_axis(a) for a in config.axes)
        sh, sw = config.stride
        conv = nn.Conv2d(
            config.in_channels,
            config.out_channels * sh * sw,
            (h.kernel_size, w.kernel_size),
            padding=(h.conv_padding, w.conv_padding),
            groups=config.groups,
            bias=config.bias,
            device="meta",  # no random initialisation: every weight is set below
            dtype=layer.weight.dtype,
        ).to_empty(device=layer.weight.device)
        with torch.no_grad():
            conv.weight.copy_(
                subpixel_weight(layer.weight, config.groups, config.stride, config.dilation)
            )
            if layer.bias is not None:
                conv.bias.copy_(layer.bias.repeat_interleave(sh * sw))
        return cls(conv, config.stride, (w.crop_before, w.crop_after, h.crop_before, h.crop_after))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        sh, sw = self.stride
        if sh == sw:
            y = F.pixel_shuffle(y, sh)
        else:
            n, c, h, w = y.shape
            y = y.view(n, c // (sh * sw), sh, sw, h, w).permute(0, 1, 4, 2, 5, 3)
            y = y.reshape(n, c // (sh * sw), h * sh, w * sw)
        left, right, top, bottom = self.crop
        return y[..., top : y.shape[-2] - bottom, left : y.shape[-1] - right]


class ZeroInsertionConvTranspose2d(nn.Module):
    """Exact stand-in for a ConvTranspose2d: insert stride - 1 zeros between input pixels, pad
    (negative values crop), then run an ordinary Conv2d with the flipped, regrouped kernel.

    About stride_h*stride_w times the multiply-adds of the original: most multiply zeros.
    """

    def __init__(
        self,
        conv: nn.Conv2d,
        stride: int | tuple[int, int],
        pad: tuple[int, int, int, int] = (0, 0, 0, 0),
    ) -> None:
        super().__init__()
        self.conv = conv
        self.stride = _pair(stride)
        self.pad = tuple(int(p) for p in pad)  # (left, right, top, bottom) beyond conv.padding

    @classmethod
    def from_conv_transpose(cls, layer: nn.ConvTranspose2d) -> ZeroInsertionConvTranspose2d:
        """The exact equivalent of `layer`, weights included (same device and dtype)."""
        config = TransposedConv.from_module(layer)
        h, w = (zero_insertion_axis(a) for a in config.axes)
        conv = nn.Conv2d(
            config.in_channels,
            config.out_channels,
            config.kernel_size,
            padding=(h.conv_padding, w.conv_padding),
            dilation=config.dilation,
            groups=config.groups,
            bias=config.bias,
            device="meta",  # no random initialisation: every weight is set below
            dtype=layer.weight.dtype,
        ).to_empty(device=layer.weight.device)
        with torch.no_grad():
            conv.weight.copy_(regroup(layer.weight, config.groups).flip(-2, -1))
            if layer.bias is not None:
                conv.bias.copy_(layer.bias)
        pad = (w.extra_before, w.extra_after, h.extra_before, h.extra_after)
        return cls(conv, config.stride, pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        sh, sw = self.stride
        z = x.new_zeros(n, c, (h - 1) * sh + 1, (w - 1) * sw + 1)
        z[:, :, ::sh, ::sw] = x
        return self.conv(F.pad(z, self.pad) if any(self.pad) else z)
