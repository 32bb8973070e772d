"""File names as the operating system has them, and as a person or a strict decoder can read them.

On Linux a file name is bytes, not text. Python hands undecodable bytes over as lone
surrogates (``os.fsdecode``'s surrogateescape), which open() accepts but SQLite, strict
stdout encodings and other programs' JSON parsers refuse. The engine keeps that lossless
``str`` everywhere in memory and converts only at the edges: the store keeps the raw bytes,
output shows a display form and, for machines, the raw bytes in base64.
"""

from __future__ import annotations

import base64
import os
import re

# Control characters (a newline or an escape sequence in a name must not rewrite the terminal), the
# line and paragraph separators (a line break to some terminals and viewers), the invisible spaces that
# hide inside a name (not the joiners that emoji and some scripts are written with), and the
# bidirectional overrides that make a name read differently from what it is.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060\u2066-\u2069\ufeff]")


def is_text(path: str) -> bool:
    """True when the name is valid Unicode, i.e. it came from bytes that decode as the file system's encoding."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def display_path(path: str) -> str:
    """The name for people: undecodable bytes as ``\\xNN``, control characters escaped; always valid text."""
    if not is_text(path):
        path = os.fsencode(path).decode("utf-8", "backslashreplace")
    return printable(path)


def printable(text: str) -> str:
    """Text from a file (a name, a metadata label) made safe for a terminal line."""
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def path_bytes_b64(path: str) -> str:
    """The exact bytes of a name, base64-encoded: what a program needs when the name had to be escaped."""
    return base64.b64encode(os.fsencode(path)).decode("ascii")


def from_b64(value: str) -> str:
    """The in-memory (surrogateescape) name back from :func:`path_bytes_b64`."""
    return os.fsdecode(base64.b64decode(value))
