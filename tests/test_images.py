"""Fit-mode targets: the procedural default and uploads (accepted and refused)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from core.errors import ConfigError
from core.generator import images
from core.generator.images import default_target, load_upload, prepare_target


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height RGB pixels (no pixel data follows)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")


SCENE = Image.fromarray(default_target(96))


# ----------------------------------------------------------------------------- default target


@pytest.mark.parametrize("size", [1, 16, 64, (48, 80), 256])
def test_default_target_shape_and_determinism(size):
    a, b = default_target(size), default_target(size)
    expected = (size, size) if isinstance(size, int) else size
    assert a.shape == (*expected, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)


def test_default_target_has_smooth_regions_and_sharp_edges():
    image = default_target(128).astype(float).mean(axis=-1)
    gradient = np.hypot(*np.gradient(image))
    assert np.median(gradient) < 0.02 * gradient.max()  # mostly smooth (sky, hills)
    assert (gradient > 0.5 * gradient.max()).sum() >= 128  # edges: at least a line's worth
    assert len(np.unique(default_target(128).reshape(-1, 3), axis=0)) > 256  # gradients


@pytest.mark.parametrize("size", [0, images.MAX_RESOLUTION + 1, (64,), "64", 3.0, True])
def test_default_target_refuses_bad_sizes(size):
    with pytest.raises(ConfigError) as info:
        default_target(size)
    assert info.value.parameter == "size"


# ----------------------------------------------------------------------------- good uploads


@pytest.mark.parametrize(
    ("image", "fmt", "options"),
    [
        (SCENE, "PNG", {}),
        (SCENE, "JPEG", {"quality": 95}),
        (SCENE.convert("L"), "PNG", {}),
        (SCENE.convert("P"), "PNG", {}),
        (SCENE.convert("RGBA"), "PNG", {}),
        (SCENE.convert("L"), "JPEG", {}),
        (SCENE.convert("CMYK"), "JPEG", {}),
    ],
    ids=["png", "jpeg", "gray-png", "palette-png", "rgba-png", "gray-jpeg", "cmyk-jpeg"],
)
def test_png_and_jpeg_uploads_load_at_the_requested_size(image, fmt, options):
    loaded = load_upload(encode(image, fmt, **options), 64)
    assert loaded.shape == (64, 64, 3) and loaded.dtype == np.uint8
    # Same picture as resizing the original directly (JPEG and palettes lose a little).
    reference = np.asarray(SCENE.resize((64, 64), Image.Resampling.LANCZOS)).astype(float)
    if image.mode in ("L",):
        reference = np.repeat(reference.mean(axis=-1, keepdims=True), 3, axis=-1)
    assert np.abs(loaded.astype(float) - reference).mean() < 12


def test_upload_transparency_is_composited_on_white():
    image = Image.new("RGBA", (20, 20), (255, 0, 0, 0))  # fully transparent red
    loaded = load_upload(encode(image, "PNG"), 8)
    assert (loaded == 255).all()


def test_sixteen_bit_png_is_scaled_to_eight_bits():
    ramp = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)
    loaded = load_upload(encode(Image.fromarray(ramp), "PNG"), 32)
    assert loaded[0, 0, 0] <= 5 and loaded[-1, -1, 0] >= 250


def test_upload_is_centre_cropped_to_the_target_aspect():
    wide = np.zeros((40, 120, 3), dtype=np.uint8)
    wide[:, 40:80] = 255  # white middle third, black sides
    loaded = load_upload(encode(Image.fromarray(wide), "PNG"), (40, 40))
    assert loaded.shape == (40, 40, 3) and loaded.mean() > 240


def test_upload_accepts_bytearray_and_memoryview():
    data = encode(SCENE, "PNG")
    assert np.array_equal(load_upload(bytearray(data), 16), load_upload(memoryview(data), 16))


def test_large_jpeg_is_decoded_reduced_and_still_correct():
    big = SCENE.resize((2000, 1500))
    loaded = load_upload(encode(big, "JPEG", quality=90), 48)
    assert loaded.shape == (48, 48, 3)


# ----------------------------------------------------------------------------- refused uploads


def bad_uploads() -> dict[str, bytes]:
    png = encode(SCENE, "PNG")
    jpeg = encode(SCENE, "JPEG")
    return {
        "empty": b"",
        "garbage": bytes(range(256)) * 4,
        "text": b"hello, this is not an image",
        "gif": encode(SCENE.convert("P"), "GIF"),
        "bmp": encode(SCENE, "BMP"),
        "webp": encode(SCENE, "WEBP"),
        "tiff": encode(SCENE, "TIFF"),
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>',
        "truncated-png": png[: len(png) // 2],
        "png-signature-only": png[:8],
        "truncated-jpeg": jpeg[: len(jpeg) // 3],
        "jpeg-garbage": b"\xff\xd8\xff" + bytes(200),
        "huge-pixels": png_header_only(20_000, 20_000),
        "just-over-pixel-cap": png_header_only(5_001, 5_000),
        "huge-bytes": png + bytes(images.MAX_UPLOAD_BYTES),
        "zero-width": png_header_only(0, 10),
    }


@pytest.mark.parametrize("name", list(bad_uploads()))
def test_bad_uploads_are_refused_with_a_clear_config_error(name):
    data = bad_uploads()[name]
    pixel_cap_before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ConfigError) as info:
        load_upload(data, 64)
    assert info.value.parameter == "upload"
    assert pixel_cap_before == Image.MAX_IMAGE_PIXELS  # no global side effect
    message = info.value.message
    if name in ("gif", "bmp", "webp", "tiff", "svg", "garbage", "text"):
        assert "PNG or JPEG" in message and "got" in message
    if name == "gif":
        assert "GIF" in message
    if name.startswith("huge") or name.startswith("just-over"):
        assert "limit" in message or "at most" in message


@pytest.mark.parametrize(
    ("width", "height", "declared"),
    [
        (20_000, 20_000, "20000x20000 pixels"),  # Pillow's DecompressionBombError (> 179 MP)
        (12_000, 12_000, "12000x12000 pixels"),  # Pillow's DecompressionBombWarning (> 89 MP)
        (5_001, 5_000, "5001x5000 pixels"),  # our own header check (> 25 MP)
    ],
)
def test_oversized_images_get_the_apps_own_message(width, height, declared):
    """However the size is caught (Pillow's bomb guard or the app's header check), the user reads
    the app's cap and the fix, not Pillow's "decompression bomb DOS attack" text."""
    with pytest.raises(ConfigError) as info:
        load_upload(png_header_only(width, height), 64)
    message = info.value.message
    assert info.value.parameter == "upload"
    assert declared in message
    assert f"{images.MAX_UPLOAD_MEGAPIXELS} megapixels" in message
    assert "resize it below" in message
    assert "DOS" not in message and "bomb" not in message and "178956970" not in message
    assert info.value.__cause__ is None  # Pillow's exception is not chained into the report


def test_pixel_cap_is_checked_from_the_header_before_decoding():
    assert 5_001 * 5_000 > images.MAX_UPLOAD_PIXELS >= 5_000 * 5_000
    loaded_cap = png_header_only(5_000, 5_000)  # at the cap: passes the check, then no data
    with pytest.raises(ConfigError, match="could not be decoded"):
        load_upload(loaded_cap, 8)


@pytest.mark.parametrize("data", ["image.png", None, 42, [1, 2, 3]])
def test_non_bytes_uploads_are_refused(data):
    with pytest.raises(ConfigError) as info:
        load_upload(data, 64)
    assert info.value.parameter == "upload"


@pytest.mark.parametrize("size", [0, images.MAX_RESOLUTION + 1])
def test_upload_size_is_capped(size):
    with pytest.raises(ConfigError) as info:
        load_upload(encode(SCENE, "PNG"), size)
    assert info.value.parameter == "size"


# ----------------------------------------------------------------------------- prepare_target


def test_prepare_target_accepts_floats_and_gray_and_resizes():
    gray = np.linspace(0, 1, 30 * 50).reshape(30, 50)
    out = prepare_target(gray, 16)
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    assert np.array_equal(out[..., 0], out[..., 2])
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)
    assert prepare_target(rgba, 10).shape == (10, 10, 3)


@pytest.mark.parametrize(
    "bad", [np.zeros((4, 4, 2)), np.zeros(5), np.full((4, 4, 3), np.nan), np.zeros((0, 4, 3))]
)
def test_prepare_target_refuses_bad_arrays(bad):
    with pytest.raises(ConfigError) as info:
        prepare_target(bad, 8)
    assert info.value.parameter == "target_image"
