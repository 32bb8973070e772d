"""Safe decoding of untrusted image bytes into an RGB array.

Every path out of here is either a :class:`DecodedImage` or a :class:`DecodeError`
with a message a person can read (Pillow's own reason kept); no other exception escapes.
Memory is bounded by the image as Pillow stores it plus the uint8 result (see engine.pixels).
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from engine.orientation import shown_array, shown_size
from engine.pixels import STRIP_PIXELS, stored_bytes_per_pixel, to_rgb_array
from engine.structure import StructureError, check_structure

try:  # HEIC/HEIF through libheif. pi-heif decodes only: no GPL x265 encoder in the app or its installer.
    import pi_heif

    pi_heif.register_heif_opener()
except ImportError:  # pragma: no cover - the plugin is a declared dependency
    pi_heif = None

# Pillow warns about damaged EXIF, odd chunks and sizes between its bomb limits; for untrusted files that is
# noise on stderr, and the checks that matter are made here. A filter set once, because catch_warnings()
# is not thread-safe and decoding runs on several threads.
warnings.filterwarnings("ignore", module=r"PIL(\.|$)")
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
# Pillow's own bomb check fires at open with "could be decompression bomb"; the size check below runs at
# the same point (before any pixel is decoded) and says the size and the limit. Pixels are only ever
# decoded here, after it (metadata.py parses headers of files that passed it).
Image.MAX_IMAGE_PIXELS = None

# 100 megapixels: far above any camera, and the decoded image (at most 4 bytes a pixel as Pillow
# stores it, plus the 3-byte RGB result) stays under 0.8 GB.
MAX_PIXELS = 100_000_000
MAX_FILE_BYTES = 200 * 1024 * 1024

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO", "AVIF", "HEIF")
# libheif decodes into a buffer of its own before Pillow gets a copy.
_OWN_BUFFER_FORMATS = ("AVIF", "HEIF")
# The widest strip intermediates (alpha compositing in uint16): a few copies of 4-8 bytes a pixel.
STRIP_BYTES_PER_PIXEL = 24


class DecodeError(ValueError):
    """The bytes are not an image SynthSpot can read; the message says why."""


@dataclass(frozen=True)
class DecodedImage:
    rgb: np.ndarray  # uint8 [H, W, 3] as stored: EXIF orientation not applied (what the model scores)
    format: str  # Pillow's format name, e.g. "JPEG"
    width: int  # as shown (EXIF orientation applied)
    height: int
    mode: str  # the mode before conversion to RGB, e.g. "P", "I;16", "CMYK"
    jpeg_quality: int | None  # estimated from the quantisation tables, JPEG only
    orientation: int = 1  # EXIF orientation, 1-8
    animated: bool = False  # more than one frame (an animation) or page (a TIFF); ``rgb`` is the first

    @property
    def shown(self) -> np.ndarray:
        """The pixels as a viewer shows them (a view; no copy)."""
        return shown_array(self.rgb, self.orientation)


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS) -> DecodedImage:
    with open_image(data, max_pixels) as opened:
        return opened.decode()


def open_image(data: bytes, max_pixels: int = MAX_PIXELS) -> OpenedImage:
    """Read and check the header only: the size, format and memory cost are known before any pixel is decoded."""
    if not data:
        raise DecodeError("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise DecodeError(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB, the most SynthSpot reads "
                          "(an uncompressed image saved as PNG or JPEG is smaller)")
    try:
        check_structure(data)
    except StructureError as exc:
        raise DecodeError(f"{exc}: refused as malformed") from None
    if _riff_cut_short(data):  # libwebp only says it "could not create decoder object"
        raise DecodeError("the image data is truncated: the file ends before the picture does")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise DecodeError("not an image, or a format SynthSpot cannot read") from None
    except Image.DecompressionBombError:
        raise DecodeError("the image is too large to decode safely") from None
    except MemoryError:
        raise DecodeError("the image header asks for more memory than is free") from None
    except Exception as exc:  # Pillow raises a zoo of types on hostile headers
        if _missing_library(exc):  # a decoder's native library is missing: the installation's fault, not the file's
            raise DecodeError(f"this installation cannot read this kind of image: a library is missing "
                              f"({_short(exc)}); reinstall SynthSpot") from None
        if "MAX_TEXT_CHUNK" in str(exc):  # Pillow's guard on a PNG text or colour-profile chunk's inflated size
            raise DecodeError("the image's metadata (a PNG text or colour profile chunk) is too large to read "
                              "safely") from None
        raise DecodeError(f"the image header is damaged ({_short(exc)})") from None
    try:
        fmt = (image.format or "").upper()
        if fmt not in SUPPORTED_FORMATS:
            raise DecodeError(f"{fmt or 'this'} images are not supported")
        _check_size(image.size, max_pixels)
        return OpenedImage(image, fmt, max_pixels)
    except BaseException:
        image.close()
        raise


# Frames of an animation walked to check that the file is whole (its last one is decoded).
MAX_VERIFIED_FRAMES = 1024


def verify_complete(data: bytes, max_pixels: int = MAX_PIXELS) -> None:
    """Raise :class:`DecodeError` unless all of the image's data is there and decodes (a download still
    being written fails here). A JPEG is checked at 1/8 scale: every byte is still read, at little cost."""
    with open_image(data, max_pixels) as opened:
        opened.reduced(1)
        opened.load_last_frame()
        # A GIF cut between two frames reads as whole, one frame shorter: only its trailer byte says it ended.
        if opened.format == "GIF" and not data.rstrip(b"\0").endswith(b";"):
            raise DecodeError("the image data is truncated: the file ends before the picture does")


class OpenedImage:
    """An image whose header was read and checked; nothing is decoded until :meth:`decode`."""

    def __init__(self, image: Image.Image, fmt: str, max_pixels: int):
        self._image = image
        self.format = fmt
        self.width, self.height = image.size
        self.mode = image.mode
        self._max_pixels = max_pixels

    @property
    def decode_bytes(self) -> int:
        """What decoding will hold at its peak: Pillow's image, the RGB result and one strip's intermediates."""
        pixels = self.width * self.height
        per_pixel = stored_bytes_per_pixel(self.mode) + 3 + (4 if self.format in _OWN_BUFFER_FORMATS else 0)
        return pixels * per_pixel + min(pixels, STRIP_PIXELS) * STRIP_BYTES_PER_PIXEL

    def reduced(self, longest_side: int) -> Image.Image:
        """Pillow's image, loaded at no more than needed for ``longest_side`` where the format allows:
        a JPEG decodes at 1/2 to 1/8 scale in the decoder itself (DCT scaling), so a 48 MP photo never
        exists at full size. Other formats load whole, within the caps checked at open. Closed with this."""
        if self.format in ("JPEG", "MPO"):
            # The size that fits ``longest_side``, aspect kept: draft picks the smallest scale at least that big.
            scale = min(1.0, longest_side / max(self.width, self.height))
            self._image.draft("RGB", (max(1, math.ceil(self.width * scale)), max(1, math.ceil(self.height * scale))))
        self._load()
        return self._image

    def load_last_frame(self) -> None:
        """Decode the last frame or page of an animation or multi-page file (the first one alone is whole
        long before the file is: a GIF from a third of its bytes). Frames past ``MAX_VERIFIED_FRAMES`` are
        not walked: counting them all takes minutes for a TIFF of 64,000 tiny pages."""
        image = self._image
        if not _best_effort(lambda im: getattr(im, "is_animated", False), image):
            return
        frame = 0
        try:
            while frame < MAX_VERIFIED_FRAMES:
                try:
                    image.seek(frame + 1)
                except EOFError:
                    break
                frame += 1
            image.seek(frame)
            _check_size(image.size, self._max_pixels)
        except DecodeError:
            raise
        except Exception as exc:
            raise _corrupt(exc) from None
        self._load()

    def _load(self) -> None:
        try:
            self._image.load()
        except Image.DecompressionBombError:
            raise DecodeError("the image is too large to decode safely") from None
        except MemoryError:
            raise DecodeError("the image needs more memory than is free") from None
        except Exception as exc:
            raise _corrupt(exc) from None

    def decode(self) -> DecodedImage:
        image = self._image
        self._load()
        _check_size(image.size, self._max_pixels)  # a few decoders learn the real size only now
        quality = _best_effort(estimate_jpeg_quality, image) if self.format in ("JPEG", "MPO") else None
        orientation = _best_effort(_exif_orientation, image) or 1
        try:
            rgb = to_rgb_array(image)
            animated = bool(_best_effort(_more_than_one_frame, image))  # after the pixels: it seeks
        except MemoryError:
            raise DecodeError("the image needs more memory than is free") from None
        except Exception as exc:
            raise _corrupt(exc) from None
        finally:
            self.close()  # Pillow's copy goes before anything else is allocated
        height, width = shown_size(rgb.shape[0], rgb.shape[1], orientation)
        return DecodedImage(rgb=rgb, format="JPEG" if self.format == "MPO" else self.format, width=width,
                            height=height, mode=self.mode, jpeg_quality=quality, orientation=orientation,
                            animated=animated)

    def close(self) -> None:
        self._image.close()

    def __enter__(self) -> OpenedImage:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check_size(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise DecodeError("the image has no pixels")
    if width * height > max_pixels:
        limit = f"{max_pixels / 1e6:.0f}"
        megapixels = f"{width * height / 1e6:.0f}"
        if megapixels == limit:  # just over: "100 MP, above the 100 MP limit" would read as a contradiction
            megapixels = f"{width * height / 1e6:.2f}"
        raise DecodeError(f"the image is {width}x{height} ({megapixels} MP), above the {limit} MP safety limit")


def _best_effort(read, image):
    """Orientation and quality are extras: damaged EXIF or tables never reject pixels that decode."""
    try:
        return read(image)
    except Exception:
        return None


def _more_than_one_frame(image: Image.Image) -> bool:
    # ``is_animated`` looks at the second frame only; ``n_frames`` walks them all (minutes for a TIFF of
    # 64,000 tiny pages). An MPO's second image is the same photo (a stereo pair, a depth view); a HEIF's
    # other images are alternates of its primary one, the image viewers show and the one decoded here (the
    # other eye of an iPhone or Vision Pro spatial photo): neither is a frame left unchecked.
    return image.format not in ("MPO", "HEIF") and bool(getattr(image, "is_animated", False))


def _exif_orientation(image: Image.Image) -> int:
    value = image.getexif().get(ExifTags.Base.Orientation, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def estimate_jpeg_quality(image: Image.Image) -> int | None:
    """Estimate the libjpeg quality factor (1-100) from the luminance quantisation table."""
    tables = getattr(image, "quantization", None)
    if not tables or 0 not in tables:
        return None
    table = np.asarray(tables[0], dtype=np.float64)
    if table.size != 64:
        return None
    # The table closest to one of the 100 IJG tables, sorted (order-free): the mean absolute difference of
    # integers, exact in any summation order; the lowest quality wins a tie.
    errors = np.abs(_IJG_SORTED_TABLES - np.sort(table)).mean(axis=1)
    return int(np.argmin(errors)) + 1


def _ijg_sorted_tables() -> np.ndarray:
    """[100, 64]: the libjpeg luminance table at quality 1..100, each sorted."""
    # Standard IJG luminance table (natural order, which is how Pillow reports it since 8.3).
    base = np.asarray(_IJG_LUMINANCE, dtype=np.float64)
    tables = []
    for quality in range(1, 101):
        scale = 5000 / quality if quality < 50 else 200 - 2 * quality
        tables.append(np.sort(np.clip(np.floor((base * scale + 50) / 100), 1, 255)))
    return np.array(tables)


def _riff_cut_short(data: bytes) -> bool:
    """A WebP file shorter than its RIFF header says it is (a download stopped part-way)."""
    return (len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP"
            and len(data) < 8 + int.from_bytes(data[4:8], "little"))


def _corrupt(exc: BaseException) -> DecodeError:
    """Pillow's own words say which: "image file is truncated" needs no repeating."""
    detail = _short(exc)
    if "truncated" in detail.lower():
        return DecodeError("the image data is truncated: the file ends before the picture does")
    return DecodeError(f"the image data is corrupt ({detail})")


def _missing_library(exc: BaseException) -> bool:
    return isinstance(exc, (ImportError, OSError)) and "cannot open shared object" in str(exc)


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 80 else text[:77] + "..."


_IJG_LUMINANCE = [
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
]

_IJG_SORTED_TABLES = _ijg_sorted_tables()
