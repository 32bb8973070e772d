"""Privacy at rest: URLs kept without queries by default, a user-only store, no local path told to a browser."""

from __future__ import annotations

import json
import os
import stat

import pytest

from engine.bridge.privacy import url_label
from engine.scanner import ScanRequest
from engine.store import Store
from tests.bridge.conftest import BridgeClient, png_bytes

SIGNED_PAGE = "https://mail.example/inbox/42?session=abc123#message-7"
SIGNED_IMAGE = "https://bucket.s3.example/photo.jpg?X-Amz-Signature=deadbeef&X-Amz-Expires=600"


def test_urls_are_stored_without_query_fragment_or_credentials_by_default(paired, store):
    sha = paired.scan(png_bytes(140), page_url=SIGNED_PAGE, image_url="https://user:pw@cdn.example:8443/a.png?t=1"
                      ).json()["sha256"]
    stored = store.find(sha)
    assert stored.page_url == "https://mail.example/inbox/42"
    assert stored.image_url == "https://cdn.example:8443/a.png"
    sha = paired.scan(png_bytes(141), page_url=SIGNED_PAGE, image_url=SIGNED_IMAGE).json()["sha256"]
    raw = open(store.path, "rb").read() + b"".join(
        open(f"{store.path}{suffix}", "rb").read() for suffix in ("-wal",) if os.path.exists(f"{store.path}{suffix}"))
    assert b"X-Amz-Signature" not in raw and b"abc123" not in raw and b"pw@" not in raw


def test_a_setting_keeps_urls_whole(make_server, store):
    client = BridgeClient(make_server(keep_url_queries=True))
    client.pair()
    sha = client.scan(png_bytes(142), page_url=SIGNED_PAGE, image_url=SIGNED_IMAGE).json()["sha256"]
    assert store.find(sha).page_url == SIGNED_PAGE and store.find(sha).image_url == SIGNED_IMAGE


@pytest.mark.parametrize("sent, kept", [
    ("data:image/png;base64,iVBORw0KGgo=", "data:image/png"),
    ("blob:https://site.example/6f1c-22", "blob:https://site.example"),
    ("http://[::1]:8080/x.png?q", "http://[::1]:8080/x.png"),
    ("https://example.org/%E4.png", "https://example.org/\ufffd.png"),
    ("not a url at all", "not a url at all"),
    ("", ""),
])
def test_url_labels(sent, kept):
    assert url_label(sent) == kept


def test_a_browser_is_never_told_a_local_path(paired, scanner, tmp_path):
    secret_folder = tmp_path / "Private photos of Alice"
    secret_folder.mkdir()
    image = secret_folder / "passport.png"
    image.write_bytes(png_bytes(143))
    local, = scanner.scan([ScanRequest(path=str(image), source="dropped")])
    assert local.ok and local.path == str(image)
    for reply in (paired.scan(image.read_bytes()), paired.call("GET", f"/v1/results/{local.sha256}")):
        assert reply.status == 200
        text = reply.body.decode()
        assert "Private photos" not in text and "passport" not in text and "path" not in json.loads(text)
        assert json.loads(text)["sha256"] == local.sha256


def test_the_store_and_its_folder_are_created_user_only(tmp_path):
    store = Store(tmp_path / "new-folder" / "results.sqlite3")
    try:
        assert stat.S_IMODE(os.stat(tmp_path / "new-folder").st_mode) == 0o700
        assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    finally:
        store.close()
