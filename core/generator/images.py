"""Target images for fit mode: a procedural default scene and safe decoding of user uploads.

Pillow and numpy only (no torch). Every image leaves here as a uint8 array of shape (H, W, 3).
Uploads are checked before decoding (byte size, format signature, pixel count from the header)
so that a hostile file cannot make the hosted demo decode a decompression bomb.
"""

from __future__ import annotations

import io
import numbers
import re
import struct
import warnings
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import ConfigError
from core.hosted import MAX_RESOLUTION, cap_note

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # 10 MiB of file data
MAX_UPLOAD_PIXELS = 25_000_000  # width * height as read from the file header, before decoding
MAX_UPLOAD_MEGAPIXELS = MAX_UPLOAD_PIXELS // 1_000_000
ACCEPTED_FORMATS = ("PNG", "JPEG", "MPO")  # MPO: the multi-picture JPEG some cameras write

# Leading bytes of formats users commonly try, so a refusal can say what the file was.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"8BPS", "PSD"),
    (b"PK\x03\x04", "ZIP archive"),
)

SizeLike = int | Sequence[int]


def _size(size: SizeLike, parameter: str = "size") -> tuple[int, int]:
    """(height, width) from an int or a pair, each within 1..MAX_RESOLUTION."""
    values = (size, size) if isinstance(size, numbers.Integral) else size
    if (
        isinstance(size, (bool, str, bytes))
        or not isinstance(values, Sequence)
        or len(values) != 2
        or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in values)
    ):
        raise ConfigError(parameter, f"{parameter} must be an int or (height, width), got {size!r}")
    h, w = int(values[0]), int(values[1])
    if not (1 <= h <= MAX_RESOLUTION and 1 <= w <= MAX_RESOLUTION):
        raise ConfigError(
            parameter,
            f"{parameter} {h}x{w} is outside the range: use 1 to {MAX_RESOLUTION} pixels per "
            f"side ({cap_note('resolution')})",
        )
    return h, w


def default_target(size: SizeLike = 64) -> np.ndarray:
    """A procedural landscape (sky gradient, soft sun, hills, house, fence): uint8 (H, W, 3).

    It mixes smooth gradients, where checkerboard artifacts stand out, with sharp edges and a
    fine periodic fence, which a generator must work to reproduce. Deterministic, no download.

    Args:
        size: an int for a square image, or (height, width); 1 to MAX_RESOLUTION per side.

    Returns:
        The image, uint8 (H, W, 3).

    Raises:
        ConfigError: (parameter "size") for anything else.

    Example:
        >>> image = default_target((24, 40))
        >>> image.shape, image.dtype
        ((24, 40, 3), dtype('uint8'))
    """
    h, w = _size(size)
    ss = 4 if max(h, w) <= 128 else 2  # supersampling for anti-aliased edges, bounded work
    y, x = np.mgrid[0 : h * ss, 0 : w * ss].astype(np.float64)
    y = (y + 0.5) / (h * ss)  # 0 at the top, 1 at the bottom
    x = (x + 0.5) / (w * ss)
    img = np.empty((h * ss, w * ss, 3))

    # Sky: deep blue at the top to a warm haze at the horizon.
    t = np.clip(y / 0.62, 0, 1)[..., None]
    img[:] = (1 - t) * np.array([0.16, 0.30, 0.62]) + t * np.array([0.98, 0.78, 0.55])

    # Sun: a disc with a soft glow (smooth radial falloff).
    r = np.hypot(x - 0.74, y - 0.26)
    glow = np.exp(-((r / 0.16) ** 2))[..., None] * 0.45
    img = img + glow * np.array([1.0, 0.85, 0.4])
    img[r < 0.085] = [1.0, 0.93, 0.55]

    # Far hill (smooth shading) and near hill (darker, sharper silhouette).
    far = 0.58 - 0.10 * np.sin(2.2 * np.pi * x + 0.6) * np.exp(-((x - 0.3) ** 2) / 0.08)
    shade = np.clip((y - far) / 0.4, 0, 1)[..., None]
    far_colour = (1 - shade) * np.array([0.36, 0.58, 0.42]) + shade * np.array([0.18, 0.36, 0.24])
    img = np.where((y > far)[..., None], far_colour, img)
    near = 0.74 + 0.06 * np.cos(3.1 * np.pi * x)
    grass = 0.30 + 0.25 * (1 - np.clip((y - near) / 0.3, 0, 1))
    near_colour = np.stack([0.35 * grass, grass + 0.15, 0.25 * grass], axis=-1)
    img = np.where((y > near)[..., None], near_colour, img)

    # House: walls, a triangular roof and two windows (straight and diagonal edges).
    walls = (x > 0.18) & (x < 0.42) & (y > 0.52) & (y < 0.80)
    img[walls] = [0.88, 0.84, 0.74]
    roof = (y <= 0.52) & (y > 0.36) & (np.abs(x - 0.30) < (y - 0.36) * 0.95)
    img[roof] = [0.70, 0.16, 0.12]
    for x0 in (0.22, 0.33):
        window = (x > x0) & (x < x0 + 0.06) & (y > 0.58) & (y < 0.66)
        img[window] = [0.20, 0.28, 0.40]
    door = (x > 0.28) & (x < 0.33) & (y > 0.68) & (y < 0.80)
    img[door] = [0.35, 0.22, 0.12]

    # Fence: thin posts and a rail in front of the near hill (fine periodic detail).
    posts = (y > 0.84) & (y < 0.94) & (np.mod(x * 14, 1.0) < 0.22)
    rail = (y > 0.87) & (y < 0.89)
    img[posts | rail] = [0.95, 0.95, 0.92]

    img = img.reshape(h, ss, w, ss, 3).mean(axis=(1, 3))
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def _describe_format(data: bytes) -> str:
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "HEIC/AVIF"
    head = data[:256].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml")) or b"<svg" in head:
        return "SVG"
    return f"unrecognised data (starts with {data[:8]!r})"


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Any decoded Pillow image as uint8 (H, W, 3); transparency is composited over white."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        gray = np.clip(np.round(values / top * 255), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def _shrink(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Box-reduce a decoded image to no less than twice the target size, before any conversion.

    A small PNG can declare millions of zero pixels (zlib packs them about 1000:1); the
    conversions in `_to_rgb` copy the image several times (float64 for 16-bit), so reducing
    first keeps one upload's memory near its decoded size instead of several times it.
    """
    factor = min(image.width // (2 * target[1]), image.height // (2 * target[0]))
    if factor < 2:
        return image
    if image.mode.startswith("I;16"):
        image = image.convert("I")
    elif image.mode == "1":
        image = image.convert("L")
    elif image.mode in ("P", "PA"):
        image = image.convert("RGBA")
    return image.reduce(factor)


def resize_cover(image: np.ndarray, size: SizeLike) -> np.ndarray:
    """Centre-crop a uint8 (H, W, 3) array to the target aspect ratio, then resize (Lanczos)."""
    th, tw = _size(size)
    h, w = image.shape[:2]
    if (h, w) == (th, tw):
        return image
    # Largest centred box with the target's aspect ratio.
    if w * th > h * tw:
        cw, ch = max(1, round(h * tw / th)), h
    else:
        cw, ch = w, max(1, round(w * th / tw))
    top, left = (h - ch) // 2, (w - cw) // 2
    box = Image.fromarray(np.ascontiguousarray(image[top : top + ch, left : left + cw]))
    return np.asarray(box.resize((tw, th), Image.Resampling.LANCZOS), dtype=np.uint8).copy()


def prepare_target(image: np.ndarray, size: SizeLike) -> np.ndarray:
    """A caller's target array as uint8 (H, W, 3) at `size`.

    Accepts uint8 or float (0..1) arrays, shaped (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)
    (alpha is dropped). Raises ConfigError (parameter "target_image") for anything else.
    """
    if not isinstance(image, np.ndarray):
        raise ConfigError(
            "target_image",
            f"target_image must be a numpy array (H, W, 3), got {type(image).__name__}: "
            "use core.generator.images.default_target or load_upload",
        )
    arr = image[..., None] if image.ndim == 2 else image
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ConfigError(
            "target_image", f"target_image must have shape (H, W, 3), got {image.shape}"
        )
    if arr.shape[0] * arr.shape[1] > MAX_UPLOAD_PIXELS:
        raise ConfigError(
            "target_image",
            f"target_image has {arr.shape[0] * arr.shape[1]} pixels: at most "
            f"{MAX_UPLOAD_PIXELS} are accepted",
        )
    arr = arr[..., :3]
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    if arr.dtype == np.uint8:
        rgb = arr
    elif np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer):
        values = arr.astype(np.float64)
        if not np.isfinite(values).all():
            raise ConfigError("target_image", "target_image contains NaN or infinite values")
        scale = 255.0 if np.issubdtype(arr.dtype, np.floating) and values.max() <= 1.0 else 1.0
        rgb = np.clip(np.round(values * scale), 0, 255).astype(np.uint8)
    else:
        raise ConfigError("target_image", f"target_image must hold numbers, got dtype {arr.dtype}")
    return resize_cover(np.ascontiguousarray(rgb), size)


def _too_large(size: str) -> str:
    """The refusal for an image over the pixel cap, naming the cap and the fix."""
    return (
        f"the image is {size}: uploads are limited to {MAX_UPLOAD_MEGAPIXELS} megapixels "
        f"({MAX_UPLOAD_PIXELS:,} pixels, e.g. 5000x5000); resize it below "
        f"{MAX_UPLOAD_MEGAPIXELS} megapixels and upload again (the generator uses at most "
        f"{MAX_RESOLUTION}x{MAX_RESOLUTION})"
    )


def load_upload(data: bytes, size: SizeLike = 64) -> np.ndarray:
    """Decode an uploaded PNG or JPEG into a uint8 (H, W, 3) array at `size` (cover + crop).

    The file is checked before it is decoded (size, signature, pixel count from the header), so
    a hostile upload cannot make the hosted demo decode a decompression bomb.

    Args:
        data: the file's bytes (bytearray and memoryview are taken too).
        size: the wanted size: an int for a square image, or (height, width).

    Returns:
        The image, uint8 (H, W, 3), centre-cropped to the aspect ratio of `size` and resized.

    Raises:
        ConfigError: (parameter "upload") for non-bytes, empty files, files over
            MAX_UPLOAD_BYTES, anything that is not PNG/JPEG, images over MAX_UPLOAD_PIXELS
            (checked from the header before decoding) and truncated or corrupt files.

    Example:
        >>> buffer = io.BytesIO()
        >>> Image.new("RGB", (40, 30), (255, 0, 0)).save(buffer, format="PNG")
        >>> image = load_upload(buffer.getvalue(), size=16)
        >>> image.shape, image[0, 0].tolist()
        ((16, 16, 3), [255, 0, 0])
        >>> load_upload(b"GIF89a...")
        Traceback (most recent call last):
        ...
        core.errors.ConfigError: upload must be a PNG or JPEG image; got GIF
    """
    target = _size(size)
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise ConfigError("upload", f"upload must be the file's bytes, got {type(data).__name__}")
    if not data:
        raise ConfigError("upload", "the uploaded file is empty: choose a PNG or JPEG image")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ConfigError(
            "upload",
            f"the upload is {len(data) / 2**20:.2f} MiB: the limit is "
            f"{MAX_UPLOAD_BYTES // 2**20} MiB; save a smaller PNG or JPEG",
        )
    kind = _describe_format(data)
    if kind not in ("PNG", "JPEG"):
        raise ConfigError("upload", f"upload must be a PNG or JPEG image; got {kind}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=["PNG", "JPEG"])
            if image.format not in ACCEPTED_FORMATS:
                raise ConfigError(
                    "upload", f"upload must be a PNG or JPEG image; got {image.format}"
                )
            width, height = image.size
            if width < 1 or height < 1:
                raise ConfigError(
                    "upload",
                    f"the image is {width}x{height} pixels, which is empty: re-export it and "
                    "upload again",
                )
            if width * height > MAX_UPLOAD_PIXELS:
                raise ConfigError("upload", _too_large(f"{width}x{height} pixels"))
            if image.format in ("JPEG", "MPO"):
                # Let libjpeg decode at a reduced scale that still covers the target size.
                image.draft("RGB", (target[1] * 2, target[0] * 2))
            image.load()
            image = _shrink(image, target)
            image = ImageOps.exif_transpose(image)
            rgb = _to_rgb(image)
    except ConfigError:
        raise
    except UnidentifiedImageError as exc:
        raise ConfigError(
            "upload",
            f"the file starts like a {kind} image but its header is corrupt or cut short; "
            "re-export it and upload again",
        ) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow refuses huge headers before we can read the size; say it in our own terms.
        declared = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(declared.group(1)):,} pixels" if declared else "too many pixels"
        if kind == "PNG" and data[12:16] == b"IHDR":  # the PNG header holds the two sides
            width, height = struct.unpack(">II", data[16:24])
            size = f"{width}x{height} pixels"
        raise ConfigError("upload", _too_large(size)) from None
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, zlib errors...
        raise ConfigError(
            "upload",
            f"the {kind} file could not be decoded (truncated or corrupt: {exc}); "
            "re-export it and upload again",
        ) from exc
    return resize_cover(rgb, target)
