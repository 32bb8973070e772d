"""Valid images with damaged extras decode; every failure is a DecodeError with Pillow's reason; a fuzz pass."""
import io
import struct
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

import engine
from engine.decode import DecodeError, decode_image
from engine.provenance import provenance_hints
from engine.result import ProvenanceHint

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow narrates damaged metadata

A1111 = "a cat, Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1"
NOT_TIFF = b"Exif\x00\x00garbage!"  # an EXIF block that does not start with a TIFF header


def encode(image, fmt, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def photo(size=(24, 16)) -> Image.Image:
    rng = np.random.default_rng(7)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_damaged_exif_never_rejects_pixels_that_decode(fmt):
    save = {"exif": NOT_TIFF}
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("parameters", A1111)
        save["pnginfo"] = info
    data = encode(photo(), fmt, **save, **({"lossless": True} if fmt == "WEBP" else {}))
    decoded = decode_image(data)
    assert decoded.rgb.shape == (16, 24, 3)
    if fmt == "PNG":
        assert [h.label for h in provenance_hints(data, fmt)] == ["Generator parameters (parameters)"]


def test_a_broken_second_ifd_does_not_hide_a_readable_tiff():
    data = bytearray(encode(Image.new("RGB", (8, 8), (1, 2, 3)), "TIFF"))
    ifd = struct.unpack("<I", data[4:8])[0]
    entries = struct.unpack("<H", data[ifd:ifd + 2])[0]
    next_ifd = ifd + 2 + 12 * entries
    data[next_ifd:next_ifd + 4] = struct.pack("<I", len(data) - 3)  # a "next page" that is garbage
    assert tuple(decode_image(bytes(data)).rgb[0, 0]) == (1, 2, 3)


def test_pillows_own_reason_is_kept():
    pixels = bytes(4 * 4 * 4)
    header = struct.pack("<IiiHHIIiiII", 40, 4, 4, 1, 32, 3, len(pixels), 2835, 2835, 0, 0)
    masks = struct.pack("<III", 0x1, 0x2, 0x4)  # a bitfield layout Pillow does not read
    offset = 14 + 40 + 12
    bmp = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + header + masks + pixels
    with pytest.raises(DecodeError, match="Unsupported BMP bitfields layout"):
        decode_image(bmp)


def test_bigtiff_decodes():
    data = encode(photo(), "TIFF", big_tiff=True)
    assert data[:4] == b"II+\x00"
    assert decode_image(data).rgb.shape == (16, 24, 3)


# --- fuzzing -----------------------------------------------------------------------------------------------

def seeds() -> dict[str, bytes]:
    """Small valid files of every format, carrying the metadata the readers parse."""
    image = photo()
    exif = image.getexif()
    exif[0x0131] = "Fuzz Software"
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + "Steps: 9, Seed: 3".encode("utf-16-le")
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description Iptc4xmpExt:DigitalSourceType='
           b'"http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta>')
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111)
    info.add_itxt("XML:com.adobe.xmp", xmp.decode(), zip=True)
    frames = [image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    heic = next((Path(engine.__file__).parent / "samples").glob("*.heic")).read_bytes()
    return {
        "JPEG": encode(image, "JPEG", quality=80, exif=exif, xmp=xmp),
        "PNG": encode(image, "PNG", pnginfo=info, exif=exif),
        "APNG": encode(frames[0], "PNG", save_all=True, append_images=frames[1:], pnginfo=info),
        "PNG16": encode(Image.fromarray((np.arange(24 * 16, dtype=np.uint16) * 97).reshape(16, 24)), "PNG"),
        "PALETTE": encode(image.convert("P"), "PNG", transparency=3),
        "WEBP": encode(image, "WEBP", quality=80, exif=exif, xmp=xmp),
        "WEBP_LOSSLESS": encode(image.convert("RGBA"), "WEBP", lossless=True),
        "GIF": encode(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        "BMP": encode(image, "BMP"),
        "TIFF": encode(image, "TIFF", compression="tiff_deflate", exif=exif),
        "TIFF_F": encode(Image.new("F", (24, 16), 0.5), "TIFF"),
        "AVIF": encode(image, "AVIF", quality=60),
        "HEIC": heic,
    }


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    buffer = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        choice = rng.integers(0, 6)
        at = int(rng.integers(0, len(buffer)))
        if choice == 0:  # flip a few bytes
            for _ in range(int(rng.integers(1, 9))):
                buffer[int(rng.integers(0, len(buffer)))] = int(rng.integers(0, 256))
        elif choice == 1:  # truncate
            del buffer[max(8, at):]
        elif choice == 2:  # insert random bytes
            buffer[at:at] = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
        elif choice == 3:  # a large length or size field
            buffer[at:at + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00",
                                            b"\x00\x00\xff\xff"])
        elif choice == 4:  # duplicate a slice (chunks, markers, IFD entries)
            end = min(len(buffer), at + int(rng.integers(4, 256)))
            buffer[at:at] = buffer[at:end]
        else:  # delete a slice
            del buffer[at:at + int(rng.integers(1, 64))]
        if len(buffer) < 8:
            break
    return bytes(buffer)


CASES = 5000
TIME_LIMIT_S = 50


def test_fuzzed_files_give_a_result_or_a_decode_error():
    rng = np.random.default_rng(20261202)
    corpus = seeds()
    names = sorted(corpus)
    escaped: Counter = Counter()
    examples = {}
    outcomes = Counter()
    started = time.monotonic()
    cases = 0
    while cases < CASES and time.monotonic() - started < TIME_LIMIT_S:
        name = names[cases % len(names)]
        data = mutate(corpus[name], rng)
        cases += 1
        try:
            decoded = decode_image(data, max_pixels=4_000_000)  # a mutated header must not cost seconds here
            assert decoded.rgb.dtype == np.uint8 and decoded.rgb.shape[2] == 3
            outcomes["decoded"] += 1
            fmt = decoded.format
        except DecodeError as exc:
            assert str(exc)
            outcomes["refused"] += 1
            fmt = name
        except Exception as exc:  # what must never happen
            escaped[f"decode {type(exc).__name__}"] += 1
            examples.setdefault(f"decode {type(exc).__name__}", (name, repr(exc)[:200]))
            continue
        try:
            hints = provenance_hints(data, fmt)
            assert isinstance(hints, list) and all(isinstance(h, ProvenanceHint) for h in hints)
            assert len(hints) <= 12 and all(len(h.label) <= 80 and len(h.detail) <= 2000 for h in hints)
        except Exception as exc:
            escaped[f"provenance {type(exc).__name__}"] += 1
            examples.setdefault(f"provenance {type(exc).__name__}", (name, repr(exc)[:200]))
    assert cases >= 500, f"only {cases} cases ran in {TIME_LIMIT_S} s"
    assert not escaped, (dict(escaped), examples)
    assert outcomes["decoded"] and outcomes["refused"]  # the mutations reach both sides


def test_a_png_whose_text_chunk_inflates_past_pillows_guard_is_refused_for_safety_not_called_damaged():
    """A 200 KB PNG with a zTXt chunk of 200 MB once inflated read "the image header is damaged (Decompressed data
    too large for PngImagePlugin.MAX_TEXT_CHUNK)": the file is whole, it is refused for safety."""
    import zlib

    plain = io.BytesIO()
    Image.new("RGB", (8, 8)).save(plain, "PNG")
    body = b"Comment\x00\x00" + zlib.compress(b"a" * (64 * 1024 * 1024), 9)
    chunk = struct.pack(">I", len(body)) + b"zTXt" + body + struct.pack(">I", zlib.crc32(b"zTXt" + body))
    data = plain.getvalue()[:33] + chunk + plain.getvalue()[33:]  # after the signature and IHDR
    with pytest.raises(DecodeError, match=r"^the image's metadata \(a PNG text or colour profile chunk\) is too "
                                          r"large to read safely$"):
        decode_image(data)
