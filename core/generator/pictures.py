"""Generator outputs as pictures: contrast normalisation, uint8, grids and zoomed crops."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.errors import ConfigError
from core.generator.config import int_in


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


def enlarge(image: np.ndarray, zoom: int) -> np.ndarray:
    """A uint8 (H, W, 3) picture enlarged `zoom` times by repeating pixels (nearest neighbour):
    every pixel becomes a zoom x zoom block, so the pixels stay sharp and countable.

    Args:
        image: uint8 (H, W, 3) (or (H, W)).
        zoom: a whole factor, at least 1.

    Returns:
        uint8 (H * zoom, W * zoom, 3).
    """
    if isinstance(zoom, bool) or not isinstance(zoom, int) or zoom < 1:
        raise ConfigError("zoom", f"zoom must be a whole number of at least 1, got {zoom!r}")
    return np.repeat(np.repeat(np.asarray(image), zoom, axis=0), zoom, axis=1)


def placeholder(image_size: tuple[int, int], zoom: int) -> np.ndarray:
    """A mid-grey uint8 (H * zoom, W * zoom, 3) picture: the place a picture will take, so that
    the page keeps its layout until the picture arrives.

    Args:
        image_size: (height, width) of the picture to come.
        zoom: its enlargement.

    Returns:
        The grey picture.
    """
    h, w = (int(v) for v in image_size)
    return np.full((h * zoom, w * zoom, 3), 128, dtype=np.uint8)


# The live generator's page lays its variants out in columns of a page of about this many pixels
# (a 1440 px window with the sidebar open, less the page's margins), and never draws a picture
# wider than a phone's column (the columns stack below 640 px).
PAGE_WIDTH = 900
COLUMN_GAP = 16
PHONE_WIDTH = 340
GRID_GAP = 2  # grey pixels between the pictures of a grid
GRID_HEIGHT = 360  # a grid taller than this is accepted only when no grid fits otherwise
CROP_ZOOM = 8  # a crop's pixels: 8 x 8 screen pixels each, large enough to count
MAX_ZOOM = 32  # the largest enlargement of anything (a 4 x 4 picture: 128 px)


def column_width(columns: int, page_width: int = PAGE_WIDTH, gap: int = COLUMN_GAP) -> int:
    """The widest picture (pixels) that fits one of `columns` side-by-side columns of the page,
    and a phone's full width.

    Args:
        columns: how many columns share the page's width, at least 1.
        page_width: the page's width in pixels.
        gap: pixels between columns.

    Returns:
        The width in pixels, at most `PHONE_WIDTH`.
    """
    columns = max(1, int(columns))
    return max(1, min(PHONE_WIDTH, (page_width - gap * (columns - 1)) // columns))


@dataclass(frozen=True)
class PicturePlan:
    """How a column shows a variant's pictures at whole-number zooms no wider than `width`."""

    width: int
    """The widest a picture may be, in screen pixels."""
    side: int
    """The pictures' larger side, in their pixels."""
    columns: int
    """Pictures per row of the grid: a divisor of the number of pictures (no blank tile)."""
    rows: int
    """Rows of the grid: pictures / columns."""
    grid_zoom: int
    """How many times the grid's pictures are enlarged."""
    crop_size: int
    """Side of the square crop of picture 1, in its pixels."""
    crop_zoom: int
    """How many times the crop is enlarged."""
    image_zoom: int
    """How many times one picture alone is enlarged (a fit's final picture and its frames)."""

    @property
    def grid_width(self) -> int:
        """The grid's width in screen pixels: its pictures and gaps, all enlarged."""
        return self.grid_zoom * (self.columns * self.side + (self.columns - 1) * GRID_GAP)


def squarest_columns(n: int) -> int:
    """The divisor of n closest to a square grid (the wider one on a tie): columns for n
    pictures that leave no blank tile, e.g. 4 for 8 (2 rows), 3 for 6, 1 for 7.

    Args:
        n: the number of pictures, at least 1.

    Returns:
        The columns.
    """
    return min((abs(n // c - c), -c) for c in range(1, n + 1) if n % c == 0)[1] * -1


def _grid_choice(n: int, side: int, width: int, height: int) -> tuple[int, int]:
    """(columns, zoom) of the grid: a divisor of n as columns, the largest whole zoom that keeps
    it within width and height; ties go to the squarer grid. Where no divisor keeps it within
    both, the shortest grid within the width at zoom 1; where none fits the width either, the
    squarest at zoom 1 (the browser shrinks it)."""
    options = []  # (columns, rows, largest zoom by width, largest zoom by height)
    for columns in (c for c in range(1, n + 1) if n % c == 0):
        rows = n // columns
        by_width = width // (columns * side + GRID_GAP * (columns - 1))  # gaps enlarge too
        by_height = height // (rows * side + GRID_GAP * (rows - 1))
        options.append((columns, rows, by_width, by_height))
    fitting = [
        (min(bw, bh, MAX_ZOOM), -abs(r - c), c) for c, r, bw, bh in options if min(bw, bh) >= 1
    ]
    if fitting:
        zoom, _, columns = max(fitting)
        return columns, zoom
    within_width = [(r, c) for c, r, bw, _ in options if bw >= 1]
    if within_width:
        return min(within_width)[1], 1
    return min((abs(r - c), c) for c, r, _, _ in options)[1], 1


def picture_plan(
    image_size: tuple[int, int], n_images: int, width: int, height: int = GRID_HEIGHT
) -> PicturePlan:
    """How to show `n_images` pictures of `image_size` in a column `width` pixels wide: a grid
    without blank tiles at a whole zoom, a crop of picture 1 at `CROP_ZOOM` (or more, for small
    pictures), and the zoom of one picture alone; no zoom above `MAX_ZOOM`.

    Args:
        image_size: (height, width) of the pictures.
        n_images: how many pictures the grid shows, at least 1.
        width: the widest a picture may be on screen, pixels (e.g. `column_width`).
        height: the tallest the grid should be, pixels (exceeded only when nothing else fits).

    Returns:
        The `PicturePlan`.
    """
    n = int_in("n_images", n_images, 1, 1 << 16)
    width = int_in("width", width, 1, 1 << 16)
    h, w = (int(v) for v in image_size)
    side = max(h, w)
    columns, grid_zoom = _grid_choice(n, side, width, height)
    crop = min(side, max(1, width // CROP_ZOOM))
    return PicturePlan(
        width=width,
        side=side,
        columns=columns,
        rows=n // columns,
        grid_zoom=grid_zoom,
        crop_size=crop,
        crop_zoom=min(MAX_ZOOM, max(1, width // crop)),
        image_zoom=min(MAX_ZOOM, max(1, width // side)),
    )
