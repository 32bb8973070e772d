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
3. A body cap per route, on what the client declares; handlers read bodies
   through ``bodies.read_body``, which counts the bytes really read (chunked too).
4. Token buckets per connection and per paired browser; everything not
   claiming a paired browser shares one bucket, so invented identities buy nothing.
5. The authenticated channel (auth.py).
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from engine.bridge import protocol

log = logging.getLogger("engine.bridge")

ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = ", ".join(["Content-Type", protocol.CLIENT_HEADER, protocol.NONCE_HEADER, protocol.SIGNATURE_HEADER,
                             protocol.BODY_DIGEST_HEADER, protocol.PAGE_URL_HEADER, protocol.IMAGE_URL_HEADER])
PREFLIGHT_MAX_AGE_S = 600
LOG_INTERVAL_S = 60.0  # client faults (malformed requests, refused connections) are summed up this often

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refusal(Exception):
    """A 4xx answer raised from deep inside a handler (body too large, bad JSON...)."""

    def __init__(self, status: int, code: str, message: str, close: bool = False, **headers: str):
        super().__init__(message)
        self.status, self.code, self.message, self.close, self.headers = status, code, message, close, headers

    def response(self) -> web.Response:
        response = refusal(self.status, self.code, self.message, **self.headers)
        if self.close:
            response.force_close()  # do not read (or linger over) the rest of the body
        return response


def size_text(size: int) -> str:
    """40 MB, not 41943040 bytes."""
    return f"{size / 2**20:g} MB" if size >= 2**20 else f"{size / 2**10:g} KB" if size >= 2**10 else f"{size} bytes"


def refusal(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)


@dataclass
class RateLimit:
    """A token bucket: ``burst`` requests at once, refilled at ``per_second``."""

    per_second: float = 40.0
    burst: float = 400.0


class RateLimiter:
    """Token buckets by key; only touched from the event loop, so no lock.

    A bucket is forgotten only once it has refilled (forgetting it then changes
    nothing). When the table is full of buckets still draining, new keys share
    one overflow bucket instead of pushing anyone out."""

    MAX_CLIENTS = 4096
    OVERFLOW = "\0overflow"
    PRUNE_EVERY_S = 1.0

    def __init__(self, limit: RateLimit):
        self.limit = limit
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._pruned = 0.0

    def allow(self, key: str) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        now = time.monotonic()
        if key not in self._buckets and len(self._buckets) >= self.MAX_CLIENTS:
            self._prune(now)
            if len(self._buckets) >= self.MAX_CLIENTS:
                key = self.OVERFLOW
        tokens, last = self._buckets.get(key, (self.limit.burst, now))
        tokens = min(self.limit.burst, tokens + (now - last) * self.limit.per_second)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        self._buckets.move_to_end(key)
        return 0.0 if allowed else (1.0 - tokens) / self.limit.per_second

    def _prune(self, now: float) -> None:
        if now - self._pruned < self.PRUNE_EVERY_S:
            return
        self._pruned = now
        full = [key for key, (tokens, last) in self._buckets.items()
                if key != self.OVERFLOW and tokens + (now - last) * self.limit.per_second >= self.limit.burst]
        for key in full:
            del self._buckets[key]


def host_guard(allowed_hosts: Callable[[], frozenset[str]]):
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (request.headers.get("Host") or "").lower() not in allowed_hosts():
            return _closing(refusal(403, "bad_host", "the Host header must be 127.0.0.1:PORT or localhost:PORT"))
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
            return _closing(refusal(403, "bad_origin", "only the SynthSpot browser extension may use this server"))
        if request.method == "OPTIONS":
            response: web.StreamResponse = web.Response(status=204, headers={
                "Access-Control-Allow-Methods": ALLOWED_METHODS,
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
            })
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:  # aiohttp's own 404/405: still answer the extension with CORS
                response = refusal(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = protocol.SIGNATURE_HEADER
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


def route_guard():
    """An address the bridge does not have, or a method it does not take there, is said as such (404,
    405) before the body and pairing checks, which would otherwise answer "too large" or "not paired"."""
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        error = request.match_info.http_exception
        if error is None:
            return await handler(request)
        if isinstance(error, web.HTTPMethodNotAllowed):
            allowed = ", ".join(sorted(error.allowed_methods))
            return _closing(refusal(405, "method_not_allowed", f"this address takes {allowed} only", Allow=allowed))
        return _closing(refusal(error.status, "not_found", "SynthSpot's bridge has no such address"))
    return middleware


def body_cap_guard(cap_for: Callable[[web.Request], int]):
    """Refuse, before reading a byte of it, a body larger than the route takes, or any chunked body
    sent to a route that takes none. Chunked bodies for routes that take one are counted as they are
    read (bodies.read_body)."""
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        cap = cap_for(request)
        declared = request.content_length
        if declared is not None and declared > cap or declared is None and request.body_exists and cap == 0:
            what = "this request takes no body" if cap == 0 else f"the body is over {size_text(cap)}"
            return _closing(refusal(413, "too_large", what))
        return await handler(request)
    return middleware


# Cheap, stateless questions a browser asks before it is paired ("is SynthSpot there?", "was I approved?"):
# kept out of the one bucket every unpaired caller shares, so that a local process flooding it cannot
# answer a real browser's pairing with "busy" (a security review). Each connection still has its own limit.
OUTSIDE_SHARED_BUCKET = frozenset({("GET", "/v1/status"), ("POST", "/v1/pair/status")})


def rate_guard(limiter: RateLimiter, is_paired_client: Callable[[str], bool]):
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        claimed = request.headers.get(protocol.CLIENT_HEADER, "")
        who = f"browser:{claimed}" if claimed and is_paired_client(claimed) else "unpaired"
        wait = limiter.allow(f"connection:{peer}")
        if who != "unpaired" or (request.method, request.path) not in OUTSIDE_SHARED_BUCKET:
            wait = max(wait, limiter.allow(who))
        if wait:
            return refusal(429, "rate_limited", "too many requests; slow down",
                           **{"Retry-After": str(max(1, math.ceil(wait)))})
        return await handler(request)
    return middleware


def _closing(response: web.Response) -> web.Response:
    response.force_close()  # an unread body is never drained
    return response


class ClientFaultLog:
    """Counts client faults (malformed requests, failed accepts) and logs one line per kind per interval.
    A client's garbage is not a server fault, and a flood of it must not flood the logs."""

    def __init__(self, interval_s: float = LOG_INTERVAL_S):
        self.interval_s = interval_s
        self._counts: dict[str, int] = {}
        self._logged: dict[str, float] = {}

    def note(self, kind: str, level: int = logging.INFO) -> None:
        self._counts[kind] = self._counts.get(kind, 0) + 1
        now = time.monotonic()
        if now - self._logged.get(kind, -math.inf) >= self.interval_s:
            count, self._counts[kind], self._logged[kind] = self._counts[kind], 0, now
            log.log(level, "%s (%d since the last such line)", kind, count)


class ParserErrorFilter(logging.Filter):
    """aiohttp logs a malformed request with a traceback quoting the offending bytes, which may hold
    credentials. Drop those records; count them in one line per interval naming the error type only."""

    def __init__(self, faults: ClientFaultLog):
        super().__init__()
        self.faults = faults

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            self.faults.note(f"malformed requests refused ({type(error).__name__})")
            return False
        return True


_parser_faults = ClientFaultLog()


def quiet_parser_errors() -> None:
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ParserErrorFilter) for f in server_log.filters):
        server_log.addFilter(ParserErrorFilter(_parser_faults))


def access_log():
    """One DEBUG line per request: method, path without query, status, time. Never headers or bodies."""
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        response = await handler(request)
        log.debug("%s %s -> %d (%.1f ms)", request.method, request.rel_url.raw_path[:200], response.status,
                  1000 * (time.perf_counter() - started))
        return response
    return middleware


async def no_early_continue(_request: web.Request) -> None:
    """Answer "Expect: 100-continue" with nothing: aiohttp's default sent "100 Continue" before any check ran,
    telling a refused upload (wrong origin, unpaired, over the cap) to go ahead. The final answer comes once
    the checks have run; a client that waits for the 100 sends its body after its own short wait (curl: 1 s),
    and browsers never ask."""
