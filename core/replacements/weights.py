"""Carry trained weights between a ConvTranspose2d and its replacements, both ways.

`replace_conv_transpose` turns a trained nn.ConvTranspose2d into an exact equivalent (sub-pixel
or zero insertion) or into the least-squares closest resize-convolution, and says how far the
result is from the original. `fuse_resize_conv` goes the other way: nearest Upsample + Conv2d
is exactly one ConvTranspose2d (kernel k + s - 1, box-summed taps), cheaper to run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from core.errors import ConfigError
from core.geometry.layer import TransposedConv, as_tuple
from core.replacements import registry
from core.replacements.modules import regroup
from core.replacements.plan import ResizeGrid, resize_geometry, resize_grid, resize_matrix

# The exact modules' error is estimated with PROBE_BATCH random float64 inputs whose nonzero
# pixels (PROBE_INTERIOR per axis) all have their whole response inside the output: every
# (input channel, tap) pair is sampled PROBE_BATCH * PROBE_INTERIOR**2 = 36 times.
PROBE_BATCH = 4
PROBE_INTERIOR = 3
PROBE_SEED = 0  # fixed: the same layer and module always give the same number


def _check_conv_transpose(layer: object) -> TransposedConv:
    if not isinstance(layer, nn.ConvTranspose2d):
        raise ConfigError(
            "layer",
            f"layer must be an nn.ConvTranspose2d, got {type(layer).__name__}; "
            "replacements are computed for 2D transposed convolutions only",
        )
    return TransposedConv.from_module(layer)


def replace_conv_transpose(
    layer: nn.ConvTranspose2d, method: str, *, kernel_size: int | Sequence[int] | None = None
) -> tuple[nn.Module, float]:
    """A replacement of `layer` with its weights, and its relative error.

    method: one of core.replacements.registry.METHODS. An exact method (same outputs, borders
    included, error ~1e-15) is built by its record's module builder; a resize method is
    Upsample(stride, its mode) + [ZeroPad2d] + Conv2d(kernel_size; default
    `core.replacements.plan.matched_kernel`), padded so that the output size equals the
    original's for every input, whose conv weights are the least-squares fit of the original
    operator; the bias is copied. The module has the layer's device and dtype.

    relative_error = ||A - B||_F / ||A||_F of the two linear maps (bias excluded) on an unbounded
    grid, per input pixel: both are shift-equivariant with step s, so each is fixed by its
    effective kernel, the response K[c_in, c_out, delta_h, delta_w] at output i*s + delta to a
    unit input at pixel i of channel c_in, and ||A||_F^2 per input pixel = sum K_A^2. For the
    resize methods K_B is linear in the conv weights and the fit minimises ||K_A - K_B||, so a
    layer that is truly such a resize-conv comes back with error ~0; the residual is computed
    exactly (float64, from the weights). Borders are not part of the measure; there
    interpolation clamps, so a resize-conv differs more near the edges.

    For the exact methods the built module is run, not trusted: A and B are applied in float64
    to PROBE_BATCH random inputs (fixed seed), iid standard normal on PROBE_INTERIOR x
    PROBE_INTERIOR input pixels whose whole response lies inside the output and zero elsewhere,
    and relative_error = sqrt(sum ||Ax - Bx||^2 / sum ||Ax||^2) over the whole output. As
    E||Kx||^2 = (number of nonzero pixels) * ||K||_F^2 for such x, this estimates
    ||K_A - K_B|| / ||K_A|| from 36 samples of every tap: a correct module gives float64
    rounding (1e-15 or less, whatever the layer's dtype), a wrong one a value typically within
    20% of its true distance, and one whose output has another size inf. The probe is a few
    forward passes of a small input (6x6 pixels for k4 s2 p1), not one per input channel.
    """
    config = _check_conv_transpose(layer)
    record = registry.method(method)
    if record.resize_mode is not None:
        return _fit_resize(layer, config, record.resize_mode, kernel_size)
    if kernel_size is not None:
        raise ConfigError(
            "kernel_size",
            f"kernel_size applies to resize methods only; the "
            f"{method} equivalent's kernel follows from the layer",
        )
    module = record.build_module(layer)
    return module, _probed_error(layer, module, config)


def _fit_resize(
    layer: nn.ConvTranspose2d,
    config: TransposedConv,
    mode: str,
    kernel_size: int | Sequence[int] | None,
) -> tuple[nn.Module, float]:
    if kernel_size is not None:
        kernel_size = as_tuple("kernel_size", kernel_size, 2)
        if min(kernel_size) < 1 or max(kernel_size) > 64:
            raise ConfigError(
                "kernel_size", f"kernel_size must be within 1..64 on both axes, got {kernel_size}"
            )
    geo_h, geo_w = resize_geometry(config, mode, kernel_size)
    pads = (geo_w.pad_before, geo_w.pad_after, geo_h.pad_before, geo_h.pad_after)
    symmetric = pads[0] == pads[1] >= 0 and pads[2] == pads[3] >= 0
    device, dtype = layer.weight.device, layer.weight.dtype
    conv = nn.Conv2d(
        config.in_channels,
        config.out_channels,
        (geo_h.kernel_size, geo_w.kernel_size),
        padding=(pads[2], pads[0]) if symmetric else 0,
        dilation=config.dilation,
        groups=config.groups,
        bias=config.bias,
        device="meta",  # no random initialisation: every weight is overwritten below
        dtype=dtype,
    ).to_empty(device=device)
    extra = {} if mode == "nearest" else {"align_corners": False}
    stride = config.stride if config.stride[0] != config.stride[1] else config.stride[0]
    parts: list[nn.Module] = [nn.Upsample(scale_factor=stride, mode=mode, **extra)]
    if not symmetric:
        parts.append(nn.ZeroPad2d(pads))
    module = nn.Sequential(*parts, conv)

    # Per axis, the original's taps sit on rows start + j*d of the grid (a selection E with
    # orthonormal columns) and the resize-conv's are taps @ w'. With T = E_h w E_w^T, the fit is
    # pinv(taps_h) T pinv(taps_w)^T = G_h w G_w^T (G = pinv(taps) E: k' x k, never the grid).
    # The residual T - Q_h T Q_w^T (Q = taps pinv(taps), orthogonal projectors) splits
    # orthogonally into (I - Q_h) T and Q_h T (I - Q_w), whose norms are those of F_h w and
    # P_h w F_w^T, with ||F X|| = ||(I - Q) E X|| and ||P X|| = ||Q E X|| (`_fit_axis`): nothing
    # grid-sized is made and no norms are subtracted, so an exact fit's residual stays ~1e-16.
    # Each 2D map L w R^T is one product with kron(L, R) on the flattened taps, all three in
    # one pass over the weights (a batch of 512K tiny matrix products is many times slower).
    (fit_h, out_h, in_h), (fit_w, out_w, _) = (
        _fit_axis(resize_grid(a, mode, g), a.dilation, a.kernel_size)
        for a, g in zip(config.axes, (geo_h, geo_w), strict=True)
    )
    w = regroup(layer.weight.detach().to("cpu", torch.float64), config.groups)
    maps = torch.cat(
        [
            torch.kron(fit_h, fit_w),
            torch.kron(out_h, torch.eye(w.shape[-1], dtype=torch.float64)),
            torch.kron(in_h, out_w),
        ]
    )
    flat = w.flatten(2) @ maps.T  # (out, in/g, K_h*K_w + residual components)
    fit = flat[..., : conv.weight[0, 0].numel()].unflatten(-1, conv.weight.shape[2:])
    residual = flat[..., conv.weight[0, 0].numel() :].norm().item()
    with torch.no_grad():
        conv.weight.copy_(fit)
        if layer.bias is not None:
            conv.bias.copy_(layer.bias)
    return module, _ratio(residual, w.norm().item())


def _fit_axis(grid: ResizeGrid, dilation: int, kernel: int) -> tuple[torch.Tensor, ...]:
    """One axis of the least-squares fit, E picking the original's tap rows of the grid:
    G = pinv(taps) E (fit = G_h w G_w^T), and F, P with ||F x|| = ||(I - Q) E x|| and
    ||P x|| = ||Q E x|| for every x (Q = taps pinv(taps)), rows only for their nonzero singular
    values (F has none when the resize-conv can hold every kernel of this axis)."""
    taps = torch.tensor(resize_matrix(grid), dtype=torch.float64)
    rows = grid.start + dilation * torch.arange(kernel)
    pinv = torch.linalg.pinv(taps)
    inside = taps @ pinv[:, rows]  # Q E
    outside = torch.eye(grid.rows, dtype=torch.float64)[:, rows] - inside  # (I - Q) E
    return pinv[:, rows], _row_factor(outside), _row_factor(inside)


def _row_factor(matrix: torch.Tensor) -> torch.Tensor:
    """diag(S) V^T of matrix = U S V^T, without the rows of (numerically) zero singular values:
    ||factor @ x|| = ||matrix @ x|| for every x, with as few rows as the matrix's rank."""
    _, values, vt = torch.linalg.svd(matrix, full_matrices=False)
    tolerance = values.max() * max(matrix.shape) * torch.finfo(torch.float64).eps
    keep = values > tolerance
    return values[keep, None] * vt[keep]


def _ratio(difference: float, reference: float) -> float:
    if reference == 0:
        return 0.0 if difference == 0 else math.inf
    return difference / reference


def _probe_window(config: TransposedConv) -> list[tuple[int, int]]:
    """Per axis (first, size): the input pixels first .. first + PROBE_INTERIOR - 1 of an input
    of `size` pixels have their whole response inside the output, and s outputs more.

    Input i reaches outputs i*s - p .. i*s - p + d(k-1) of (n-1)*s - 2p + d(k-1) + op + 1: all
    of them inside when ceil(p/s) <= i <= n - 1 - ceil((p - op)/s). One more input pixel at the
    end leaves room for s outputs more after each response: there a sub-pixel module has the
    slots past the original's span that must hold zeros, and a wrong one shows."""
    window = []
    for p, s, op in zip(config.padding, config.stride, config.output_padding, strict=True):
        first = -(-p // s)
        window.append((first, first + PROBE_INTERIOR + max(0, -(-(p - op) // s)) + 1))
    return window


def _probed_error(layer: nn.ConvTranspose2d, module: nn.Module, config: TransposedConv) -> float:
    """sqrt(sum ||Ax - Bx||^2 / sum ||Ax||^2) for a few random float64 inputs x (see
    `replace_conv_transpose`): an estimate of ||K_A - K_B|| / ||K_A||, rounding when B = A.

    A is F.conv_transpose2d with the layer's weight, B the module's own forward run on float64
    copies of its parameters and buffers (torch.func.functional_call: no copy of either module);
    B's bias is removed by subtracting its response to a zero input, run in the same batch."""
    (first_h, size_h), (first_w, size_w) = _probe_window(config)
    generator = torch.Generator().manual_seed(PROBE_SEED)
    noise = torch.randn(
        PROBE_BATCH,
        config.in_channels,
        PROBE_INTERIOR,
        PROBE_INTERIOR,
        generator=generator,
        dtype=torch.float64,
    )
    x = noise.new_zeros(1 + PROBE_BATCH, config.in_channels, size_h, size_w)
    x[1:, :, first_h : first_h + PROBE_INTERIOR, first_w : first_w + PROBE_INTERIOR] = noise
    state = {
        name: tensor.detach().to("cpu", torch.float64)
        for name, tensor in (*module.named_parameters(), *module.named_buffers())
    }
    with torch.no_grad():
        a = nn.functional.conv_transpose2d(
            x[1:],
            layer.weight.detach().to("cpu", torch.float64),
            None,
            config.stride,
            config.padding,
            config.output_padding,
            config.groups,
            config.dilation,
        )
        b = torch.func.functional_call(module, state, (x,))
        b = b[1:] - b[:1]
    if a.shape != b.shape:
        return math.inf
    return _ratio((a - b).norm().item(), a.norm().item())


# ---------------------------------------------------------------------------------------------
# Fusing nearest Upsample + Conv2d into one ConvTranspose2d


def _integer_scale(upsample: nn.Upsample) -> tuple[int, int]:
    if upsample.size is not None or upsample.scale_factor is None:
        raise ConfigError(
            "upsample",
            "the upsampling must be given by scale_factor, not size: a fixed output "
            "size is not a transposed convolution for every input",
        )
    factors = upsample.scale_factor
    if not isinstance(factors, (tuple, list)):
        factors = (factors, factors)
    if len(factors) != 2:
        raise ConfigError("upsample", f"scale_factor must have 2 values for 2D, got {factors}")
    scale = []
    for f in factors:
        if isinstance(f, bool) or not float(f).is_integer() or f < 1:
            raise ConfigError(
                "scale_factor",
                f"scale_factor must be a whole number >= 1 on both axes to fuse, "
                f"got {upsample.scale_factor}: use 2, 3, ...",
            )
        scale.append(int(f))
    return scale[0], scale[1]


def _conv_padding(conv: nn.Conv2d) -> tuple[tuple[int, int], tuple[int, int]]:
    """(before, after) per axis, as the conv pads its input (strings resolved)."""
    if conv.padding == "valid":
        return (0, 0), (0, 0)
    if conv.padding == "same":
        pads = []
        for k, d in zip(conv.kernel_size, conv.dilation, strict=True):
            total = d * (k - 1)
            pads.append((total // 2, total - total // 2))
        return pads[0], pads[1]
    return (conv.padding[0],) * 2, (conv.padding[1],) * 2


def fuse_resize_conv(upsample: nn.Upsample, conv: nn.Conv2d) -> nn.ConvTranspose2d:
    """The ConvTranspose2d that equals conv(upsample(x)) exactly, borders included.

    Nearest upsampling by an integer s copies each input pixel into an s x s block, and a
    stride-1 Conv2d (kernel k, dilation d) of that is a stride-s transposed convolution with
    kernel d(k-1) + s whose taps are the flipped conv kernel summed over s-wide boxes. The fused
    layer needs about 1/s^2 of the upsampled image's memory and (d(k-1)+s)^2 / (s^2 k^2) of the
    multiply-adds. Same device and dtype as `conv`. ConfigError for anything else: other modes,
    non-integer or size-based upsampling, strided convs, padding_mode other than 'zeros'.
    """
    if not isinstance(upsample, nn.Upsample):
        raise ConfigError(
            "upsample", f"upsample must be an nn.Upsample, got {type(upsample).__name__}"
        )
    if not isinstance(conv, nn.Conv2d):
        raise ConfigError("conv", f"conv must be an nn.Conv2d, got {type(conv).__name__}")
    if upsample.mode not in ("nearest", "nearest-exact"):
        raise ConfigError(
            "mode",
            f"only nearest upsampling fuses into a ConvTranspose2d exactly, got mode "
            f"{upsample.mode!r}: use replace_conv_transpose's least-squares fit the other way, "
            "or train with mode='nearest'",
        )
    sh, sw = _integer_scale(upsample)
    if conv.padding_mode != "zeros":
        raise ConfigError(
            "padding_mode",
            f"conv padding_mode {conv.padding_mode!r} cannot be fused: a "
            "transposed convolution pads with zeros only; use padding_mode='zeros'",
        )
    if tuple(conv.stride) != (1, 1):
        raise ConfigError("stride", f"conv stride must be 1 to fuse, got {tuple(conv.stride)}")
    (kh, kw), (dh, dw) = conv.kernel_size, conv.dilation
    pad_h, pad_w = _conv_padding(conv)
    g = conv.groups
    spans = (dh * (kh - 1) + sh, dw * (kw - 1) + sw)  # the fused kernel, per axis
    # Input pixel i reaches upsampled pixels i*s + a (a < s), which conv tap j carries to output
    # i*s + a + before - j*d: a transposed conv tap t = a + d*(k-1-j) with padding d(k-1) - before.
    flipped = conv.weight.detach().flip(-2, -1)
    kernel = flipped.new_zeros(*flipped.shape[:2], *spans)
    for a in range(sh):
        for b in range(sw):
            kernel[:, :, a : a + dh * (kh - 1) + 1 : dh, b : b + dw * (kw - 1) + 1 : dw] += flipped
    axes = []  # (zeros before, zeros after, padding, output_padding) per axis
    for (before, after), s, d, k in zip((pad_h, pad_w), (sh, sw), (dh, dw), (kh, kw), strict=True):
        padding = d * (k - 1) - before
        lead = max(0, -padding)  # torch refuses negative padding: zero taps instead
        output_padding = after - before
        tail = lead
        if output_padding >= s:  # torch needs output_padding < stride: zero taps instead
            tail += output_padding
            output_padding = 0
        axes.append((lead, tail, padding + lead, output_padding))
    kernel = nn.functional.pad(kernel, (axes[1][0], axes[1][1], axes[0][0], axes[0][1]))
    weight = regroup(kernel, g)  # (out, in/g, ...) -> (in, out/g, ...): regroup is an involution
    fused = nn.ConvTranspose2d(
        conv.in_channels,
        conv.out_channels,
        tuple(weight.shape[2:]),
        stride=(sh, sw),
        padding=(axes[0][2], axes[1][2]),
        output_padding=(axes[0][3], axes[1][3]),
        groups=g,
        bias=conv.bias is not None,
        device=conv.weight.device,
        dtype=conv.weight.dtype,
    )
    with torch.no_grad():
        fused.weight.copy_(weight)
        if conv.bias is not None:
            fused.bias.copy_(conv.bias)
    return fused
