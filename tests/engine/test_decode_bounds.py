"""Hostile images stay within memory the 100 MP cap promises, and metadata never costs a second decode."""
import io
import json
import struct
import subprocess
import sys
import threading
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from engine.decode import decode_image, open_image
from engine.memory import MemoryBudget
from engine.pixels import to_rgb_array
from engine.provenance import provenance_hints
from tests.fixtures.crafted import encode, gif_with_screen


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def palette_png(size: int) -> bytes:
    image = Image.new("P", (size, size), 1)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    return encode(image, "PNG", transparency=0)


HOSTILE = {  # kind: (make the file, Pillow's stored bytes a pixel)
    "gif_screen": (lambda: gif_with_screen(6000, 6000), 1),
    "grey16_png": (lambda: encode(Image.new("I;16", (5000, 5000), 1000), "PNG"), 2),
    "float32_tiff": (lambda: encode(Image.new("F", (4000, 4000), 0.25), "TIFF", compression="tiff_deflate"), 4),
    "palette_png": (lambda: palette_png(5000), 1),
}

PEAK_SCRIPT = """
import json, resource, sys
from PIL import Image
from engine.decode import decode_image
decode_image(open(sys.argv[2], "rb").read())  # plugins and numpy warmed up on a small file first
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
image = decode_image(data)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grown": (after - before) * 1024, "pixels": image.width * image.height}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in kilobytes on Linux")
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_image_decodes_within_its_bound(tmp_path, kind):
    """Pillow's own image plus the 3-byte result, and a little for strips: the old paths took 4-8 times that."""
    make, stored = HOSTILE[kind]
    path, small = tmp_path / "hostile", tmp_path / "small.png"
    path.write_bytes(make())
    small.write_bytes(encode(Image.new("RGB", (8, 8)), "PNG"))
    done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(path), str(small)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout)
    bound = measured["pixels"] * (stored + 3) * 1.15 + 100e6  # + one strip of intermediates
    assert measured["grown"] < bound, f"{kind}: {measured['grown'] / 1e6:.0f} MB, bound {bound / 1e6:.0f} MB"


def test_the_decode_cost_is_known_from_the_header():
    opened = open_image(gif_with_screen(3000, 2000))
    assert (opened.width, opened.height, opened.mode) == (3000, 2000, "P")
    assert 6e6 * 4 <= opened.decode_bytes < 6e6 * 4 + 110e6  # 1 byte stored + 3 out a pixel, one strip
    opened.close()


@pytest.mark.parametrize("mode,value,expected", [
    ("I;16", 65535, 255), ("I;16", 32896, 128), ("I", 1000, 4), ("I", 200, 200), ("F", 0.5, 0), ("L", 77, 77),
])
def test_strip_conversion_scales_grey_like_before(mode, value, expected):
    rgb = to_rgb_array(Image.new(mode, (3, 5), value))
    assert rgb.shape == (5, 3, 3) and rgb.dtype == np.uint8 and (rgb == expected).all()


def test_palette_transparency_is_composited_per_entry():
    image = Image.new("P", (4, 2), 0)
    image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    image.putpixel((1, 0), 1)
    image.info["transparency"] = bytes([0, 128])  # index 0 fully transparent, index 1 half
    rgb = to_rgb_array(image)
    assert tuple(rgb[1, 1]) == (255, 255, 255)
    assert tuple(rgb[0, 1]) == tuple((np.array([200, 100, 50]) * 128 + 255 * 127 + 127) // 255)


def test_strips_cover_every_row():
    array = np.random.default_rng(1).integers(0, 256, (37, 23, 3), dtype=np.uint8)
    rgba = np.dstack([array, np.full((37, 23), 255, np.uint8)])
    for strip_pixels in (1, 70, 10_000):  # one row, a few rows, everything in one strip
        assert np.array_equal(to_rgb_array(Image.fromarray(array), strip_pixels), array)
        assert np.array_equal(to_rgb_array(Image.fromarray(rgba), strip_pixels), array)
    grey = Image.fromarray(np.linspace(0, 1, 37 * 23, dtype=np.float32).reshape(37, 23))
    assert np.array_equal(to_rgb_array(grey, 70), to_rgb_array(grey))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillows(orientation):
    array = np.random.default_rng(orientation).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = orientation
    data = encode(image, "PNG", exif=exif)
    from PIL import ImageOps
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    assert np.array_equal(decode_image(data).shown, expected)


def test_memory_budget_serialises_what_does_not_fit_and_lets_a_giant_through_alone():
    budget = MemoryBudget(100)
    inside, peak, lock = [0], [0], threading.Lock()

    def work(amount):
        with budget.reserve(amount):
            with lock:
                inside[0] += amount if amount <= 100 else 100
                peak[0] = max(peak[0], inside[0])
            time.sleep(0.02)
            with lock:
                inside[0] -= amount if amount <= 100 else 100

    threads = [threading.Thread(target=work, args=(amount,)) for amount in (60, 60, 30, 500, 40, 60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(t.is_alive() for t in threads)
    assert peak[0] <= 100 and budget.used == 0


def apng_with_text_after_the_frames(frames: int, size: int, damage_last: bool) -> bytes:
    images = [Image.new("RGB", (size, size), (i * 5 % 256, 0, 0)) for i in range(frames)]
    data = encode(images[0], "PNG", save_all=True, append_images=images[1:])
    text = png_chunk(b"tEXt", b"parameters\x00a cat, Steps: 20, Sampler: Euler a")
    end = data.rindex(b"IEND") - 4
    if damage_last:  # Pillow's text property seeks through every frame and fails here
        last = data.rindex(b"fdAT")
        data = data[:last + 12] + bytes(64) + data[last + 76:]
    return data[:end] + text + data[end:]


def test_apng_text_is_read_without_decoding_frames():
    data = apng_with_text_after_the_frames(30, 600, damage_last=True)
    started = time.perf_counter()
    hints = provenance_hints(data, "PNG")
    elapsed = time.perf_counter() - started
    assert [h.label for h in hints] == ["Generator parameters (parameters)"]
    assert elapsed < 0.5, elapsed
    assert decode_image(data).format == "PNG"  # the first frame is intact and is what is scanned


def test_png_text_behind_pixels_that_do_not_decode_is_still_read():
    ihdr = struct.pack(">IIBBBBB", 8000, 8000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)  # far too little for 8000x8000: decoding would fail
    data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
            + png_chunk(b"tEXt", b"parameters\x00Steps: 30") + png_chunk(b"IEND", b""))
    assert [h.label for h in provenance_hints(data, "PNG")] == ["Generator parameters (parameters)"]


def test_an_image_just_over_the_pixel_limit_does_not_read_as_equal_to_it():
    from engine.decode import DecodeError, _check_size

    with pytest.raises(DecodeError, match=r"^the image is 10001x10000 \(100\.01 MP\), above the 100 MP safety limit$"):
        _check_size((10001, 10000), 100_000_000)
    with pytest.raises(DecodeError, match=r"\(150 MP\), above the 100 MP"):
        _check_size((15000, 10000), 100_000_000)
