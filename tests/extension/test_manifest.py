"""The extension's manifest and sources, checked without a browser."""

from __future__ import annotations

import json
import re

import pytest

from engine.bridge.extension_id import (
    UNPACKED_EXTENSION_ID, configured_extension_origins, extension_id_from_key, extension_id_from_manifest,
)
from tests.extension.conftest import EXTENSION_DIR

MANIFEST = json.loads((EXTENSION_DIR / "manifest.json").read_text())


def test_the_manifest_key_gives_the_id_the_bridge_trusts():
    assert extension_id_from_manifest(EXTENSION_DIR / "manifest.json") == UNPACKED_EXTENSION_ID
    assert configured_extension_origins("")[0] == f"chrome-extension://{UNPACKED_EXTENSION_ID}"


def test_extension_ids_look_like_chromiums():
    # That Chromium really assigns UNPACKED_EXTENSION_ID is checked in test_browser.py (the worker's URL).
    assert re.fullmatch(r"[a-p]{32}", extension_id_from_key("AAAA"))
    assert extension_id_from_key("AAAA") != extension_id_from_key("AAAB")


def test_more_origins_come_from_the_environment_and_web_origins_are_refused():
    origins = configured_extension_origins(" moz-extension://1b2c-33/ , chrome-extension://" + "b" * 32)
    assert origins[1:] == ("moz-extension://1b2c-33", "chrome-extension://" + "b" * 32)
    with pytest.raises(ValueError, match="not a browser-extension origin"):
        configured_extension_origins("https://example.org")


def test_manifest_v3_with_what_the_extension_needs():
    assert MANIFEST["manifest_version"] == 3
    assert {"http://127.0.0.1/*", "http://localhost/*"} <= set(MANIFEST["host_permissions"])
    assert set(MANIFEST["permissions"]) == {"contextMenus", "storage", "scripting"}
    referenced = [MANIFEST["background"]["service_worker"], MANIFEST["action"]["default_popup"],
                  *MANIFEST["icons"].values(), *MANIFEST["action"]["default_icon"].values()]
    for name in referenced:
        assert (EXTENSION_DIR / name).is_file(), name
    assert 'title: "Check image with SynthSpot"' in (EXTENSION_DIR / "background.js").read_text()


def test_the_only_server_the_extension_talks_to_is_127_0_0_1():
    sources = {path.name: path.read_text() for path in EXTENSION_DIR.glob("*.js")}
    urls = {url for text in sources.values() for url in re.findall(r"[a-z-]+://[^\s\"'`)]+", text)}
    assert urls == {"http://127.0.0.1:${bridgePort}${path}"}, urls
