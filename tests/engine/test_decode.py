import io
from pathlib import Path
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import engine
from engine.decode import MAX_PIXELS, DecodeError, decode_image, estimate_jpeg_quality, verify_complete


def encode(array_or_image, fmt, **save) -> bytes:
    image = array_or_image if isinstance(array_or_image, Image.Image) else Image.fromarray(array_or_image)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt,save", [
    ("JPEG", {"quality": 90}), ("PNG", {}), ("WEBP", {"lossless": True}), ("BMP", {}), ("TIFF", {}),
    ("GIF", {}), ("AVIF", {"quality": 90}),
])
def test_every_supported_format_decodes_to_rgb_of_the_right_size(real_photo, fmt, save):
    data = encode(real_photo, fmt, **save)
    decoded = decode_image(data)
    assert decoded.format == fmt
    assert decoded.rgb.shape == real_photo.shape
    assert decoded.rgb.dtype == np.uint8
    # Lossless formats give the pixels back exactly; lossy ones stay close to the photo.
    error = np.abs(decoded.rgb.astype(int) - real_photo.astype(int)).mean()
    assert error == 0 if fmt in ("PNG", "WEBP", "BMP", "TIFF") else error < 25


def test_heic_decodes_through_the_decode_only_plugin():
    """HEIC has no encoder in the app (pi-heif decodes only), so the bundled sample is the fixture."""
    sample = next((Path(engine.__file__).parent / "samples").glob("*.heic"))
    decoded = decode_image(sample.read_bytes())
    assert decoded.format == "HEIF"
    assert decoded.rgb.shape == (decoded.height, decoded.width, 3) and decoded.rgb.std() > 10


@pytest.mark.parametrize("primary", [0, 1])
def test_a_heif_of_two_images_is_its_primary_image_not_an_animation(primary):
    """A spatial photo (iPhone, Vision Pro) holds each eye as an image: the primary one is what viewers show
    and what is scored, and the other is no unchecked frame that would make every such photo "uncertain"
    (a third package survey's phone photos did)."""
    import pillow_heif  # the encoder: training's dependency (the app only decodes)

    left, right = Image.new("RGB", (64, 48), (200, 30, 30)), Image.new("RGB", (64, 48), (30, 30, 200))
    pair = pillow_heif.from_pillow(left)
    pair.add_from_pillow(right)
    buffer = io.BytesIO()
    pair.save(buffer, quality=90, primary_index=primary)
    decoded = decode_image(buffer.getvalue())
    assert (decoded.format, decoded.animated) == ("HEIF", False)
    red, blue = decoded.rgb[24, 32, 0], decoded.rgb[24, 32, 2]
    assert (red > blue) == (primary == 0)


def test_gif_scans_its_first_frame():
    red = Image.new("RGB", (40, 30), (255, 0, 0))
    blue = Image.new("RGB", (40, 30), (0, 0, 255))
    buffer = io.BytesIO()
    red.save(buffer, format="GIF", save_all=True, append_images=[blue])
    decoded = decode_image(buffer.getvalue())
    assert tuple(decoded.rgb[0, 0]) == (255, 0, 0)


def test_exif_orientation_is_applied():
    array = np.zeros((20, 40, 3), np.uint8)
    array[:, :20] = 255  # left half white
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 clockwise to display
    decoded = decode_image(encode(image, "PNG", exif=exif))
    assert (decoded.height, decoded.width) == (40, 20) and decoded.orientation == 6
    assert decoded.shown[0, 10].mean() > 200 and decoded.shown[-1, 10].mean() < 50  # the white half is now on top
    assert np.array_equal(decoded.rgb, array)  # what the model scores: the pixels as stored


@pytest.mark.parametrize("mode", ["P", "L", "1", "CMYK", "RGBA", "LA", "I;16", "I", "F"])
def test_every_mode_becomes_rgb(real_photo, mode):
    image = Image.fromarray(real_photo)
    if mode == "I;16":
        grey = np.asarray(image.convert("L"), np.uint16) * 257
        image = Image.fromarray(grey)  # uint16 -> mode I;16
    else:
        image = image.convert(mode)
    fmt = "TIFF" if mode in ("CMYK", "I;16", "I", "F") else "PNG"
    decoded = decode_image(encode(image, fmt))
    assert decoded.mode == mode
    assert decoded.rgb.shape == real_photo.shape and decoded.rgb.dtype == np.uint8
    if mode in ("L", "I;16", "I", "F"):
        # Grey, and keeps the photo's tonal range rather than clipping it to black or white.
        assert np.array_equal(decoded.rgb[..., 0], decoded.rgb[..., 1])
        assert decoded.rgb.std() > 20


def test_transparent_pixels_are_composited_on_white():
    array = np.zeros((10, 10, 4), np.uint8)  # fully transparent black
    decoded = decode_image(encode(array, "PNG"))
    assert decoded.rgb.min() == 255


def test_jpeg_quality_is_estimated_from_the_quantisation_tables(real_photo):
    for quality in (50, 75, 90, 95):
        decoded = decode_image(encode(real_photo, "JPEG", quality=quality))
        assert abs(decoded.jpeg_quality - quality) <= 1
    assert decode_image(encode(real_photo, "PNG")).jpeg_quality is None


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])  # a WebP's read "the image header is damaged (could not ...)"
def test_a_truncated_file_gives_a_clear_error(real_photo, fmt):
    data = encode(real_photo, fmt, quality=90)
    with pytest.raises(DecodeError, match="^the image data is truncated: the file ends before the picture does$"):
        decode_image(data[: len(data) // 2])
    assert decode_image(data + b"\0" * 16).width == real_photo.shape[1]  # longer than declared: not cut short


@pytest.mark.parametrize("fmt", ["GIF", "TIFF", "PNG"])  # PNG with frames: an APNG
def test_an_animation_or_multi_page_file_is_whole_only_when_its_last_frame_is(fmt):
    """A download in progress: the first frame of a GIF is whole long before the file is (a third of it)."""
    rng = np.random.default_rng(1)
    frames = [Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)) for _ in range(4)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format=fmt, save_all=True, append_images=frames[1:], duration=100)
    data = buffer.getvalue()
    verify_complete(data)
    # Past the first frame, where a check of that frame alone passed; the file's last 32 bytes may be
    # trailing metadata, and a GIF cut on a byte that happens to be its trailer cannot be told apart.
    cuts = range(len(data) // 4, len(data) - 32, 37)
    passed = []
    for cut in cuts:
        try:
            verify_complete(data[:cut])
            passed.append(cut)
        except DecodeError:
            pass
    assert len(passed) <= len(cuts) // 100, passed


def noise(size: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


HEADER_GARBAGE = "damaged|not an image|truncated|too large|safety limit|no pixels"


@pytest.mark.parametrize("data,message", [
    (b"", "empty"),
    (noise(4096, 0), "not an image"),
    *[(b"\x89PNG\r\n\x1a\n" + noise(200, seed), HEADER_GARBAGE) for seed in range(5)],
    *[(b"GIF89a" + noise(50, seed), HEADER_GARBAGE) for seed in range(5)],
    *[(b"\xff\xd8\xff\xe0" + noise(300, seed), HEADER_GARBAGE) for seed in range(5)],
    *[(b"II*\x00" + noise(300, seed), HEADER_GARBAGE) for seed in range(5)],
])
def test_garbage_never_raises_anything_but_decode_error(data, message):
    with pytest.raises(DecodeError, match=message):
        decode_image(data)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels but carries a tiny IDAT."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_decompression_bomb_header_is_refused_before_decoding():
    with pytest.raises(DecodeError, match=r"^the image is 50000x50000 \(2500 MP\), above the 100 MP safety limit$"):
        decode_image(png_header_only(50000, 50000))


def test_pixel_cap_is_configurable(real_photo):
    data = encode(real_photo, "PNG")
    with pytest.raises(DecodeError, match="safety limit"):
        decode_image(data, max_pixels=1000)
    assert MAX_PIXELS >= 50_000_000  # a 50 MP camera photo must pass with the default


def test_quality_estimate_handles_non_jpeg():
    assert estimate_jpeg_quality(Image.new("RGB", (8, 8))) is None


def test_a_second_page_or_frame_is_noticed_and_a_single_image_is_not():
    first, second = (Image.new("RGB", (20, 10), colour) for colour in ((200, 0, 0), (0, 0, 200)))
    two_pages = io.BytesIO()
    first.save(two_pages, "TIFF", save_all=True, append_images=[second])
    decoded = decode_image(two_pages.getvalue())
    assert decoded.animated and tuple(decoded.rgb[0, 0]) == (200, 0, 0)  # the first page is the one scored
    assert not decode_image(encode(first, "TIFF")).animated
    assert not decode_image(encode(first, "PNG")).animated
