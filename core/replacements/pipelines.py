"""Each pipeline as pictures: a transposed convolution and its replacements, stage by stage.

The transposed convolution is drawn the way the convolution-arithmetic guide draws it (Dumoulin &
Visin 2016): the input's pixels spread s apart with s - 1 zeros between them, d(k - 1) - p cells of
padding before and d(k - 1) - p + op after (a negative amount is a crop), and the flipped kernel
sliding over that canvas with dilation d, filling the output cell by cell. A replacement is drawn
as it runs: a resize-convolution upsamples (nearest copies, or bilinear/bicubic mixes), pads or
crops, and slides its own kernel; the sub-pixel convolution slides at the input's resolution,
each step writing a block of s_h x s_w output cells after the shuffle; zero insertion is the
gather view with its own padding.

Everything is one channel, per axis separable, and bounded: only a window of at most
`MAX_SHOWN` output cells per axis is computed and drawn (`Pipeline.window_note` says which), so a
256-pixel input costs no more than a small one. The values are exact: the output stage equals
torch's `conv_transpose2d` (or the replacement module) on the same input and kernel, restricted to
the window. numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import ConfigError
from core.geometry.layer import Axis, TransposedConv
from core.geometry.output_size import input_tuple, output_size
from core.replacements import registry
from core.replacements.plan import (
    BICUBIC_A,
    resize_geometry,
    subpixel_axis,
    zero_insertion_axis,
)
from core.replacements.registry import Method

MAX_SHOWN = 12  # output cells per axis drawn and animated (12 x 12 = 144 frames at most)
CONV_TRANSPOSE = "conv-transpose"

# Cell roles, as drawn.
INPUT = "input"  # an input pixel
ZERO = "zero"  # a zero inserted between input pixels
PAD = "pad"  # padding
CROP = "crop"  # cropped away (a negative padding): drawn, not part of the canvas
COPY = "copy"  # a nearest-upsampled copy of an input pixel
MIX = "mix"  # an interpolated value (bilinear, bicubic)
PHASE = "phase"  # a sub-pixel phase output at the input's resolution
OUTPUT = "output"
ROLES = (INPUT, ZERO, PAD, CROP, COPY, MIX, PHASE, OUTPUT)


@dataclass(frozen=True)
class Span:
    """A labelled run of cells along one axis of a stage, e.g. `pad 2` or `input 4`."""

    start: int
    stop: int  # exclusive
    label: str


@dataclass(frozen=True)
class Stage:
    """One stage of a pipeline as a grid of cells (one channel).

    `values` and `roles` are (rows, columns) arrays over the cells drawn; cell (0, 0) is at
    `origin` in the stage's own coordinates (negative where cropped cells are drawn before the
    canvas). `sources` holds, per cell, the input pixel (row, column) it copies or holds, or
    (-1, -1). `spans` label runs of cells per axis (H, W).
    """

    name: str
    values: np.ndarray
    roles: np.ndarray  # object array of ROLES
    origin: tuple[int, int]
    spans: tuple[tuple[Span, ...], tuple[Span, ...]]
    size: tuple[int, int]  # the whole stage's size (beyond the window)
    sources: np.ndarray  # (rows, columns, 2) int


@dataclass(frozen=True)
class Step:
    """One position of the sliding kernel: its top-left cell on the canvas stage, and the output
    cells that position writes (one for a stride-1 convolution, a block for sub-pixel)."""

    at: tuple[int, int]
    writes: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Pipeline:
    """A whole pipeline: its stages in order (the last is the output), the stage the kernel slides
    over (`canvas`), the kernel as it slides (flipped, for the gather view), its dilation, the
    steps in order (one animation frame each), the alignment offset of its output grid against
    the transposed convolution's (output pixels, H and W; 0 for exact pipelines), and which part
    of the output is shown."""

    method: str
    title: str
    stages: tuple[Stage, ...]
    canvas: int
    kernel: np.ndarray
    dilation: tuple[int, int]
    steps: tuple[Step, ...]
    offset: tuple[float, float]
    window_note: str

    @property
    def output(self) -> np.ndarray:
        """The output values of the window, after the last step."""
        return self.stages[-1].values

    def filled(self, frame: int) -> np.ndarray:
        """Output values after the first `frame` steps (NaN where not written yet)."""
        out = np.full(self.output.shape, np.nan)
        origin = self.stages[-1].origin
        for step in self.steps[:frame]:
            for r, c in step.writes:
                out[r - origin[0], c - origin[1]] = self.output[r - origin[0], c - origin[1]]
        return out

    def tap_cells(self, trace: Trace) -> tuple[tuple[tuple[int, int], tuple[int, int]], ...]:
        """Where the kernel taps that carry a traced cell's inputs sit on the canvas stage.

        Args:
            trace: `trace_output` of this pipeline's method for a cell of its window.

        Returns:
            One (tap, cell) per tap of the trace with a non-zero weight: the tap as the trace
            names it (the layer's own w[j] for the gather view, whose kernel slides flipped; the
            pipeline's conv's otherwise) and the canvas cell, in the canvas stage's coordinates,
            it covers when the kernel sits at the step that writes the traced cell. Empty when
            no step writes the cell (outside the window) or no input reaches it.
        """
        cell = tuple(trace.cell)
        step = next((step for step in self.steps if cell in step.writes), None)
        if step is None:
            return ()
        (kh, kw), (dh, dw) = self.kernel.shape, self.dilation
        found = []
        for jh, jw in sorted({term.tap for term in trace.terms if term.weight != 0}):
            ph, pw = (kh - 1 - jh, kw - 1 - jw) if self.method == CONV_TRANSPOSE else (jh, jw)
            found.append(((jh, jw), (step.at[0] + ph * dh, step.at[1] + pw * dw)))
        return tuple(found)


# ------------------------------------------------------------------------------------ one axis


@dataclass(frozen=True)
class _Lane:
    """One axis of one stage: the cells drawn (stage coordinates), each one's role and the weights
    with which it holds the input pixels (a row of an n-column matrix)."""

    cells: tuple[int, ...]
    roles: tuple[str, ...]
    weights: np.ndarray  # (len(cells), n)
    size: int
    spans: tuple[Span, ...]


def _selection(n: int, sources: Sequence[int | None]) -> np.ndarray:
    matrix = np.zeros((len(sources), n))
    for row, i in enumerate(sources):
        if i is not None:
            matrix[row, i] = 1.0
    return matrix


def _input_lane(n: int, cells: Sequence[int]) -> _Lane:
    return _Lane(
        tuple(cells),
        (INPUT,) * len(cells),
        _selection(n, list(cells)),
        n,
        (Span(0, n, f"input {n}"),),
    )


def _pad_label(amount: int, what: str = "pad") -> str:
    return f"{what} {amount}" if amount >= 0 else f"crop {-amount}"


def _spread_label(n: int, stride: int) -> str:
    """'input 3 + 2×2 zeros': n pixels and the s - 1 zeros inserted in each of the n - 1 gaps."""
    if stride == 1 or n == 1:
        return f"input {n}"
    return f"input {n} + {n - 1}×{stride - 1} zeros"


def _gather_lane(axis: Axis, n: int, before: int, after: int, shown: int) -> _Lane:
    """The zero-inserted, padded canvas of one axis: (n - 1)s + 1 samples, `before` cells of
    padding before and `after` after (negative: cropped, drawn before/after the canvas)."""
    s = axis.stride
    dilated = (n - 1) * s + 1
    size = dilated + before + after
    last = min(size, shown + axis.dilation * (axis.kernel_size - 1))
    cells = range(min(0, before), max(last, 0) + max(0, -after) * (last >= size))
    roles, sources = [], []
    for c in cells:
        q = c - before  # the dilated input's index
        inside = 0 <= c < size
        if not 0 <= q < dilated:
            roles.append(PAD if inside else CROP)
            sources.append(None)
        elif q % s:
            roles.append(ZERO if inside else CROP)
            sources.append(None)
        else:
            roles.append(INPUT if inside else CROP)
            sources.append(q // s)
    spans = [Span(min(0, before), max(0, before), _pad_label(before))]
    spans.append(
        Span(max(0, before), max(0, before) + dilated + min(0, before), _spread_label(n, s))
    )
    op = axis.output_padding
    label = _pad_label(after) if not op or after < op else f"pad {after - op} + op {op}"
    spans.append(Span(size - max(0, after), size - min(0, after), label))
    live = [span for span in spans if span.stop > span.start]
    return _Lane(tuple(cells), tuple(roles), _selection(n, sources), size, tuple(live))


def _interpolation_row(mode: str, scale: int, n: int, u: int) -> np.ndarray:
    """How upsampled pixel u mixes the n input pixels, as torch's interpolate computes it
    (align_corners=False): nearest copies u // scale; bilinear clamps the source coordinate at 0
    and the right neighbour at n - 1; bicubic clamps every index to the border."""
    row = np.zeros(n)
    if mode == "nearest":
        row[min(u // scale, n - 1)] = 1.0
        return row
    src = (u + 0.5) / scale - 0.5
    if mode == "bilinear":
        src = max(src, 0.0)
        i0 = min(math.floor(src), n - 1)
        i1 = min(i0 + 1, n - 1)
        t = src - i0
        row[i0] += 1 - t
        row[i1] += t
        return row
    i0 = math.floor(src)
    t = src - i0
    a = BICUBIC_A
    coefficients = (
        ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
        ((a + 2) * t - (a + 3)) * t * t + 1,
        ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
        ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a,
    )
    for offset, weight in zip(range(-1, 3), coefficients, strict=True):
        row[min(max(i0 + offset, 0), n - 1)] += weight
    return row


def _resize_lanes(
    mode: str, scale: int, n: int, kernel: int, dilation: int, before: int, after: int, shown: int
) -> tuple[_Lane, _Lane]:
    """(upsampled, padded canvas) lanes of one axis of Upsample(scale) + pad + conv."""
    up = scale * n
    size = up + before + after
    last = min(size, shown + dilation * (kernel - 1))
    canvas_cells = range(min(0, before), max(last, 0) + max(0, -after) * (last >= size))
    role = COPY if mode == "nearest" else MIX
    rows, roles = [], []
    for c in canvas_cells:
        u = c - before
        inside = 0 <= c < size
        if 0 <= u < up:
            rows.append(_interpolation_row(mode, scale, n, u))
            roles.append(role if inside else CROP)
        else:
            rows.append(np.zeros(n))
            roles.append(PAD if inside else CROP)
    spans = [Span(min(0, before), max(0, before), _pad_label(before))]
    spans.append(Span(max(0, before), max(0, before) + up + min(0, before), f"upsampled {up}"))
    spans.append(Span(size - max(0, after), size - min(0, after), _pad_label(after)))
    canvas = _Lane(
        tuple(canvas_cells),
        tuple(roles),
        np.array(rows).reshape(len(rows), n),
        size,
        tuple(s for s in spans if s.stop > s.start),
    )
    needed = [c - before for c, r in zip(canvas_cells, roles, strict=True) if r != PAD]
    ups = range(max(0, min(needed, default=0)), min(up, max(needed, default=-1) + 1))
    upsampled = _Lane(
        tuple(ups),
        (role,) * len(ups),
        np.array([_interpolation_row(mode, scale, n, u) for u in ups]).reshape(len(ups), n),
        up,
        (Span(0, up, f"{n} x {scale} = {up}"),),
    )
    return upsampled, canvas


def _inputs_read(lanes: Sequence[_Lane], n: int) -> list[int]:
    """The input pixels any of these lanes' cells hold (a window of the input to draw)."""
    used = np.zeros(n, dtype=bool)
    for lane in lanes:
        used |= np.abs(lane.weights).sum(axis=0) > 0
    found = np.flatnonzero(used)
    if not len(found):
        return [0]
    return list(range(int(found.min()), int(found.max()) + 1))


# ------------------------------------------------------------------------------------ 2D stages


def _stage(name: str, h: _Lane, w: _Lane, image: np.ndarray, role: str | None = None) -> Stage:
    values = h.weights @ image @ w.weights.T
    roles = np.empty((len(h.cells), len(w.cells)), dtype=object)
    sources = np.full((len(h.cells), len(w.cells), 2), -1, dtype=np.int64)
    for r, role_h in enumerate(h.roles):
        for c, role_w in enumerate(w.roles):
            roles[r, c] = role or _combine(role_h, role_w)
            ih, iw = np.flatnonzero(h.weights[r]), np.flatnonzero(w.weights[c])
            if len(ih) == 1 and len(iw) == 1 and roles[r, c] in (INPUT, COPY):
                sources[r, c] = (ih[0], iw[0])
    return Stage(
        name,
        values,
        roles,
        (h.cells[0] if h.cells else 0, w.cells[0] if w.cells else 0),
        (h.spans, w.spans),
        (h.size, w.size),
        sources,
    )


_PRIORITY = (CROP, PAD, ZERO, MIX, COPY, INPUT, PHASE, OUTPUT)


def _combine(a: str, b: str) -> str:
    """A cell's role from its row's and its column's: the weaker wins (a pad row pads)."""
    return min(a, b, key=_PRIORITY.index)


def _output_lane(size: int, shown: int) -> _Lane:
    cells = range(min(size, shown))
    note = f"output {size}" if size <= shown else f"output 0..{shown - 1} of {size}"
    return _Lane(tuple(cells), (OUTPUT,) * len(cells), np.zeros((len(cells), 0)), size,
                 (Span(0, len(cells), note),))  # fmt: skip


def _slide(
    canvas: Stage, kernel: np.ndarray, dilation: tuple[int, int], shown: tuple[int, int]
) -> np.ndarray:
    """out[o] = sum_j canvas[o + j*d] * kernel[j] (a stride-1 correlation), over the window."""
    (kh, kw), (dh, dw) = kernel.shape, dilation
    oh, ow = canvas.origin
    out = np.zeros(shown)
    for jh in range(kh):
        for jw in range(kw):
            rows = slice(jh * dh - oh, jh * dh - oh + shown[0])
            cols = slice(jw * dw - ow, jw * dw - ow + shown[1])
            out += canvas.values[rows, cols] * kernel[jh, jw]
    return out


def _output_stage(values: np.ndarray, sizes: tuple[int, int], shown: tuple[int, int]) -> Stage:
    h, w = _output_lane(sizes[0], shown[0]), _output_lane(sizes[1], shown[1])
    roles = np.full(values.shape, OUTPUT, dtype=object)
    return Stage(
        "output", values, roles, (0, 0), (h.spans, w.spans), sizes,
        np.full((*values.shape, 2), -1, dtype=np.int64),
    )  # fmt: skip


def _raster(shown: tuple[int, int]) -> tuple[Step, ...]:
    return tuple(Step((r, c), ((r, c),)) for r in range(shown[0]) for c in range(shown[1]))


def _window_note(out: tuple[int, int], shown: tuple[int, int]) -> str:
    if out == shown:
        return f"the whole {out[0]} x {out[1]} output, cell by cell"
    return (
        f"output rows 0..{shown[0] - 1} and columns 0..{shown[1] - 1} of {out[0]} x {out[1]} "
        f"(a window of at most {MAX_SHOWN} x {MAX_SHOWN} cells; the pattern repeats)"
    )


# ------------------------------------------------------------------------------------ pipelines


def _check(
    layer: TransposedConv, input_size: int | Sequence[int], image, kernel
) -> tuple[TransposedConv, tuple[int, int], np.ndarray, np.ndarray]:
    if not isinstance(layer, TransposedConv) or layer.ndim != 2:
        raise ConfigError("layer", "layer must be a 2D core.TransposedConv (ConvTranspose2d)")
    sizes = input_tuple(layer, input_size)
    output_size(layer, sizes)  # ConfigError where torch refuses
    image = np.ones(sizes) if image is None else np.asarray(image, dtype=np.float64)
    kernel = np.ones(layer.kernel_size) if kernel is None else np.asarray(kernel, dtype=np.float64)
    if image.shape != sizes:
        raise ConfigError("image", f"image must have the input size {sizes}, got {image.shape}")
    if kernel.shape != layer.kernel_size:
        raise ConfigError(
            "kernel", f"kernel must have the layer's size {layer.kernel_size}, got {kernel.shape}"
        )
    return layer, sizes, image, kernel


def gather_pipeline(
    layer: TransposedConv,
    input_size: int | Sequence[int],
    image: np.ndarray | None = None,
    kernel: np.ndarray | None = None,
    method: str = CONV_TRANSPOSE,
) -> Pipeline:
    """The transposed convolution as an ordinary convolution over the zero-inserted, padded input.

    Args:
        layer: a 2D `TransposedConv` (one channel is drawn; channels and groups do not change
            the geometry).
        input_size: the input's (H, W).
        image: the input values (default: ones, so that every output cell counts the
            (input pixel, kernel tap) pairs that reach it: the overlap map).
        kernel: the layer's (kh, kw) kernel (default: ones). It slides flipped.
        method: `CONV_TRANSPOSE` (the layer itself) or "zero-insertion" (the exact replacement
            that runs this very computation: the same cells, its own name).

    Returns:
        A `Pipeline`: input -> zeros inserted and padded (or cropped) -> output, one step per
        output cell of the window.

    Example:
        >>> layer = TransposedConv.make(1, 1, 3, stride=2, padding=1)
        >>> gather_pipeline(layer, 2).output.tolist()  # k3 s2: the counts alternate 1, 2
        [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    layer, sizes, image, kernel = _check(layer, input_size, image, kernel)
    out = output_size(layer, sizes)
    shown = (min(out[0], MAX_SHOWN), min(out[1], MAX_SHOWN))
    lanes = []
    for axis, n, m in zip(layer.axes, sizes, shown, strict=True):
        z = zero_insertion_axis(axis)
        before = z.conv_padding + z.extra_before
        after = z.conv_padding + z.extra_after
        lanes.append(_gather_lane(axis, n, before, after, m))
    inputs = [_inputs_read([lane], n) for lane, n in zip(lanes, sizes, strict=True)]
    canvas = _stage("zeros + padding", lanes[0], lanes[1], image)
    flipped = kernel[::-1, ::-1]
    values = _slide(canvas, flipped, layer.dilation, shown)
    title = (
        "ConvTranspose2d as a convolution (gather view)"
        if method == CONV_TRANSPOSE
        else "zero insertion + Conv2d (exact)"
    )
    stages = (
        _stage("input", _input_lane(sizes[0], inputs[0]), _input_lane(sizes[1], inputs[1]), image),
        canvas,
        _output_stage(values, out, shown),
    )
    return Pipeline(
        method, title, stages, 1, flipped, layer.dilation, _raster(shown), (0.0, 0.0),
        _window_note(out, shown),
    )  # fmt: skip


def resize_pipeline(
    layer: TransposedConv,
    input_size: int | Sequence[int],
    mode: str = "nearest",
    image: np.ndarray | None = None,
    conv_kernel: np.ndarray | None = None,
    kernel_size: Sequence[int] | None = None,
) -> Pipeline:
    """Upsample(s) + pad (or crop) + Conv2d with the geometry `core.replacements.plan` gives.

    Args:
        layer: the 2D `TransposedConv` it replaces.
        input_size: the input's (H, W).
        mode: "nearest", "bilinear" or "bicubic" (torch's interpolate, align_corners=False).
        image: the input values (default: ones).
        conv_kernel: the Conv2d's kernel (default: ones, of the matched size).
        kernel_size: the Conv2d's kernel size (default: `plan.matched_kernel`).

    Returns:
        A `Pipeline`: input -> upsampled -> padded -> output, reaching the layer's output size,
        with the alignment offset of its grid.
    """
    layer, sizes, image, _ = _check(layer, input_size, image, None)
    geometry = resize_geometry(layer, mode, kernel_size)
    kernel_shape = (geometry[0].kernel_size, geometry[1].kernel_size)
    conv_kernel = (
        np.ones(kernel_shape) if conv_kernel is None else np.asarray(conv_kernel, dtype=np.float64)
    )
    if conv_kernel.shape != kernel_shape:
        raise ConfigError(
            "conv_kernel", f"conv_kernel must be {kernel_shape}, got {conv_kernel.shape}"
        )
    out = output_size(layer, sizes)
    shown = (min(out[0], MAX_SHOWN), min(out[1], MAX_SHOWN))
    ups, canvases = [], []
    for g, n, m in zip(geometry, sizes, shown, strict=True):
        up, canvas = _resize_lanes(
            mode, g.scale, n, g.kernel_size, g.dilation, g.pad_before, g.pad_after, m
        )
        ups.append(up)
        canvases.append(canvas)
    inputs = [_inputs_read([c], n) for c, n in zip(canvases, sizes, strict=True)]
    canvas = _stage("padded", canvases[0], canvases[1], image)
    values = _slide(canvas, conv_kernel, layer.dilation, shown)
    stages = (
        _stage("input", _input_lane(sizes[0], inputs[0]), _input_lane(sizes[1], inputs[1]), image),
        _stage("upsampled", ups[0], ups[1], image),
        canvas,
        _output_stage(values, out, shown),
    )
    title = f"{mode} x{_pair_text(layer.stride)} + Conv2d {kernel_shape[0]}x{kernel_shape[1]}"
    return Pipeline(
        f"resize-{mode}", title, stages, 2, conv_kernel, layer.dilation, _raster(shown),
        (geometry[0].offset, geometry[1].offset), _window_note(out, shown),
    )  # fmt: skip


def _pair_text(values: Sequence[int]) -> str:
    return str(values[0]) if values[0] == values[1] else f"({values[0]}, {values[1]})"


def subpixel_kernels(layer: TransposedConv, kernel: np.ndarray) -> np.ndarray:
    """The sub-pixel Conv2d's kernels, one per output phase: (s_h, s_w, K_h, K_w), tap j of the
    original at phase (j*d) % s and position reach - (j*d) // s (one channel)."""
    h, w = (subpixel_axis(a) for a in layer.axes)
    (sh, sw), (dh, dw) = layer.stride, layer.dilation
    phases = np.zeros((sh, sw, h.kernel_size, w.kernel_size))
    for jh in range(layer.kernel_size[0]):
        for jw in range(layer.kernel_size[1]):
            phases[jh * dh % sh, jw * dw % sw, h.reach - jh * dh // sh, w.reach - jw * dw // sw] = (
                kernel[jh, jw]
            )
    return phases


def subpixel_pipeline(
    layer: TransposedConv,
    input_size: int | Sequence[int],
    image: np.ndarray | None = None,
    kernel: np.ndarray | None = None,
) -> Pipeline:
    """Conv2d at the input's resolution (one kernel per output phase) + pixel shuffle + crop.

    Returns a `Pipeline`: input -> padded input (the canvas) -> output; each step is one
    position of the kernel at the input's resolution and writes the block of output cells its
    s_h x s_w phases land on (after the crop). `kernel` is the original layer's kernel (default
    ones); `subpixel_kernels` spreads it over the phases.
    """
    layer, sizes, image, kernel = _check(layer, input_size, image, kernel)
    out = output_size(layer, sizes)
    shown = (min(out[0], MAX_SHOWN), min(out[1], MAX_SHOWN))
    axes = [subpixel_axis(a) for a in layer.axes]
    phases = subpixel_kernels(layer, kernel)
    lanes = []
    for ax, n, m in zip(axes, sizes, shown, strict=True):
        last_block = (ax.crop_before + m - 1) // ax.stride  # conv output row of the last cell
        cells = range(0, min(n + 2 * ax.conv_padding, last_block + ax.kernel_size))
        sources = [c - ax.conv_padding if 0 <= c - ax.conv_padding < n else None for c in cells]
        roles = tuple(PAD if s is None else INPUT for s in sources)
        spans = [
            Span(0, ax.conv_padding, _pad_label(ax.conv_padding)),
            Span(ax.conv_padding, ax.conv_padding + n, f"input {n}"),
            Span(ax.conv_padding + n, n + 2 * ax.conv_padding, _pad_label(ax.conv_padding)),
        ]
        lanes.append(
            _Lane(tuple(cells), roles, _selection(n, sources), n + 2 * ax.conv_padding,
                  tuple(s for s in spans if s.stop > s.start))
        )  # fmt: skip
    canvas = _stage("padded input", lanes[0], lanes[1], image)
    values = np.zeros(shown)
    steps = []
    (sh, sw), (kh, kw) = layer.stride, phases.shape[2:]
    blocks = [
        range((ax.crop_before + m - 1) // ax.stride + 1) for ax, m in zip(axes, shown, strict=True)
    ]
    for bh in blocks[0]:
        for bw in blocks[1]:
            window = canvas.values[bh : bh + kh, bw : bw + kw]
            writes = []
            for a in range(sh):
                for b in range(sw):
                    r, c = bh * sh + a - axes[0].crop_before, bw * sw + b - axes[1].crop_before
                    if 0 <= r < shown[0] and 0 <= c < shown[1]:
                        values[r, c] = float((window * phases[a, b]).sum())
                        writes.append((r, c))
            if writes:
                steps.append(Step((bh, bw), tuple(writes)))
    inputs = [_inputs_read([lane], n) for lane, n in zip(lanes, sizes, strict=True)]
    stages = (
        _stage("input", _input_lane(sizes[0], inputs[0]), _input_lane(sizes[1], inputs[1]), image),
        canvas,
        _output_stage(values, out, shown),
    )
    title = f"sub-pixel Conv2d {kh}x{kw} + PixelShuffle({_pair_text(layer.stride)}) (exact)"
    return Pipeline(
        "subpixel", title, stages, 1, phases.sum(axis=(0, 1)), (1, 1), tuple(steps), (0.0, 0.0),
        _window_note(out, shown),
    )  # fmt: skip


def zero_insertion_view(
    record: Method, layer: TransposedConv, input_size, image=None, kernel=None
) -> Pipeline:
    """The zero-insertion replacement's pipeline: the gather view under its own name."""
    return gather_pipeline(layer, input_size, image, kernel, record.name)


def subpixel_view(record: Method, layer: TransposedConv, input_size, image=None, kernel=None):
    """The sub-pixel replacement's pipeline (`subpixel_pipeline`)."""
    return subpixel_pipeline(layer, input_size, image, kernel)


def resize_view(record: Method, layer: TransposedConv, input_size, image=None, kernel=None):
    """A resize-convolution's pipeline, its mode from its record; `kernel` is the Conv2d's."""
    return resize_pipeline(layer, input_size, record.resize_mode or "nearest", image, kernel)


def pipeline(
    layer: TransposedConv,
    input_size: int | Sequence[int],
    method: str,
    image: np.ndarray | None = None,
    kernel: np.ndarray | None = None,
) -> Pipeline:
    """The pipeline of `method` for `layer` on `input_size`.

    Args:
        layer: a 2D `TransposedConv`.
        input_size: its input's (H, W).
        method: `CONV_TRANSPOSE` (the layer itself), or a method of
            `core.replacements.registry` (its record names the function that draws it).
        image: the input values (default: ones).
        kernel: the layer's kernel (default: ones); for a resize method the Conv2d's.

    Returns:
        The `Pipeline`, stage by stage.

    Raises:
        ConfigError: for an unknown method, a bad layer or input, or a resize method beyond its
            strides.

    Example:
        >>> layer = TransposedConv.make(1, 1, 4, stride=2, padding=1)
        >>> pipeline(layer, 3, "resize-nearest").title
        'nearest x2 + Conv2d 3x3'
    """
    if method == CONV_TRANSPOSE:
        return gather_pipeline(layer, input_size, image, kernel)
    record = registry.method(method)
    return registry.load(record.pipeline)(record, layer, input_size, image, kernel)


# ------------------------------------------------------------------------------------ tracing


@dataclass(frozen=True)
class Term:
    """One (input pixel, kernel tap) pair that reaches a traced output cell, with its weight (the
    interpolation weight for a resize-conv: how much of the input pixel the tap's cell holds)."""

    input: tuple[int, int]
    tap: tuple[int, int]
    weight: float


@dataclass(frozen=True)
class Trace:
    """Which input pixels and kernel taps reach one output cell, and the sum written out."""

    method: str
    cell: tuple[int, int]
    terms: tuple[Term, ...]
    value: float
    note: str = ""  # why no input pixel reaches the cell, where none does

    @property
    def inputs(self) -> set[tuple[int, int]]:
        """The input pixels that reach the cell (a term of weight 0 reads a pixel but carries
        nothing: a sub-pixel kernel slot that no tap of the original fills)."""
        return {term.input for term in self.terms if term.weight != 0}

    @property
    def taps(self) -> set[tuple[int, int]]:
        return {term.tap for term in self.terms}

    def equation(self, most: int = 12) -> str:
        """'out[1, 2] = x[0, 1]·w[2, 1] + ...' (the first `most` terms, the rest counted), or, for
        a cell no input pixel reaches, 'out[1, 1] = 0: no input pixel reaches this cell ...' with
        the reason (`note`)."""
        parts = []
        carried = [term for term in self.terms if term.weight != 0]
        for term in carried[:most]:
            weight = "" if term.weight == 1 else f"{term.weight:.3g}·"
            parts.append(
                f"{weight}x[{term.input[0]}, {term.input[1]}]·w[{term.tap[0]}, {term.tap[1]}]"
            )
        more = len(carried) - most
        text = " + ".join(parts) + (f" + {more} more" if more > 0 else "")
        r, c = self.cell
        if not parts:
            return f"out[{r}, {c}] = 0: {self.note or 'no input pixel reaches this cell'}"
        return f"out[{r}, {c}] = {text} = {self.value:.4g}"


def _axis_pairs(axis: Axis, n: int, o: int) -> list[tuple[int, int]]:
    """(input pixel i, tap j) with i*s + j*d - p = o along one axis of a transposed conv."""
    pairs = []
    for j in range(axis.kernel_size):
        q = o + axis.padding - j * axis.dilation
        if q % axis.stride == 0 and 0 <= q // axis.stride < n:
            pairs.append((q // axis.stride, j))
    return pairs


def _unreached(layer: TransposedConv, sizes, cell, per_axis, why) -> str:
    """The sentence for a cell no input pixel reaches: the first axis with no (input, tap) pair,
    and why (`why(axis, n, o)`), or "" where every axis has one."""
    for name, axis, n, o, found in zip("HW", layer.axes, sizes, cell, per_axis, strict=True):
        if not found:
            bias = ", only the bias" if layer.bias else ""
            return f"no input pixel reaches this cell{bias} ({why(axis, n, o)} on the {name} axis)"
    return ""


def _layer_gap(axis: Axis, n: int, o: int) -> str:
    """Why output o of one axis of a transposed conv gets no input: a phase of the stride that
    no tap lands on (a hole), or a cell past the last input's reach (output_padding)."""
    s, k, d, p = axis.stride, axis.kernel_size, axis.dilation, axis.padding
    phases = {j * d % s for j in range(k)}
    if (o + p) % s not in phases:
        if d == 1:
            return f"a hole in the layer: stride {s} > kernel {k}"
        return (
            f"a hole in the layer: {k} taps at dilation {d} land on {len(phases)} of stride {s}'s "
            f"{s} phases"
        )
    if o + p > (n - 1) * s + d * (k - 1):
        return "past the last input pixel's reach: output_padding adds it"
    return "before the first input pixel's reach"


def _resize_gap(axis: Axis, n: int, o: int) -> str:
    """Why a resize-convolution's output o gets no input: its conv window holds only padding."""
    return "the conv reads only padding here"


def trace_output(
    layer: TransposedConv,
    input_size: int | Sequence[int],
    cell: tuple[int, int],
    method: str = CONV_TRANSPOSE,
    image: np.ndarray | None = None,
    kernel: np.ndarray | None = None,
) -> Trace:
    """Which input pixels and which kernel taps reach output `cell` in `method`'s pipeline.

    Args:
        layer: a 2D `TransposedConv`.
        input_size: the input's (H, W).
        cell: the output cell (row, column).
        method: `CONV_TRANSPOSE` or a replacement method.
        image: the input values (default ones).
        kernel: the layer's kernel for the transposed convolution and its exact replacements,
            the Conv2d's kernel for a resize-conv (default ones).

    Returns:
        A `Trace`. For the transposed convolution the taps are the layer's own (w[j] carries
        input i to output i*s + j*d - p); for a replacement they are its Conv2d's: the flipped
        kernel for zero insertion, the phase kernel for sub-pixel, the conv after the upsampling
        for a resize-conv (each input pixel with its interpolation weight).

    Example:
        >>> layer = TransposedConv.make(1, 1, 3, stride=2, padding=1)
        >>> trace_output(layer, 4, (1, 1)).equation()
        'out[1, 1] = x[1, 1]·w[0, 0] + x[1, 0]·w[0, 2] + x[0, 1]·w[2, 0] + x[0, 0]·w[2, 2] = 4'
    """
    layer, sizes, image, _ = _check(layer, input_size, image, None)
    out = output_size(layer, sizes)
    if not all(0 <= c < o for c, o in zip(cell, out, strict=True)):
        raise ConfigError("cell", f"cell {cell} is outside the {out[0]} x {out[1]} output")
    record = None if method == CONV_TRANSPOSE else registry.method(method)
    if record is not None and record.resize_mode is not None:
        return _trace_resize(layer, sizes, tuple(cell), record, image, kernel)
    kernel = np.ones(layer.kernel_size) if kernel is None else np.asarray(kernel, dtype=float)
    pairs = [_axis_pairs(a, n, o) for a, n, o in zip(layer.axes, sizes, cell, strict=True)]
    value = sum(image[ih, iw] * kernel[jh, jw] for ih, jh in pairs[0] for iw, jw in pairs[1])
    taps = []  # each axis's (input, tap index in the pipeline's own kernel, weight)
    for axis, found, n, o in zip(layer.axes, pairs, sizes, cell, strict=True):
        if record is None:
            taps.append([(i, j, 1.0) for i, j in found])
        else:  # the record names how its conv holds the original's taps
            taps.append(registry.load(record.taps)(axis, n, o, found))
    terms = tuple(
        Term((ih, iw), (jh, jw), wh * ww) for ih, jh, wh in taps[0] for iw, jw, ww in taps[1]
    )
    note = _unreached(layer, sizes, cell, pairs, _layer_gap)
    return Trace(method, tuple(cell), terms, float(value), note)


AxisTaps = list[tuple[int, int, float]]  # (input pixel, tap of the pipeline's conv, weight)


def zero_insertion_taps(axis: Axis, n: int, o: int, pairs) -> AxisTaps:
    """Along one axis, zero insertion's taps that reach output o: its conv holds the flipped
    kernel, so the original's tap j is its tap k - 1 - j."""
    return [(i, axis.kernel_size - 1 - j, 1.0) for i, j in pairs]


def subpixel_slots(axis: Axis, n: int, o: int, pairs=None) -> AxisTaps:
    """Along one axis, the sub-pixel kernel slots of output o's phase that read an input pixel:
    (input, slot, 1.0) where a tap of the original sits in the slot, (input, slot, 0.0) where the
    layout leaves it empty (it reads the pixel and multiplies it by zero)."""
    ax = subpixel_axis(axis)
    t = o + ax.crop_before  # position in the shuffled output, before the crop
    phase, row = t % axis.stride, t // axis.stride
    filled = {
        ax.reach - j * axis.dilation // axis.stride
        for j in range(axis.kernel_size)
        if j * axis.dilation % axis.stride == phase
    }
    slots = []
    for r in range(ax.kernel_size):
        i = row + r - ax.conv_padding
        if 0 <= i < n:
            slots.append((i, r, 1.0 if r in filled else 0.0))
    return slots


def _trace_resize(
    layer: TransposedConv,
    sizes: tuple[int, int],
    cell: tuple[int, int],
    record: Method,
    image: np.ndarray,
    conv_kernel: np.ndarray | None,
) -> Trace:
    mode = record.resize_mode or "nearest"
    geometry = resize_geometry(layer, mode)
    shape = (geometry[0].kernel_size, geometry[1].kernel_size)
    conv_kernel = np.ones(shape) if conv_kernel is None else np.asarray(conv_kernel, dtype=float)
    per_axis = []
    for g, n, o in zip(geometry, sizes, cell, strict=True):
        found = []
        for j in range(g.kernel_size):
            u = o + j * g.dilation - g.pad_before
            if 0 <= u < g.scale * n:
                row = _interpolation_row(mode, g.scale, n, u)
                found += [(int(i), j, float(row[i])) for i in np.flatnonzero(row)]
        per_axis.append(found)
    terms = tuple(
        Term((ih, iw), (jh, jw), wh * ww)
        for ih, jh, wh in per_axis[0]
        for iw, jw, ww in per_axis[1]
    )
    value = sum(t.weight * image[t.input] * conv_kernel[t.tap] for t in terms)
    note = _unreached(layer, sizes, cell, per_axis, _resize_gap)
    return Trace(record.name, cell, terms, float(value), note)
