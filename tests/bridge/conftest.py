"""A real bridge on 127.0.0.1 (ephemeral port) over the brightness test model, and a small HTTP client."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from engine.bridge import BridgeServer, PairingState, RateLimit
from engine.bridge import client as bridge_client
from engine.bridge.extension_id import UNPACKED_EXTENSION_ID
from engine.model import Detector
from engine.scanner import Scanner
from engine.store import Store
from tests.conftest import checkered_grey

EXTENSION_ORIGIN = f"chrome-extension://{UNPACKED_EXTENSION_ID}"


def png_bytes(value: int, size=(64, 48), noise_seed: int | None = None) -> bytes:
    """A grey PNG of mean ``value`` with a fine checker (the brightness model scores it from ``value``;
    the engine sees detail to judge); noise makes each one distinct."""
    pixels = checkered_grey(value, size)
    if noise_seed is not None:
        rng = np.random.default_rng(noise_seed)
        pixels = np.clip(pixels.astype(int) + rng.integers(-2, 3, pixels.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


class BridgeClient:
    """Talks to the bridge the way the extension does (signed through engine.bridge.client);
    every header can be overridden, and ``signed=False`` sends a request as an unpaired client would."""

    def __init__(self, server: BridgeServer):
        self.server = server
        self.api = bridge_client.BridgeClient(server.port)
        self.last_nonce = ""

    @property
    def pairing(self) -> bridge_client.Pairing | None:
        return self.api.pairing

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None,
             origin: str | None = "default", host: str | None = None, signed: bool = True,
             headers: dict | None = None, page_url: str = "", image_url: str = "") -> bridge_client.Reply:
        sent: dict = {}
        self.api.port = self.server.port  # a restarted server may listen elsewhere
        if signed and self.api.pairing:
            self.last_nonce = self.api.hello()
            sent.update(self.api.signed_headers(method, path, self.last_nonce, body or b"", content_type or "",
                                                page_url, image_url))
        elif content_type:
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        reply = self.api.raw(method, path, body, sent, host=host, origin=origin)
        if signed and self.api.pairing and (200 <= reply.status < 300 or reply.status == 422):
            self.api.verify_answer(reply, self.last_nonce)  # answers that carry results are always signed
        return reply

    def post_json(self, path: str, value, **options) -> bridge_client.Reply:
        return self.call("POST", path, json.dumps(value).encode(), "application/json", signed=False, **options)

    def pair(self, name: str = "Test browser") -> bridge_client.Pairing:
        """Pair as the extension would, approving in the app's place (the window is opened and closed here)."""
        self.server.pairing.open_window()
        try:
            ticket = self.api.request_pairing(name)
            assert self.server.pairing.approve(ticket.request_id)
            return self.api.wait_for_approval(ticket)
        finally:
            self.server.pairing.close_window()

    def scan(self, data: bytes, page_url: str = "", image_url: str = "", content_type: str = "image/png"):
        return self.call("POST", "/v1/scan", data, content_type, page_url=page_url, image_url=image_url)


@pytest.fixture(scope="session")
def detector(brightness_model_path):
    return Detector(brightness_model_path, provider="cpu")


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "results.sqlite3")
    yield store
    store.close()


@pytest.fixture
def scanner(detector, store):
    with Scanner(detector, store=store) as scanner:
        yield scanner


@pytest.fixture
def make_server(scanner, store, tmp_path):
    """Start a bridge with overridable settings; every one started is stopped afterwards."""
    started: list[BridgeServer] = []

    def make(**options) -> BridgeServer:
        options.setdefault("port", 0)
        options.setdefault("pairing", PairingState(tmp_path / "bridge_browsers.json"))
        options.setdefault("extension_origins", (EXTENSION_ORIGIN,))
        options.setdefault("rate_limit", RateLimit(per_second=1000, burst=2000))
        server = BridgeServer(options.pop("scanner", scanner), store, **options)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server):
    return make_server()


@pytest.fixture
def client(server):
    return BridgeClient(server)


@pytest.fixture
def paired(client):
    client.pair()
    return client
