"""Copy-paste PyTorch snippets for the replacements in `core.replacements`.

Every snippet imports what it uses (torch only), binds the replacement module to `layer`, and
contains nothing but numbers derived from the validated layer configuration: no user text ever
reaches generated code. `*_weight_code` snippets continue a `code` snippet and copy the weights
of an existing `nn.ConvTranspose2d` named `original` into `layer`. No torch import here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.replacements.plan import resize_geometry, subpixel_axis, zero_insertion_axis

IMPORTS = "import torch\nfrom torch import nn\n"
IMPORTS_F = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"


def _pair(values: Sequence[int]) -> str:
    """torch style: one int where both axes agree, else a tuple."""
    a, b = (int(v) for v in values)
    return f"{a}" if a == b else f"({a}, {b})"


def _tuple(values: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(v)) for v in values) + ")"


def conv2d_call(
    in_channels: int,
    out_channels: int,
    kernel_size: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    bias: bool,
) -> str:
    """`nn.Conv2d(...)` with the defaults left out."""
    parts = [str(int(in_channels)), str(int(out_channels)), f"kernel_size={_pair(kernel_size)}"]
    if any(padding):
        parts.append(f"padding={_pair(padding)}")
    if any(d != 1 for d in dilation):
        parts.append(f"dilation={_pair(dilation)}")
    if groups != 1:
        parts.append(f"groups={int(groups)}")
    if not bias:
        parts.append("bias=False")
    return f"nn.Conv2d({', '.join(parts)})"


def _shapes(
    torch_repr: str,
    in_channels: int,
    sizes: Sequence[int] | None,
    out_channels: int,
    out: Sequence[int] | None,
    exact: bool,
) -> str:
    """The header comment: what the snippet replaces and, where the input size is known, the
    shapes it was computed for (None: the layer's input size is not known)."""
    what = "exactly (same outputs)" if exact else "with the same output size"
    head = f"# Replaces, {what}:\n#   {torch_repr}\n"
    if sizes is None or out is None:
        return head
    return (
        f"{head}# layer(torch.randn(1, {in_channels}, {sizes[0]}, {sizes[1]})).shape == "
        f"(1, {out_channels}, {out[0]}, {out[1]})\n"
    )


def _regroup(
    groups: int, in_group: int, out_group: int, out: int, kh: int, kw: int, source: str
) -> str:
    """Lines turning `source` (in, out/groups, kh, kw) into w (out, in/groups, kh, kw)."""
    if groups == 1:
        return f"    # (in, out, kh, kw) -> (out, in, kh, kw)\n    w = {source}.transpose(0, 1)\n"
    return (
        "    # (in, out/groups, kh, kw) -> (out, in/groups, kh, kw), group by group\n"
        f"    w = {source}.view({groups}, {in_group}, {out_group}, {kh}, {kw})\n"
        f"    w = w.transpose(1, 2).reshape({out}, {in_group}, {kh}, {kw})\n"
    )


_CARRY = (
    "\n# Carry the weights of `original` (a trained nn.ConvTranspose2d) into `layer`{how}.\n"
    "layer = layer.to(original.weight.device, original.weight.dtype)\n"
    "with torch.no_grad():\n"
)


# ---------------------------------------------------------------------------------------------
# Sub-pixel

# One general helper class per method, the same text wherever it is written: a converted model
# that mixes layer variants (square and non-square strides, crops, pads) defines each class once
# and every layer is built with it. They behave exactly like those in core.replacements.modules.
SUBPIXEL_HELPER = '''

class SubPixelConvTranspose2d(nn.Module):
    """Exact stand-in for a ConvTranspose2d: one Conv2d at the input's resolution computes all
    stride_h x stride_w output phases, a pixel shuffle interleaves them, a crop trims borders."""

    def __init__(self, conv: nn.Conv2d, stride, crop=(0, 0, 0, 0)):
        super().__init__()
        self.conv = conv
        if isinstance(stride, int):
            stride = (stride, stride)
        self.stride = tuple(stride)
        self.crop = tuple(crop)  # (left, right, top, bottom): output pixels to remove

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        sh, sw = self.stride
        if sh == sw:
            y = F.pixel_shuffle(y, sh)
        else:  # channel c*sh*sw + i*sw + j -> phase (i, j)
            n, c, h, w = y.shape
            y = y.view(n, c // (sh * sw), sh, sw, h, w).permute(0, 1, 4, 2, 5, 3)
            y = y.reshape(n, c // (sh * sw), h * sh, w * sw)
        left, right, top, bottom = self.crop
        return y[..., top : y.shape[-2] - bottom, left : y.shape[-1] - right]

'''


def subpixel_code(
    torch_repr: str,
    conv: str,
    stride: Sequence[int],
    crop: Sequence[int],
    in_channels: int,
    sizes: Sequence[int] | None,
    out_channels: int,
    out: Sequence[int] | None,
) -> str:
    """Conv2d + PixelShuffle as nn.Sequential when nothing needs cropping, else the general
    `SubPixelConvTranspose2d` helper class."""
    shapes = _shapes(torch_repr, in_channels, sizes, out_channels, out, exact=True)
    square = stride[0] == stride[1]
    if square and not any(crop):
        shuffle = (  # with stride 1 there are no phases to interleave: an ordinary convolution
            "" if stride[0] == 1 else f"    nn.PixelShuffle({int(stride[0])}),\n"
        )
        return f"{IMPORTS}\n{shapes}layer = nn.Sequential(\n    {conv},\n{shuffle})\n"
    stride_arg = str(int(stride[0])) if square else _tuple(stride)
    crop_line = f"    crop={_tuple(crop)},  # (left, right, top, bottom)\n" if any(crop) else ""
    return (
        f"{IMPORTS_F}{SUBPIXEL_HELPER}\n{shapes}layer = SubPixelConvTranspose2d(\n    {conv},\n"
        f"    stride={stride_arg},\n{crop_line})\n"
    )


def subpixel_weight_code(
    groups: int,
    in_group: int,
    out_group: int,
    out: int,
    kh: int,
    kw: int,
    stride: Sequence[int],
    dilation: Sequence[int],
    reach: Sequence[int],
    bias: bool,
    sequential: bool,
) -> str:
    """Each tap of the original goes to its output phase and input-pixel shift in the conv."""
    sh, sw = (int(v) for v in stride)
    dh, dw = (int(v) for v in dilation)
    rh, rw = (int(v) for v in reach)
    conv = "layer[0]" if sequential else "layer.conv"

    def times(name: str, d: int) -> str:
        return name if d == 1 else f"{name} * {d}"

    lines = _CARRY.format(how=" (exact)") + _regroup(
        groups, in_group, out_group, out, kh, kw, "original.weight"
    )
    lines += (
        f"    phases = w.new_zeros({out}, {sh}, {sw}, {in_group}, {rh + 1}, {rw + 1})\n"
        f"    for jh in range({kh}):\n"
        f"        for jw in range({kw}):\n"
        "            # tap j lands j*dilation output pixels after its input pixel: in phase\n"
        "            # (j*dilation) % stride, (j*dilation) // stride input pixels later\n"
        f"            ph, pw = {times('jh', dh)} % {sh}, {times('jw', dw)} % {sw}\n"
        f"            th, tw = {rh} - {times('jh', dh)} // {sh}, {rw} - {times('jw', dw)} // {sw}\n"
        "            phases[:, ph, pw, :, th, tw] = w[:, :, jh, jw]\n"
        f"    shape = ({out * sh * sw}, {in_group}, {rh + 1}, {rw + 1})\n"
        f"    {conv}.weight.copy_(phases.reshape(shape))\n"
    )
    if bias:
        lines += f"    {conv}.bias.copy_(original.bias.repeat_interleave({sh * sw}))\n"
    return lines


# ---------------------------------------------------------------------------------------------
# Zero insertion

ZERO_INSERTION_HELPER = '''

class ZeroInsertionConvTranspose2d(nn.Module):
    """Exact stand-in for a ConvTranspose2d: insert stride - 1 zeros between input pixels,
    pad (negative values crop), then run an ordinary Conv2d with the flipped, regrouped kernel."""

    def __init__(self, conv: nn.Conv2d, stride, pad=(0, 0, 0, 0)):
        super().__init__()
        self.conv = conv
        if isinstance(stride, int):
            stride = (stride, stride)
        self.stride = tuple(stride)
        self.pad = tuple(pad)  # (left, right, top, bottom) beyond the conv's own padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        sh, sw = self.stride
        z = x.new_zeros(n, c, (h - 1) * sh + 1, (w - 1) * sw + 1)
        z[:, :, ::sh, ::sw] = x  # the "bed of nails"
        if any(self.pad):
            z = F.pad(z, self.pad)
        return self.conv(z)

'''


def zero_insertion_code(
    torch_repr: str,
    conv: str,
    stride: Sequence[int],
    extra: Sequence[int],
    in_channels: int,
    sizes: Sequence[int] | None,
    out_channels: int,
    out: Sequence[int] | None,
) -> str:
    """The general `ZeroInsertionConvTranspose2d` helper class and the layer built with it."""
    shapes = _shapes(torch_repr, in_channels, sizes, out_channels, out, exact=True)
    pad_line = f"    pad={_tuple(extra)},  # (left, right, top, bottom)\n" if any(extra) else ""
    return (
        f"{IMPORTS_F}{ZERO_INSERTION_HELPER}\n{shapes}layer = ZeroInsertionConvTranspose2d(\n"
        f"    {conv},\n    stride={_tuple(stride)},\n{pad_line})\n"
    )


def zero_insertion_weight_code(
    groups: int, in_group: int, out_group: int, out: int, kh: int, kw: int, bias: bool
) -> str:
    lines = _CARRY.format(how=" (exact)") + _regroup(
        groups, in_group, out_group, out, kh, kw, "original.weight"
    )
    lines += "    layer.conv.weight.copy_(w.flip(-2, -1))  # flipped in both spatial axes\n"
    if bias:
        lines += "    layer.conv.bias.copy_(original.bias)\n"
    return lines


# ---------------------------------------------------------------------------------------------
# Resize-convolution


def resize_code(
    torch_repr: str,
    mode: str,
    stride: Sequence[int],
    pads: Sequence[int] | None,
    conv: str,
    in_channels: int,
    sizes: Sequence[int] | None,
    out_channels: int,
    out: Sequence[int] | None,
) -> str:
    """nn.Sequential(Upsample, [ZeroPad2d], Conv2d); `pads` None when the conv pads itself."""
    corners = "" if mode == "nearest" else ", align_corners=False"
    quoted = f'"{mode}"'
    lines = [f"    nn.Upsample(scale_factor={_pair(stride)}, mode={quoted}{corners}),"]
    if pads is not None:
        lines.append(
            f"    nn.ZeroPad2d({_tuple(pads)}),  # (left, right, top, bottom); negative values crop"
        )
    lines.append(f"    {conv},")
    shapes = _shapes(torch_repr, in_channels, sizes, out_channels, out, exact=False)
    return f"{IMPORTS}\n{shapes}layer = nn.Sequential(\n" + "\n".join(lines) + "\n)\n"


def _slice(start: int, taps: int, step: int) -> str:
    stop = start + step * (taps - 1) + 1
    return f"{start}:{stop}" + (f":{step}" if step > 1 else "")


_RESIZE_TAPS = """

def resize_taps(spread, first, kernel, dilation, rows):
    \"\"\"taps[i, j]: the weight with which conv tap j, after the upsampling, carries an
    input pixel to row i of a grid of output offsets (`spread`: the upsampling of one pixel).\"\"\"
    taps = torch.zeros(rows, kernel, dtype=torch.float64)
    for j in range(kernel):
        for m, weight in enumerate(spread):
            taps[first + m - j * dilation, j] += weight
    return taps


"""


def _taps_call(name: str, grid: Any) -> str:
    spread = [repr(float(v)) for v in grid.spread]
    call = (
        f"{name} = resize_taps([{', '.join(spread)}], first={int(grid.first)}, "
        f"kernel={int(grid.kernel_size)}, dilation={int(grid.dilation)}, rows={int(grid.rows)})\n"
    )
    if len(call) <= 100:
        return call
    lines, line = [], "    ["
    for value in spread:
        piece = value + ", "
        if len(line) + len(piece) > 96:
            lines.append(line.rstrip())
            line = "     "
        line += piece
    lines.append(line.rstrip().rstrip(",") + "],")
    return (
        f"{name} = resize_taps(\n" + "\n".join(lines) + "\n"
        f"    first={int(grid.first)},\n    kernel={int(grid.kernel_size)},\n"
        f"    dilation={int(grid.dilation)},\n    rows={int(grid.rows)},\n)\n"
    )


def resize_weight_code(
    groups: int,
    in_group: int,
    out_group: int,
    out: int,
    kh: int,
    kw: int,
    dilation: Sequence[int],
    bias: bool,
    grids: Sequence[Any],
) -> str:
    """Least-squares fit of the conv weights to the original's effective kernel, per axis
    `grids` (core.replacements.plan.ResizeGrid: lo, rows, start, first, spread, kernel_size,
    dilation)."""
    dh, dw = (int(v) for v in dilation)
    gh, gw = grids
    lines = _RESIZE_TAPS + _taps_call("taps_h", gh) + _taps_call("taps_w", gw)
    lines += _CARRY.format(how=" (least squares)")
    lines += "    w = original.weight.detach().cpu().double()  # fitted in float64\n"
    lines += _regroup(groups, in_group, out_group, out, kh, kw, "w")
    lines += (
        "    # the original's kernel on the same grid of output offsets\n"
        f"    target = w.new_zeros({out}, {in_group}, {int(gh.rows)}, {int(gw.rows)})\n"
        f"    target[:, :, {_slice(int(gh.start), kh, dh)}, {_slice(int(gw.start), kw, dw)}] = w\n"
        "    fit = torch.linalg.pinv(taps_h) @ target @ torch.linalg.pinv(taps_w).T\n"
        "    layer[-1].weight.copy_(fit)\n"
    )
    if bias:
        lines += "    layer[-1].bias.copy_(original.bias)\n"
    lines += (
        "    # How far the closest resize-conv is from the original operator (0: equal): the\n"
        "    # relative error of the fit. A resize-conv cannot print the checkerboard, so a\n"
        "    # checkerboard-prone original is not matched exactly: fine-tune after the transfer.\n"
        "    fit_error = float((target - taps_h @ fit @ taps_w.T).norm() / target.norm())\n"
        '    print("resize-conv fit: relative error", round(fit_error, 3))\n'
    )
    return lines


# ---------------------------------------------------------------------------------------------
# Expressions: a replacement written in place of one ConvTranspose2d call of the user's own file
# (core.converter.source_conversion), its channel arguments kept as the user wrote them.


@dataclass(frozen=True)
class Expression:
    """A replacement as one Python expression, and the helper class it needs (its name and
    source, to be defined once in the file), or None."""

    text: str
    helper: tuple[str, str] | None = None


def _parenthesised(expression: str) -> str:
    """`expression` safe to multiply: a name or number as it is, anything else in parentheses."""
    stripped = expression.strip()
    return stripped if stripped.isidentifier() or stripped.isdigit() else f"({stripped})"


def _conv2d_expression(
    cin: str,
    cout: str,
    kernel: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    groups: int,
    extra: dict[str, str],
) -> str:
    """`nn.Conv2d(...)` with channel expressions, defaults left out, `extra` keywords as given."""
    parts = [cin, cout, f"kernel_size={_pair(kernel)}"]
    if any(padding):
        parts.append(f"padding={_pair(padding)}")
    if any(d != 1 for d in dilation):
        parts.append(f"dilation={_pair(dilation)}")
    if groups != 1:
        parts.append(f"groups={int(groups)}")
    parts += [f"{name}={value}" for name, value in extra.items()]
    return f"nn.Conv2d({', '.join(parts)})"


def subpixel_expression(record: Any, layer: Any, cin: str, cout: str, extra: dict) -> Expression:
    """The sub-pixel equivalent of one call: Conv2d + PixelShuffle, or the helper class where a
    crop or a non-square stride needs it (a plain Conv2d for stride 1)."""
    h, w = (subpixel_axis(a) for a in layer.axes)
    s = layer.stride
    channels = f"{_parenthesised(cout)} * {s[0] * s[1]}" if s != (1, 1) else cout
    conv = _conv2d_expression(
        cin, channels, (h.kernel_size, w.kernel_size), (h.conv_padding, w.conv_padding), (1, 1),
        layer.groups, extra,
    )  # fmt: skip
    crop = (w.crop_before, w.crop_after, h.crop_before, h.crop_after)
    if s[0] == s[1] and not any(crop):
        return Expression(
            conv if s == (1, 1) else f"nn.Sequential({conv}, nn.PixelShuffle({s[0]}))"
        )
    stride = str(s[0]) if s[0] == s[1] else _tuple(s)
    crop_arg = f", crop={_tuple(crop)}" if any(crop) else ""
    return Expression(
        f"SubPixelConvTranspose2d({conv}, stride={stride}{crop_arg})",
        ("SubPixelConvTranspose2d", SUBPIXEL_HELPER),
    )


def zero_insertion_expression(
    record: Any, layer: Any, cin: str, cout: str, extra: dict
) -> Expression:
    """The zero-insertion equivalent of one call, with its helper class."""
    h, w = (zero_insertion_axis(a) for a in layer.axes)
    conv = _conv2d_expression(
        cin, cout, layer.kernel_size, (h.conv_padding, w.conv_padding), layer.dilation,
        layer.groups, extra,
    )  # fmt: skip
    pad = (w.extra_before, w.extra_after, h.extra_before, h.extra_after)
    pad_arg = f", pad={_tuple(pad)}" if any(pad) else ""
    return Expression(
        f"ZeroInsertionConvTranspose2d({conv}, stride={_tuple(layer.stride)}{pad_arg})",
        ("ZeroInsertionConvTranspose2d", ZERO_INSERTION_HELPER),
    )


def resize_expression(record: Any, layer: Any, cin: str, cout: str, extra: dict) -> Expression:
    """Upsample (the record's mode) + [ZeroPad2d] + Conv2d of the plan's geometry."""
    mode = record.resize_mode
    gh, gw = resize_geometry(layer, mode)
    pads = (gw.pad_before, gw.pad_after, gh.pad_before, gh.pad_after)
    symmetric = pads[0] == pads[1] >= 0 and pads[2] == pads[3] >= 0
    conv = _conv2d_expression(
        cin, cout, (gh.kernel_size, gw.kernel_size),
        (pads[2], pads[0]) if symmetric else (0, 0), layer.dilation, layer.groups, extra,
    )  # fmt: skip
    corners = "" if mode == "nearest" else ", align_corners=False"
    parts = [f'nn.Upsample(scale_factor={_pair(layer.stride)}, mode="{mode}"{corners})']
    if not symmetric:
        parts.append(f"nn.ZeroPad2d({_tuple(pads)})")
    parts.append(conv)
    return Expression(f"nn.Sequential({', '.join(parts)})")
