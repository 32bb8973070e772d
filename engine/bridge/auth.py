"""The authenticated channel, on the server's side (protocol.py says what each side signs).

Nonces are issued without a table: a nonce is its issue time, 16 random bytes
and the server's own MAC over them and the browser's ID. Only nonces that were
used are remembered, until they expire, and only once the request carrying one
proved it holds that browser's key, so nobody without a key can grow that memory.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict

from aiohttp import web

from engine.bridge import protocol
from engine.bridge.guards import Handler, Refusal, refusal
from engine.bridge.pairing import PairingState

NONCE_TTL_S = 60.0  # the extension uses its nonce at once; this only covers a slow machine
PUBLIC_ROUTES = frozenset({("GET", "/v1/status"), ("POST", "/v1/hello"), ("POST", "/v1/pair"),
                           ("POST", "/v1/pair/reveal"), ("POST", "/v1/pair/status"), ("POST", "/v1/pair/withdraw")})
_RequestKey = getattr(web, "RequestKey", None)  # aiohttp >= 3.12 wants typed keys; older ones take strings
CLIENT = _RequestKey("synthspot_client", str) if _RequestKey else "synthspot.client"  # set once authenticated
BODY_SHA256 = _RequestKey("synthspot_body_sha256", str) if _RequestKey else "synthspot.body_sha256"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class NonceBook:
    def __init__(self, ttl_s: float = NONCE_TTL_S):
        self.ttl_s = ttl_s
        self._key = secrets.token_bytes(32)
        self._spent: OrderedDict[bytes, float] = OrderedDict()  # random part -> when it expires

    def issue(self, client_id: str) -> str:
        issued = int(time.monotonic() * 1000).to_bytes(8, "big")
        random_part = secrets.token_bytes(16)
        return protocol.b64url(issued + random_part + self._tag(issued, random_part, client_id))

    def problem(self, client_id: str, nonce: str) -> str | None:
        """None for a nonce this server issued to ``client_id`` within the TTL, else why not."""
        try:
            raw = protocol.unb64url(nonce, 64)
        except ValueError:
            return "bad_nonce"
        if len(raw) != 40 or not hmac.compare_digest(raw[24:], self._tag(raw[:8], raw[8:24], client_id)):
            return "bad_nonce"
        age_ms = int(time.monotonic() * 1000) - int.from_bytes(raw[:8], "big")
        return None if 0 <= age_ms <= self.ttl_s * 1000 else "expired_nonce"

    def spend(self, nonce: str) -> bool:
        """Mark a checked nonce used; False when it already was (a replay)."""
        now = time.monotonic()
        while self._spent and next(iter(self._spent.values())) < now:
            self._spent.popitem(last=False)
        random_part = protocol.unb64url(nonce, 64)[8:24]
        if random_part in self._spent:
            return False
        self._spent[random_part] = now + self.ttl_s
        return True

    def _tag(self, issued: bytes, random_part: bytes, client_id: str) -> bytes:
        return hmac.new(self._key, issued + random_part + client_id.encode(), hashlib.sha256).digest()[:16]


def auth_guard(pairing: PairingState, nonces: NonceBook):
    """Public routes pass unsigned; every other request must be signed by a paired browser over a fresh
    nonce, and its answer is signed back. Refusals raised by handlers become (signed) answers here."""
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        method = "GET" if request.method == "HEAD" else request.method  # HEAD asks what GET would answer
        if protocol.SIGNATURE_HEADER not in request.headers and (method, request.path) in PUBLIC_ROUTES:
            return await _answer(request, handler)
        client_id = request.headers.get(protocol.CLIENT_HEADER, "")
        key = pairing.key_for(client_id)
        if key is None:
            return _unauthorized("not_paired", "this browser is not paired with SynthSpot: pair it in the "
                                 "app's \"Pair a browser\" window")
        nonce = request.headers.get(protocol.NONCE_HEADER, "")
        problem = nonces.problem(client_id, nonce)
        if problem:
            return _unauthorized(problem, "ask /v1/hello for a fresh nonce")
        digest = request.headers.get(protocol.BODY_DIGEST_HEADER, "")
        expected = protocol.request_signature(
            key, request.method, request.raw_path, nonce, request.headers.get("Content-Type", ""),
            request.headers.get(protocol.PAGE_URL_HEADER, ""), request.headers.get(protocol.IMAGE_URL_HEADER, ""),
            digest)
        if not _SHA256_HEX.fullmatch(digest) or not protocol.same(expected, request.headers.get(
                protocol.SIGNATURE_HEADER)):
            return _unauthorized("bad_signature", "the request's signature does not match")
        if not nonces.spend(nonce):
            return _unauthorized("replayed", "this nonce was used already")
        if not request.body_exists and digest != protocol.EMPTY_SHA256:
            return _unauthorized("bad_signature", "the signed body digest does not match the empty body")
        request[CLIENT], request[BODY_SHA256] = client_id, digest
        pairing.touch(client_id)
        response = await _answer(request, handler)
        body = response.body if isinstance(response, web.Response) and isinstance(response.body, bytes) else b""
        response.headers[protocol.SIGNATURE_HEADER] = protocol.answer_signature(
            key, nonce, response.status, hashlib.sha256(body).hexdigest())
        return response
    return middleware


def check_body(request: web.Request, data: bytes) -> None:
    """The body read must be the one the browser signed (public routes are not signed)."""
    if BODY_SHA256 in request and hashlib.sha256(data).hexdigest() != request[BODY_SHA256]:
        raise Refusal(400, "bad_body_digest", "the body is not the one that was signed", close=True)


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Refusal as refused:
        return refused.response()


def _unauthorized(code: str, message: str) -> web.Response:
    response = refusal(401, code, message)
    response.force_close()  # the body of a refused request is never read
    return response
