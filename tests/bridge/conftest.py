"""A real bridge on 127.0.0.1 (ephemeral port) over the brightness test model, and a small HTTP client."""

from __future__ import annotations

import http.client
import io
import json
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from engine.bridge import BridgeServer, PairingState, RateLimit
from engine.bridge.extension_id import UNPACKED_EXTENSION_ID
from engine.model import Detector
from engine.scanner import Scanner
from engine.store import Store

EXTENSION_ORIGIN = f"chrome-extension://{UNPACKED_EXTENSION_ID}"


def png_bytes(value: int, size=(64, 48), noise_seed: int | None = None) -> bytes:
    """A flat grey PNG (the brightness model scores it from ``value``); noise makes each one distinct."""
    pixels = np.full((size[1], size[0], 3), value, np.uint8)
    if noise_seed is not None:
        rng = np.random.default_rng(noise_seed)
        pixels = np.clip(pixels.astype(int) + rng.integers(-2, 3, pixels.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)


class BridgeClient:
    """Talks to the bridge the way the extension does; every header can be overridden or left out."""

    def __init__(self, server: BridgeServer):
        self.server = server
        self.token: str | None = None

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None,
             origin: str | None = EXTENSION_ORIGIN, host: str | None = None, token: str | None = "paired",
             headers: dict | None = None, timeout: float = 30.0) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", host or f"127.0.0.1:{self.server.port}")
            if origin is not None:
                connection.putheader("Origin", origin)
            token = self.token if token == "paired" else token
            if token:
                connection.putheader("X-SynthSpot-Token", token)
            if content_type:
                connection.putheader("Content-Type", content_type)
            for name, value in (headers or {}).items():
                connection.putheader(name, value)
            if body is not None:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            connection.close()

    def pair(self) -> str:
        reply = self.call("POST", "/v1/pair", json.dumps({"code": self.server.pairing_code}).encode(),
                          "application/json", token=None)
        assert reply.status == 200, reply.body
        self.token = reply.json()["token"]
        return self.token

    def scan(self, data: bytes, page_url: str = "", image_url: str = "", content_type: str = "image/png") -> Reply:
        from urllib.parse import quote

        return self.call("POST", "/v1/scan", data, content_type, headers={
            "X-SynthSpot-Page-Url": quote(page_url, safe=""), "X-SynthSpot-Image-Url": quote(image_url, safe="")})


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
        options.setdefault("pairing", PairingState(tmp_path / "bridge_tokens.json"))
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
