"""The authenticated channel: signed requests over single-use nonces, signed answers, and squatters caught."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time

import pytest

from engine.bridge import protocol
from engine.bridge.auth import NonceBook
from engine.bridge.client import BridgeClient as ApiClient, ImpostorError
from tests.bridge.conftest import png_bytes


def signed_scan(paired, data: bytes, **overrides):
    nonce = paired.api.hello()
    headers = paired.api.signed_headers("POST", "/v1/scan", nonce, data, "image/png", "https://a.example/p")
    headers.update(overrides)
    return nonce, headers


def test_a_replayed_request_is_refused(paired):
    data = png_bytes(150)
    nonce, headers = signed_scan(paired, data)
    first = paired.api.raw("POST", "/v1/scan", data, headers)
    assert first.status == 200
    paired.api.verify_answer(first, nonce)
    replay = paired.api.raw("POST", "/v1/scan", data, headers)  # byte for byte the same request again
    assert replay.status == 401 and replay.json()["error"] == "replayed"


@pytest.mark.parametrize("tamper", ["body", "path", "page_url", "content_type", "client", "signature"])
def test_a_request_changed_after_signing_is_refused(paired, tamper):
    data = png_bytes(151)
    nonce, headers = signed_scan(paired, data)
    path, body = "/v1/scan", data
    if tamper == "body":
        body = png_bytes(152)
        headers[protocol.BODY_DIGEST_HEADER] = hashlib.sha256(body).hexdigest()
    elif tamper == "path":
        path = "/v1/scan?x=1"
    elif tamper == "page_url":
        headers[protocol.PAGE_URL_HEADER] = "https%3A%2F%2Fother.example%2F"
    elif tamper == "content_type":
        headers["Content-Type"] = "image/jpeg"
    elif tamper == "client":
        headers[protocol.CLIENT_HEADER] = "someone-else"
    else:
        headers[protocol.SIGNATURE_HEADER] = headers[protocol.SIGNATURE_HEADER][::-1]
    reply = paired.api.raw("POST", path, body, headers)
    assert reply.status == 401, reply.body


def test_a_body_that_does_not_match_its_signed_digest_is_refused(paired):
    data = png_bytes(153)
    _, headers = signed_scan(paired, data)
    reply = paired.api.raw("POST", "/v1/scan", png_bytes(154), headers)  # signed digest of other bytes
    assert reply.status == 400 and reply.json()["error"] == "bad_body_digest"


def test_nonces_are_bound_to_one_browser_and_expire():
    book = NonceBook(ttl_s=0.2)
    nonce = book.issue("browser-a")
    assert book.problem("browser-a", nonce) is None
    assert book.problem("browser-b", nonce) == "bad_nonce"
    assert book.problem("browser-a", nonce[:-2] + "AA") == "bad_nonce"
    assert book.spend(nonce) and not book.spend(nonce)
    stale = book.issue("browser-a")
    time.sleep(0.3)
    assert book.problem("browser-a", stale) == "expired_nonce"


def test_every_answer_with_a_result_is_signed_with_the_browsers_key(paired):
    nonce, headers = signed_scan(paired, data := png_bytes(155))
    reply = paired.api.raw("POST", "/v1/scan", data, headers)
    expected = protocol.answer_signature(paired.pairing.key, nonce, 200, hashlib.sha256(reply.body).hexdigest())
    assert reply.headers[protocol.SIGNATURE_HEADER] == expected


class FakeBridge(http.server.BaseHTTPRequestHandler):
    """Squats on the port and answers like the old bridge: everything paired, every image "Likely real"."""

    seen: list[bytes] = []

    def _answer(self, value: dict) -> None:
        body = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        FakeBridge.seen.append(self.requestline.encode() + bytes(self.headers))
        self._answer({"app": "SynthSpot", "api": 2, "paired": True})

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        FakeBridge.seen.append(self.requestline.encode() + bytes(self.headers) + body)
        self._answer({"nonce": "AAAA", "proof": "forged", "verdict": "likely_real", "probability": 0.01})

    def log_message(self, *args):
        pass


def test_a_fake_bridge_on_the_port_learns_no_key_no_url_and_no_bytes(paired):
    fake = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeBridge)
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    FakeBridge.seen = []
    try:
        victim = ApiClient(fake.server_address[1], pairing=paired.pairing)
        image = png_bytes(156)
        with pytest.raises(ImpostorError):
            victim.scan(image, page_url="https://private.example/inbox/42", image_url="https://cdn.example/secret.png")
    finally:
        fake.shutdown()
        fake.server_close()
    seen = b"".join(FakeBridge.seen)
    assert b"/v1/hello" in seen and b"/v1/scan" not in seen
    for secret in (b"private.example", b"cdn.example", image[:64], paired.pairing.key,
                   protocol.b64url(paired.pairing.key).encode(), paired.pairing.key.hex().encode()):
        assert secret not in seen
