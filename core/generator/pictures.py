"""Generator outputs as pictures: contrast normalisation, uint8, grids and zoomed crops."""

from __future__ import annotations

import math

import numpy as np


def _channels_last_rgb(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, H, W, 3); one channel is repeated."""
    arr = np.moveaxis(images, 1, -1)
    return np.repeat(arr, 3, axis=-1) if arr.shape[-1] == 1 else arr


def contrast_normalise(images: np.ndarray) -> np.ndarray:
    """Stretch each image's 0.5..99.5 percentile range to 0..255: uint8 (N, H, W, 3).

    Random-weight generators make faint images; stretching each one makes the pattern visible.

    Args:
        images: float (N, C, H, W), C = 1 or 3.

    Returns:
        uint8 (N, H, W, 3).
    """
    rgb = _channels_last_rgb(np.asarray(images, dtype=np.float64))
    low = np.percentile(rgb, 0.5, axis=(1, 2, 3), keepdims=True)
    high = np.percentile(rgb, 99.5, axis=(1, 2, 3), keepdims=True)
    span = np.where(high - low > 1e-12, high - low, 1.0)
    scaled = np.where(high - low > 1e-12, (rgb - low) / span, 0.5)
    return np.clip(np.round(scaled * 255), 0, 255).astype(np.uint8)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Generator outputs in [-1, 1] (clipped) as uint8 (N, H, W, 3), without stretching.

    Args:
        images: float (N, C, H, W), C = 1 or 3.

    Returns:
        uint8 (N, H, W, 3): -1 -> 0, 1 -> 255.
    """
    rgb = _channels_last_rgb(np.asarray(images, dtype=np.float64))
    return np.clip(np.round((rgb + 1) * 127.5), 0, 255).astype(np.uint8)


def image_grid(images: np.ndarray, columns: int | None = None, gap: int = 2) -> np.ndarray:
    """Tile uint8 (N, H, W, 3) images into one uint8 array, `gap` mid-grey pixels apart.

    Args:
        images: uint8 (N, H, W, 3).
        columns: pictures per row (None: about square).
        gap: pixels between pictures.

    Returns:
        uint8 (rows * H + gaps, columns * W + gaps, 3).
    """
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    columns = max(1, min(columns, n))
    rows = math.ceil(n / columns)
    grid = np.full(
        (rows * h + (rows - 1) * gap, columns * w + (columns - 1) * gap, c), 128, dtype=np.uint8
    )
    for i in range(n):
        r, col = divmod(i, columns)
        grid[r * (h + gap) : r * (h + gap) + h, col * (w + gap) : col * (w + gap) + w] = images[i]
    return grid


def zoomed_crop(image: np.ndarray, crop_size: int, zoom: int) -> tuple[np.ndarray, tuple]:
    """A centred crop_size square of a uint8 (H, W, 3) image, enlarged `zoom` times (nearest).

    Nearest enlargement keeps pixels sharp.

    Args:
        image: uint8 (H, W, 3).
        crop_size: side of the square, in pixels (at most the image's).
        zoom: enlargement factor.

    Returns:
        (crop, (top, left, height, width)): the enlarged crop and where it is in the image.
    """
    h, w = image.shape[:2]
    ch, cw = min(crop_size, h), min(crop_size, w)
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = image[top : top + ch, left : left + cw]
    return np.repeat(np.repeat(crop, zoom, axis=0), zoom, axis=1), (top, left, ch, cw)
