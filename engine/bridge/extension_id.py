"""Which browser extensions may talk to the bridge.

Chromium derives an extension's ID from its public key: the first 128 bits of
sha256(DER SubjectPublicKeyInfo), written with the letters a-p instead of the
hex digits 0-f. The unpacked extension in ``extension/`` carries a ``key`` in
its manifest, so its ID, and with it the Origin the bridge trusts, is the same
on every machine. More origins (a store-published ID, a Firefox install's
``moz-extension://<uuid>``) come from ``SYNTHSPOT_EXTENSION_ORIGINS``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

# The ID of extension/manifest.json's key (tests/bridge checks the two agree).
UNPACKED_EXTENSION_ID = "acljiiepojncddijjlenfaneblieblod"
ORIGINS_ENV = "SYNTHSPOT_EXTENSION_ORIGINS"
_ALLOWED_SCHEMES = ("chrome-extension://", "moz-extension://", "safari-web-extension://")


def extension_id_from_key(key_b64: str) -> str:
    """The Chromium extension ID for a manifest ``key`` (base64 DER public key)."""
    digest = hashlib.sha256(base64.b64decode(key_b64)).hexdigest()[:32]
    return "".join(chr(ord("a") + int(digit, 16)) for digit in digest)


def extension_id_from_manifest(manifest_path: str | Path) -> str:
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    if "key" not in manifest:
        raise ValueError(f"{manifest_path} has no 'key', so its unpacked ID depends on the folder it is loaded from")
    return extension_id_from_key(manifest["key"])


def configured_extension_origins(extra: str | None = None) -> tuple[str, ...]:
    """The unpacked extension's origin plus any listed (comma-separated) in the environment."""
    listed = os.environ.get(ORIGINS_ENV, "") if extra is None else extra
    origins = [f"chrome-extension://{UNPACKED_EXTENSION_ID}"]
    for item in listed.split(","):
        origin = item.strip().rstrip("/")
        if not origin:
            continue
        if not origin.startswith(_ALLOWED_SCHEMES):
            raise ValueError(f"{origin!r} is not a browser-extension origin (chrome-extension://<id> or "
                             f"moz-extension://<uuid>); web pages may never use the bridge")
        origins.append(origin)
    return tuple(dict.fromkeys(origins))
