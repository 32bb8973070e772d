import io

import pytest
from PIL import Image
from skimage import data

from training.data.imageformat import decode_rgb, encode, encode_spec_for, estimate_jpeg_quality, read_jpeg_quality


def _bytes(array, fmt, **save):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **save)
    return buffer.getvalue()


@pytest.mark.parametrize("quality", [30, 60, 75, 88, 95, 100])
def test_quality_is_read_back_from_quantisation_tables(quality):
    encoded = _bytes(data.astronaut()[:64, :64], "JPEG", quality=quality)
    assert estimate_jpeg_quality(Image.open(io.BytesIO(encoded))) == quality


def test_jpeg_real_and_fake_go_through_identical_tables():
    real_bytes = _bytes(data.chelsea()[:80, :96], "JPEG", quality=71, subsampling=0)
    spec = encode_spec_for(real_bytes)
    assert (spec.format, spec.jpeg_quality, spec.subsampling) == ("JPEG", 71, 0)
    fake = decode_rgb(real_bytes)[::-1].copy()  # any other pixels
    re_real, re_fake = Image.open(io.BytesIO(encode(decode_rgb(real_bytes), spec))), Image.open(io.BytesIO(encode(fake, spec)))
    assert re_real.quantization == re_fake.quantization == Image.open(io.BytesIO(real_bytes)).quantization


def test_lossless_and_lossy_webp_and_greyscale():
    colour = data.coffee()[:64, :64]
    assert encode_spec_for(_bytes(colour, "WEBP", lossless=True)).format == "PNG"
    assert encode_spec_for(_bytes(colour, "WEBP", quality=80)).format == "WEBP"
    assert encode_spec_for(_bytes(colour, "PNG")).format == "PNG"
    grey_spec = encode_spec_for(_bytes(data.camera()[:64, :64], "PNG"))
    assert grey_spec.mode == "L"
    written = Image.open(io.BytesIO(encode(colour, grey_spec)))
    assert (written.format, written.mode) == ("PNG", "L")
    assert read_jpeg_quality(_bytes(colour, "PNG")) is None
    assert decode_rgb(_bytes(data.camera()[:8, :8], "PNG")).shape == (8, 8, 3)


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_a_phones_heic_or_avif_real_and_its_fakes_are_written_in_its_own_codec(fmt):
    import pillow_heif  # the encoder: training's dependency (the app only decodes)

    photo = data.chelsea()[:96, :128]
    if fmt == "HEIF":
        buffer = io.BytesIO()
        pillow_heif.from_pillow(Image.fromarray(photo)).save(buffer, quality=80)
        real_bytes = buffer.getvalue()
    else:
        real_bytes = _bytes(photo, "AVIF", quality=80)
    spec = encode_spec_for(real_bytes)
    assert spec.format == fmt
    # The forge names the real's and its fakes' files by the spec: an extension the app's opener also reads.
    assert spec.extension == {"HEIF": ".heic", "AVIF": ".avif"}[fmt]
    # Both through the same codec: its traces are no clue to which is the real (as PNG, only the real had them).
    fake = decode_rgb(real_bytes)[::-1].copy()
    for pixels in (decode_rgb(real_bytes), fake):
        written = Image.open(io.BytesIO(encode(pixels, spec)))
        assert (written.format, written.size) == (fmt, (128, 96))
