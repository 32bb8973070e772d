"""A Python client that speaks the bridge's authenticated channel the way the extension does.

For the tests, the load bench and any local program that pairs like a browser.
Every answer to a signed request is checked against the pairing key, so a
program squatting on the port is caught before it is sent anything but a
challenge.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from engine.bridge import protocol
from engine.bridge.extension_id import UNPACKED_EXTENSION_ID

EXTENSION_ORIGIN = f"chrome-extension://{UNPACKED_EXTENSION_ID}"


class ImpostorError(Exception):
    """Whatever answers on the port could not prove it is the SynthSpot this client paired with."""


class BridgeRefused(Exception):
    def __init__(self, reply: Reply):
        super().__init__(f"HTTP {reply.status}: {reply.body[:200]!r}")
        self.reply = reply


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Pairing:
    client_id: str
    key: bytes


@dataclass
class PairingTicket:
    request_id: str
    code: str  # what the app shows beside this request
    key: bytes


class BridgeClient:
    def __init__(self, port: int, origin: str | None = EXTENSION_ORIGIN, pairing: Pairing | None = None,
                 timeout: float = 30.0):
        self.port, self.origin, self.pairing, self.timeout = port, origin, pairing, timeout

    # --- plain HTTP -----------------------------------------------------------

    def raw(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            host: str | None = None, origin: str | None = "default") -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", host or f"127.0.0.1:{self.port}")
            origin = self.origin if origin == "default" else origin
            if origin is not None:
                connection.putheader("Origin", origin)
            for name, value in (headers or {}).items():
                connection.putheader(name, value)
            if body is not None:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            connection.close()

    def post_json(self, path: str, value: dict, **options) -> Reply:
        return self.raw("POST", path, json.dumps(value).encode(), {"Content-Type": "application/json"}, **options)

    # --- pairing ----------------------------------------------------------------

    def request_pairing(self, name: str = "Python client") -> PairingTicket:
        private = X25519PrivateKey.generate()
        public = private.public_key().public_bytes_raw()
        commitment = protocol.pairing_commitment(public)  # the key itself only once the app's is known
        reply = self.post_json("/v1/pair", {"name": name, "commitment": protocol.b64url(commitment)})
        if reply.status != 202:
            raise BridgeRefused(reply)
        request_id, server_public = reply.json()["request"], protocol.unb64url(reply.json()["public_key"])
        revealed = self.post_json("/v1/pair/reveal", {"request": request_id, "public_key": protocol.b64url(public)})
        if revealed.status != 202:
            self.post_json("/v1/pair/withdraw", {"request": request_id})  # its place in the app is free again
            raise BridgeRefused(revealed)
        shared = private.exchange(X25519PublicKey.from_public_bytes(server_public))
        key, code = protocol.derive_pairing(shared, public, server_public)
        return PairingTicket(request_id, code, key)

    def pairing_answer(self, ticket: PairingTicket) -> Reply:
        return self.post_json("/v1/pair/status", {"request": ticket.request_id})

    def withdraw_pairing(self, ticket: PairingTicket) -> Reply:
        return self.post_json("/v1/pair/withdraw", {"request": ticket.request_id})

    def wait_for_approval(self, ticket: PairingTicket, timeout: float = 30.0) -> Pairing:
        deadline = time.monotonic() + timeout
        while True:
            reply = self.pairing_answer(ticket)
            if reply.status == 200:
                answer = reply.json()
                if not protocol.same(protocol.paired_proof(ticket.key, ticket.request_id, answer["client"]),
                                     answer.get("proof")):
                    raise ImpostorError("the pairing answer was not made with the key this client derived")
                self.pairing = Pairing(answer["client"], ticket.key)
                return self.pairing
            if reply.status != 202 or time.monotonic() > deadline:
                raise BridgeRefused(reply)
            time.sleep(0.05)

    # --- the signed channel -----------------------------------------------------

    def _paired(self) -> Pairing:
        if self.pairing is None:
            raise RuntimeError("this client is not paired: wait_for_approval() first, or pass a Pairing")
        return self.pairing

    def hello(self) -> str:
        """A fresh nonce from a server that proved it holds this client's key."""
        pairing = self._paired()
        challenge = protocol.b64url(secrets.token_bytes(32))
        # The browser's ID in a header too: the rate limiter counts hellos against that browser's bucket.
        reply = self.raw("POST", "/v1/hello", json.dumps({"client": pairing.client_id, "challenge": challenge})
                         .encode(), {"Content-Type": "application/json", protocol.CLIENT_HEADER: pairing.client_id})
        if reply.status != 200:
            raise BridgeRefused(reply)
        answer = reply.json()
        nonce = answer.get("nonce", "")
        if not protocol.same(protocol.server_proof(pairing.key, pairing.client_id, challenge, nonce),
                             answer.get("proof")):
            raise ImpostorError("the server's proof does not match this client's key")
        return nonce

    def signed_headers(self, method: str, path: str, nonce: str, body: bytes = b"", content_type: str = "",
                       page_url: str = "", image_url: str = "") -> dict:
        page, image = quote(page_url, safe=""), quote(image_url, safe="")
        digest = hashlib.sha256(body).hexdigest()
        pairing = self._paired()
        headers = {protocol.CLIENT_HEADER: pairing.client_id, protocol.NONCE_HEADER: nonce,
                   protocol.BODY_DIGEST_HEADER: digest,
                   protocol.SIGNATURE_HEADER: protocol.request_signature(
                       pairing.key, method, path, nonce, content_type, page, image, digest)}
        for name, value in (("Content-Type", content_type), (protocol.PAGE_URL_HEADER, page),
                            (protocol.IMAGE_URL_HEADER, image)):
            if value:
                headers[name] = value
        return headers

    def verify_answer(self, reply: Reply, nonce: str) -> None:
        digest = hashlib.sha256(reply.body).hexdigest()
        expected = protocol.answer_signature(self._paired().key, nonce, reply.status, digest)
        if not protocol.same(expected, reply.headers.get(protocol.SIGNATURE_HEADER)):
            raise ImpostorError(f"the answer (HTTP {reply.status}) is not signed with this client's key")

    def call(self, method: str, path: str, body: bytes = b"", content_type: str = "", page_url: str = "",
             image_url: str = "") -> Reply:
        nonce = self.hello()
        headers = self.signed_headers(method, path, nonce, body, content_type, page_url, image_url)
        reply = self.raw(method, path, body if body or method == "POST" else None, headers)
        self.verify_answer(reply, nonce)
        return reply

    def scan(self, data: bytes, page_url: str = "", image_url: str = "", content_type: str = "image/png") -> Reply:
        return self.call("POST", "/v1/scan", data, content_type, page_url, image_url)
