"""Provenance hints: what the file itself says about where it came from.

These are shown beside the model's score and never mixed into it: metadata is
easy to strip and easy to forge, the pixels are what the model judges.
Nothing here decodes pixels (engine.metadata reads where the formats keep metadata),
and the output is bounded: a file cannot make a scan's result large.
"""

from __future__ import annotations

import logging
import re

from PIL import ExifTags

from engine.metadata import FileMetadata, read_metadata
from engine.provenance_c2pa import (
    AI_GENERATED_TYPES, AI_SOURCE_TYPES, LABEL_ROOM, OTHER_SOURCE_TYPES, c2pa_hints, remote_manifest_hint,
)
from engine.result import ProvenanceHint

log = logging.getLogger(__name__)

GENERATOR_TEXT_KEYS = ("parameters", "prompt", "workflow", "invokeai_metadata", "sd-metadata", "dream")
# Whole words, and the names as the tools write them: a bare "imagen" is Spanish for "image" ("Editor de
# imagen de Windows"), "flux" starts "Fluxus", and "Imagenomic Portraiture" is a retouching plug-in.
KNOWN_AI_SOFTWARE = re.compile(
    r"\b(?:firefly|midjourney|dall[-·]?e|stable[ -]?diffusion|comfyui|automatic1111|novelai|invokeai|"
    r"(?:google )?imagen ?\d|google imagen|flux(?:\.1|\.2| ?[12]\b| (?:dev|schnell|pro|kontext))|black forest labs|"
    r"leonardo(?:\.| )ai|ideogram|gemini|chatgpt|openai)\b",
    re.IGNORECASE,
)
MAX_HINTS = 12
MAX_LABEL = LABEL_ROOM  # labels are clipped here; the C2PA label fits itself within it
MAX_DETAIL = 2000
MAX_XMP_SCAN = 1 << 20  # bytes of one packet searched; a real packet is a few KB

# digitalSourceType as an attribute, as element text, or as an rdf:resource reference.
_XMP_SOURCE_TYPE = re.compile(
    rb"DigitalSourceType(?:\s*=\s*[\"']([^\"'<]*)[\"']|\s*>\s*([^<\s]+)\s*<|[^>]*?rdf:resource\s*=\s*[\"']([^\"'<]*)[\"'])",
    re.IGNORECASE,
)
# A C2PA manifest stored elsewhere is announced in XMP as dcterms:provenance (C2PA spec, "External manifests").
_XMP_REMOTE_MANIFEST = re.compile(
    rb"dcterms:provenance(?:\s*=\s*[\"']([^\"'<]*)[\"']|\s*>\s*([^<\s]+)\s*<)", re.IGNORECASE)
# ComfyUI's WebP/JPEG writer keeps its graph in EXIF text tags as "workflow:{json}" and "prompt:{json}".
_COMFYUI_EXIF_TAGS = (ExifTags.Base.DocumentName, ExifTags.Base.ImageDescription, ExifTags.Base.Make,
                      ExifTags.Base.Model)
_GENERATION_WORDS = ("steps:", "sampler", "seed:")


def provenance_hints(data: bytes, image_format: str = "") -> list[ProvenanceHint]:
    hints: list[ProvenanceHint] = []
    try:
        meta = read_metadata(data)
    except Exception as exc:  # a hint reader must never fail a scan
        log.debug("metadata could not be read: %s", exc)
        meta = FileMetadata()
    for reader in (lambda: c2pa_hints(data, image_format), lambda: _xmp_hints(meta),
                   lambda: _generator_text_hints(meta), lambda: _exif_hints(meta)):
        try:
            hints.extend(reader())
        except Exception as exc:
            log.debug("a provenance reader failed: %s", exc)
    return _bounded(hints)


def _bounded(hints: list[ProvenanceHint]) -> list[ProvenanceHint]:
    unique: dict[tuple[str, str], ProvenanceHint] = {}
    for hint in hints:
        # A detail loses its middle: Stable Diffusion's settings line ("Steps: 30, Sampler: …, Seed: …") comes
        # last, after a prompt that may run to thousands of characters.
        hint.label, hint.detail = _clip(hint.label, MAX_LABEL), _clip_middle(hint.detail, MAX_DETAIL)
        unique.setdefault((hint.kind, hint.label), hint)
    return list(unique.values())[:MAX_HINTS]


def _xmp_hints(meta: FileMetadata) -> list[ProvenanceHint]:
    hints, seen = [], set()
    for packet in meta.xmp:
        packet = packet[:MAX_XMP_SCAN]
        for match in _XMP_SOURCE_TYPE.finditer(packet):
            raw = next(group for group in match.groups() if group is not None)
            value = raw.decode("utf-8", "replace").strip().rstrip("/").rsplit("/", 1)[-1]
            if not value or value in seen:
                continue
            seen.add(value)
            meaning = AI_SOURCE_TYPES.get(value) or OTHER_SOURCE_TYPES.get(value)
            label = f"IPTC: {meaning}" if meaning else f"IPTC source: {value}"
            hints.append(ProvenanceHint("iptc_source_type", label, f"IPTC/XMP digital source type: {value}",
                                        ai_generated=True if value in AI_GENERATED_TYPES else None))
        remote = _XMP_REMOTE_MANIFEST.search(packet)
        if remote:
            url = next(group for group in remote.groups() if group is not None).decode("utf-8", "replace")
            hints.append(remote_manifest_hint(url.strip()))
    return hints


def _generator_text_hints(meta: FileMetadata) -> list[ProvenanceHint]:
    hints = []
    for key in GENERATOR_TEXT_KEYS:
        value = meta.text.get(key)
        if value:
            hints.append(_generator_hint(key, value))
    for tag in _COMFYUI_EXIF_TAGS:
        tag_value = meta.ifd0.get(tag)
        if isinstance(tag_value, bytes):
            tag_value = tag_value.decode("utf-8", "replace")
        if isinstance(tag_value, str):
            key, sep, rest = tag_value.partition(":")
            if sep and key.strip().lower() in GENERATOR_TEXT_KEYS and rest.strip():
                hints.append(_generator_hint(key.strip().lower(), rest.strip()))
    comment = decode_user_comment(meta.exif_ifd.get(ExifTags.Base.UserComment))
    if comment and any(word in comment.lower() for word in _GENERATION_WORDS):
        hints.append(ProvenanceHint("generator_text", "Generator parameters (EXIF UserComment)", comment,
                                    ai_generated=True))
    return hints


def _generator_hint(key: str, value: str) -> ProvenanceHint:
    return ProvenanceHint("generator_text", f"Generator parameters ({key})", str(value), ai_generated=True)


def _exif_hints(meta: FileMetadata) -> list[ProvenanceHint]:
    from_exif = bool(meta.ifd0.get(ExifTags.Base.Software))
    software = meta.ifd0.get(ExifTags.Base.Software) or meta.text.get("Software")
    if isinstance(software, bytes):
        software = software.decode("utf-8", "replace")
    if not software or not isinstance(software, str):
        return []
    software = _utf8_read_as_latin1(software).strip("\x00 ")
    if not software:
        return []
    label = f"Software: {_clip(software, 40)}"
    # The detail says where the name was found, and the whole name only where the label had to clip it.
    where = "the EXIF Software tag" if from_exif else "the file's Software text"
    detail = f"From {where}" + (f": {software}" if label != f"Software: {software}" else "")
    return [ProvenanceHint("exif_software", label, detail,
                           ai_generated=True if KNOWN_AI_SOFTWARE.search(software) else None)]


def _utf8_read_as_latin1(text: str) -> str:
    """EXIF's ASCII tags hold UTF-8 in practice ("DALL·E 3"), read one byte a character ("DALLÂ·E 3")."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):  # not that: kept as read
        return text


def decode_user_comment(value) -> str:
    """EXIF UserComment: an 8-byte character-code prefix, then the text."""
    if not value:
        return ""
    if isinstance(value, str):
        return value.strip("\x00 ")
    raw = bytes(value)
    prefix, body = raw[:8], raw[8:]
    if prefix.startswith(b"UNICODE"):
        return body.decode(_utf16_byte_order(body), "replace").strip("\x00 \ufeff")
    if prefix.startswith(b"ASCII"):
        return body.decode("utf-8", "replace").strip("\x00 ")
    return raw.decode("utf-8", "replace").strip("\x00 ")


def _utf16_byte_order(body: bytes) -> str:
    """The standard leaves the byte order open and writers disagree (A1111 writes big-endian, many tools
    little-endian). A BOM decides; otherwise mostly-Latin text has its zero bytes on the high side of each pair."""
    if body[:2] == b"\xff\xfe":
        return "utf-16-le"
    if body[:2] == b"\xfe\xff":
        return "utf-16-be"
    even = body[0::2].count(0)
    odd = body[1::2].count(0)
    return "utf-16-le" if odd > even else "utf-16-be"


def _clip_middle(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    keep = limit - 3
    return text[: keep // 2] + " … " + text[len(text) - (keep - keep // 2):]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
