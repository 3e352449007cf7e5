"""A transposed convolution as a scatter, frame by frame: which input pixel lands where.

Input pixel (i, j) adds a copy of the all-ones kernel to the output: tap (m, n) lands on output
row i*s_h + m*d_h - p_h and column j*s_w + n*d_w - p_w (Dumoulin & Visin 2016, "A guide to
convolution arithmetic for deep learning"). Taking the input pixels one at a time, row-major,
the counts build up to the overlap map (`core.overlap.counts.overlap_map`).

The counts are kept on a *canvas*: the output before the padding crop, in output coordinates
(canvas row r is output row r - p_h; rows < 0 or >= the output size are cropped away). It spans
the uncropped scatter and the kept output, whichever reaches further (output_padding can extend
the output past the last tap). numpy only: the data of `ui.figures.overlap.scatter_animation`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import ConfigError
from core.geometry.layer import Axis, TransposedConv
from core.geometry.output_size import output_size

MAX_ANIMATION_INPUT = 8  # input pixels per axis (8 x 8 = 64 frames)
MAX_ANIMATION_CANVAS = 64  # canvas pixels per axis
WAITING, DONE, CURRENT = 0, 1, 2  # states of an input pixel in a frame
_FLAT = Axis(1, 1, 0, 0, 1)  # the H axis of a 1D layer: one row, nothing happens along it


@dataclass(frozen=True)
class ScatterFrame:
    """One step of the scatter: an input pixel added, and the counts so far.

    Attributes:
        pixel: (row, column) of the input pixel scattered in this frame; None for the first
            frame (nothing scattered yet).
        tap_rows: output rows its kernel taps land on, one per kernel row (output
            coordinates: negative or >= the output size means cropped away); empty for the
            first frame.
        tap_cols: output columns its kernel taps land on, one per kernel column.
        inputs: (input rows, input columns) int array: WAITING, DONE or CURRENT per input pixel.
        counts: the canvas's running counts (int64), after this frame's pixel.
    """

    pixel: tuple[int, int] | None
    tap_rows: np.ndarray
    tap_cols: np.ndarray
    inputs: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True)
class Scatter:
    """Every frame of a layer's scatter, and where its canvas sits in the output.

    Attributes:
        axes: (H axis, W axis); a 1D layer's H axis is the trivial Axis(1, 1, 0, 0, 1).
        one_d: whether the layer was given as 1D (one input row).
        input_size: (input rows, input columns).
        output_size: (output rows, output columns), as torch computes them.
        rows: the output row of each canvas row (starts at -padding along H).
        cols: the output column of each canvas column.
        frames: 1 + input pixels frames: the empty start, then one per input pixel, row-major.
    """

    axes: tuple[Axis, Axis]
    one_d: bool
    input_size: tuple[int, int]
    output_size: tuple[int, int]
    rows: np.ndarray
    cols: np.ndarray
    frames: tuple[ScatterFrame, ...]

    def kept(self, counts: np.ndarray) -> np.ndarray:
        """The part of canvas counts that the padding crop keeps: the output itself.

        Args:
            counts: a frame's counts (the canvas's shape).

        Returns:
            The (output rows, output columns) window of `counts`; for the last frame it equals
            `overlap_map` of the layer.
        """
        top, left = (a.padding for a in self.axes)
        return counts[top : top + self.output_size[0], left : left + self.output_size[1]]


def scatter_axes(layer: TransposedConv | Axis | Sequence[Axis]) -> tuple[Axis, Axis, bool]:
    """(H axis, W axis, is 1D) of a layer given as a TransposedConv, one Axis or 1-2 Axis.

    Args:
        layer: a 1D or 2D `TransposedConv`, one `Axis` (1D), or a sequence of 1 or 2 `Axis`.

    Returns:
        The H and W axes (a 1D layer gets the trivial H axis) and whether it is 1D.

    Raises ConfigError for anything else or a 3D layer.
    """
    if isinstance(layer, TransposedConv):
        axes = layer.axes
    elif isinstance(layer, Axis):
        axes = (layer,)
    elif isinstance(layer, Sequence) and all(isinstance(a, Axis) for a in layer):
        axes = tuple(layer)
    else:
        raise ConfigError(
            "layer",
            "scatter_animation takes a TransposedConv, an Axis or a list of Axis (H, W), got "
            f"{type(layer).__name__}",
        )
    if len(axes) == 1:
        return _FLAT, axes[0], True
    if len(axes) != 2:
        raise ConfigError("ndim", f"the scatter animation draws 1D or 2D layers, got {len(axes)}D")
    return axes[0], axes[1], False


def _sizes(one_d: bool, input_size: int | Sequence[int]) -> int | Sequence[int]:
    """The input size per axis (H, W) as given: a 1D layer has one input row."""
    if one_d:
        single = isinstance(input_size, Sequence) and len(input_size) == 1
        return (1, input_size[0] if single else input_size)
    return (input_size, input_size) if isinstance(input_size, numbers.Integral) else input_size


def _canvas(axes: Sequence[Axis], sizes: Sequence[int], out: Sequence[int]) -> list[int]:
    """Canvas pixels per axis: the uncropped scatter or padding + output, the larger; capped."""
    canvas = []
    for a, n, o in zip(axes, sizes, out, strict=True):
        full = (n - 1) * a.stride + a.span
        canvas.append(max(full, a.padding + o))
    if max(canvas) > MAX_ANIMATION_CANVAS:
        raise ConfigError(
            "kernel_size",
            f"the animation canvas would be {canvas[0]} x {canvas[1]} pixels; it is capped at "
            f"{MAX_ANIMATION_CANVAS} per axis: use a smaller kernel, stride, dilation or input",
        )
    return canvas


def taps(axis: Axis, i: int) -> np.ndarray:
    """Output positions (output coordinates) that input position `i` reaches along one axis.

    Args:
        axis: the axis's kernel_size, stride, padding and dilation.
        i: the input position.

    Returns:
        i*s + m*d - p for each kernel tap m (int64, kernel_size entries).
    """
    return (
        i * axis.stride
        + np.arange(axis.kernel_size, dtype=np.int64) * axis.dilation
        - (axis.padding)
    )


def scatter_frames(
    layer: TransposedConv | Axis | Sequence[Axis], input_size: int | Sequence[int]
) -> Scatter:
    """The scatter of an all-ones input through an all-ones kernel, one input pixel per frame.

    Args:
        layer: a 1D or 2D `TransposedConv`, one `Axis` (1D) or a sequence of 1 or 2 `Axis`.
        input_size: an int (every axis) or one per axis; at most `MAX_ANIMATION_INPUT` per axis.

    Returns:
        A `Scatter`: frame t holds input pixel t (row-major, t >= 1), the output positions of its
        taps and the running counts; the last frame's `Scatter.kept` counts equal `overlap_map`.

    Raises ConfigError for a layer or input torch refuses, more than `MAX_ANIMATION_INPUT`
    input pixels per axis, or a canvas over `MAX_ANIMATION_CANVAS` pixels per axis.
    """
    ax_h, ax_w, one_d = scatter_axes(layer)
    sizes = _sizes(one_d, input_size)
    plane = TransposedConv.make(
        1,
        1,
        (ax_h.kernel_size, ax_w.kernel_size),
        (ax_h.stride, ax_w.stride),
        (ax_h.padding, ax_w.padding),
        (ax_h.output_padding, ax_w.output_padding),
        dilation=(ax_h.dilation, ax_w.dilation),
    )
    out = output_size(plane, sizes)
    n_h, n_w = (int(v) for v in sizes)
    if max(n_h, n_w) > MAX_ANIMATION_INPUT:
        raise ConfigError(
            "input_size",
            f"the scatter animation shows at most {MAX_ANIMATION_INPUT} x {MAX_ANIMATION_INPUT} "
            f"input pixels (one frame each), got {n_h} x {n_w}: use a smaller input_size for "
            f"the animation (the heatmap shows any size)",
        )
    canvas = _canvas((ax_h, ax_w), (n_h, n_w), out)
    counts = np.zeros(canvas, dtype=np.int64)
    inputs = np.full((n_h, n_w), WAITING, dtype=np.int64)
    none = np.zeros(0, dtype=np.int64)
    frames = [ScatterFrame(None, none, none, inputs.copy(), counts.copy())]
    for ih in range(n_h):
        for iw in range(n_w):
            rows, cols = taps(ax_h, ih), taps(ax_w, iw)
            counts[np.ix_(rows + ax_h.padding, cols + ax_w.padding)] += 1
            inputs[inputs == CURRENT] = DONE
            inputs[ih, iw] = CURRENT
            frames.append(ScatterFrame((ih, iw), rows, cols, inputs.copy(), counts.copy()))
    return Scatter(
        axes=(ax_h, ax_w),
        one_d=one_d,
        input_size=(n_h, n_w),
        output_size=(int(out[0]), int(out[1])),
        rows=np.arange(canvas[0], dtype=np.int64) - ax_h.padding,
        cols=np.arange(canvas[1], dtype=np.int64) - ax_w.padding,
        frames=tuple(frames),
    )
