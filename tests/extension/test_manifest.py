"""The extension's manifest and sources, checked without a browser."""

from __future__ import annotations

import json
import math
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
    # declarativeNetRequestWithHostAccess: the page's origin as Referer on its own image downloads (hotlinking hosts)
    assert set(MANIFEST["permissions"]) == {"contextMenus", "storage", "scripting", "declarativeNetRequestWithHostAccess"}
    referenced = [MANIFEST["background"]["service_worker"], MANIFEST["action"]["default_popup"],
                  *MANIFEST["icons"].values(), *MANIFEST["action"]["default_icon"].values()]
    for name in referenced:
        assert (EXTENSION_DIR / name).is_file(), name
    assert 'title: "Check image with SynthSpot"' in (EXTENSION_DIR / "background.js").read_text()


def test_the_only_server_the_extension_talks_to_is_127_0_0_1():
    sources = {path.name: path.read_text() for path in EXTENSION_DIR.glob("*.js")}
    urls = {url for text in sources.values() for url in re.findall(r"[a-z-]+://[^\s\"'`)]+", text)}
    assert urls == {"http://127.0.0.1:${bridgePort}${path}"}, urls


def test_bridge_js_signs_exactly_what_protocol_py_checks():
    """The extension and engine/bridge/protocol.py must agree on every label, header and derivation string."""
    from engine.bridge import protocol

    source = (EXTENSION_DIR / "bridge.js").read_text()
    python = (EXTENSION_DIR.parent / "engine" / "bridge" / "protocol.py").read_text()
    for label in ("synthspot-server-v1", "synthspot-request-v1", "synthspot-answer-v1", "synthspot-paired-v1"):
        assert f'"{label}"' in source and f'"{label}"' in python, label
    for info in (protocol.KEY_INFO, protocol.CODE_INFO):
        assert f'"{info.decode()}"' in source
    assert '"' + protocol.COMMITMENT_INFO.decode().replace("\n", "\\n") + '"' in source
    for header in (protocol.CLIENT_HEADER, protocol.NONCE_HEADER, protocol.SIGNATURE_HEADER,
                   protocol.BODY_DIGEST_HEADER, protocol.PAGE_URL_HEADER, protocol.IMAGE_URL_HEADER):
        assert f'"{header}"' in source, header
    assert "X-SynthSpot-Token" not in source  # no bearer secret on the wire any more


def test_content_scripts_leave_nothing_for_the_page_to_read():
    badges = (EXTENSION_DIR / "badges.js").read_text()
    content = (EXTENSION_DIR / "content.js").read_text()
    assert 'attachShadow({ mode: "closed" })' in badges and "dataset" not in badges + content
    assert "event.isTrusted" in badges
    background = (EXTENSION_DIR / "background.js").read_text()
    assert 'credentials: "include"' not in background  # cookies only through a context-menu ticket


def _js_constant(source: str, name: str) -> int:
    """A numeric `const NAME = ...;` of the extension's sources: a number, or a product like 40 * 1024 * 1024."""
    match = re.search(rf"\bconst {name} = ([\d_ *]+);", source)
    assert match, f"no const {name} in the extension"
    return math.prod(int(factor.replace("_", "")) for factor in match.group(1).split("*"))


def test_the_extensions_limits_are_the_bridges():
    """Written in JavaScript and in Python: a limit changed on one side only would make the extension send
    what the bridge refuses, or refuse what it takes."""
    from engine.bridge import privacy, server

    sources = {name: (EXTENSION_DIR / name).read_text() for name in ("bridge.js", "background.js", "content.js")}
    assert _js_constant(sources["bridge.js"], "DEFAULT_PORT") == server.DEFAULT_PORT
    assert _js_constant(sources["bridge.js"], "MAX_URL_LABEL") == privacy.MAX_URL_LABEL
    assert _js_constant(sources["background.js"], "MAX_IMAGE_BYTES") == server.MAX_BODY_BYTES
    assert _js_constant(sources["content.js"], "MAX_IMAGE_BYTES") == server.MAX_BODY_BYTES


def test_one_version_for_the_engine_the_package_and_the_extension():
    import tomllib

    import engine

    project = tomllib.loads((EXTENSION_DIR.parent / "pyproject.toml").read_text())["project"]
    assert MANIFEST["version"] == engine.__version__ == project["version"]
