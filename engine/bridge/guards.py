"""The bridge's gatekeepers, as aiohttp middlewares, outermost first.

1. Host must name this server (127.0.0.1:PORT or localhost:PORT): a page on
   an attacker's domain that re-resolves to 127.0.0.1 (DNS rebinding) still
   sends its own Host.
2. Origin must be the extension's; a page's fetch always carries its own
   Origin and cannot forge it. CORS is answered for that origin only.
   Chromium leaves Origin off an extension's GETs to hosts it has permission
   for (it marks them ``Sec-Fetch-Site: none``, ``Sec-Fetch-Mode: cors``), so an
   Origin-less GET passes only in that shape or with no Sec-Fetch headers at
   all (not a browser); a page's <img>/<script> GET (``no-cors``) or a
   navigation is refused. Browsers always send Origin on POST.
3. A token bucket per client (its token, else its address and origin).
4. Every route but status and pair needs a paired token in ``X-SynthSpot-Token``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from engine.bridge.pairing import PairingState, hash_token

log = logging.getLogger("engine.bridge")

TOKEN_HEADER = "X-SynthSpot-Token"
PAGE_URL_HEADER = "X-SynthSpot-Page-Url"
IMAGE_URL_HEADER = "X-SynthSpot-Image-Url"
PUBLIC_PATHS = frozenset({"/v1/status", "/v1/pair"})
ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = ", ".join(["Content-Type", TOKEN_HEADER, PAGE_URL_HEADER, IMAGE_URL_HEADER])
PREFLIGHT_MAX_AGE_S = 600

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def refusal(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)


@dataclass
class RateLimit:
    """A token bucket: ``burst`` requests at once, refilled at ``per_second``."""

    per_second: float = 40.0
    burst: float = 400.0


class RateLimiter:
    """Token buckets keyed by client; only touched from the event loop, so no lock."""

    MAX_CLIENTS = 4096

    def __init__(self, limit: RateLimit):
        self.limit = limit
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        now = time.monotonic()
        tokens, last = self._buckets.get(client, (self.limit.burst, now))
        tokens = min(self.limit.burst, tokens + (now - last) * self.limit.per_second)
        if tokens >= 1.0:
            self._remember(client, tokens - 1.0, now)
            return 0.0
        self._remember(client, tokens, now)
        return (1.0 - tokens) / self.limit.per_second

    def _remember(self, client: str, tokens: float, now: float) -> None:
        if len(self._buckets) >= self.MAX_CLIENTS and client not in self._buckets:
            self._buckets.clear()  # only reachable by a flood of invented clients; forget them all
        self._buckets[client] = (tokens, now)


def host_guard(allowed_hosts: Callable[[], frozenset[str]]):
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (request.headers.get("Host") or "").lower() not in allowed_hosts():
            return refusal(403, "bad_host", "the Host header must be 127.0.0.1:PORT or localhost:PORT")
        return await handler(request)
    return middleware


def origin_guard(allowed_origins: frozenset[str]):
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None and _extension_get_without_origin(request):
            return await handler(request)
        if origin not in allowed_origins:
            # No CORS headers: a web page learns nothing, not even the reason.
            return refusal(403, "bad_origin", "only the SynthSpot browser extension may use this server")
        if request.method == "OPTIONS":
            response: web.StreamResponse = web.Response(status=204, headers={
                "Access-Control-Allow-Methods": ALLOWED_METHODS,
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
            })
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:  # aiohttp's own 404/405/413: still answer the extension with CORS
                response = refusal(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        return response
    return middleware


def _extension_get_without_origin(request: web.Request) -> bool:
    if request.method not in ("GET", "HEAD"):
        return False
    site, mode = request.headers.get("Sec-Fetch-Site"), request.headers.get("Sec-Fetch-Mode")
    if site is None and mode is None:
        return True  # not a browser: a local program, which could read the pages it wants anyway
    return site == "none" and mode == "cors"


def rate_guard(limiter: RateLimiter):
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        token = request.headers.get(TOKEN_HEADER)
        client = f"token:{hash_token(token)[:16]}" if token else f"peer:{request.remote}:{request.headers.get('Origin')}"
        wait = limiter.allow(client)
        if wait:
            return refusal(429, "rate_limited", "too many requests; slow down",
                           **{"Retry-After": str(max(1, math.ceil(wait)))})
        return await handler(request)
    return middleware


def token_guard(pairing: PairingState):
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in PUBLIC_PATHS and not pairing.is_valid(request.headers.get(TOKEN_HEADER)):
            return refusal(401, "not_paired", "pair the extension with SynthSpot first (enter the code the app shows)")
        return await handler(request)
    return middleware


class ParserErrorFilter(logging.Filter):
    """aiohttp logs a malformed request with a traceback quoting the offending bytes, which may hold a
    token header. A client's garbage is not a server fault: keep one line naming the error type only."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg, record.args = "malformed request refused (%s)", (type(error).__name__,)
            record.exc_info, record.exc_text, record.levelno, record.levelname = None, None, logging.DEBUG, "DEBUG"
        return True


def quiet_parser_errors() -> None:
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ParserErrorFilter) for f in server_log.filters):
        server_log.addFilter(ParserErrorFilter())


def access_log():
    """One DEBUG line per request: method, path without query, status, time. Never headers or bodies."""
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        response = await handler(request)
        log.debug("%s %s -> %d (%.1f ms)", request.method, request.rel_url.path, response.status,
                  1000 * (time.perf_counter() - started))
        return response
    return middleware
