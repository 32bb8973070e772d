"""The localhost bridge: an aiohttp server on 127.0.0.1 that the browser extension sends image bytes to.

The app (or ``synthspot serve``) hosts one :class:`BridgeServer`; it runs its own
event loop on a background thread, and scans go to the engine's Scanner on an
executor so the loop never blocks. The server only ever reads the bytes it is
sent: it never fetches a URL, and page and image URLs are kept only as labels
(without query strings unless asked, see privacy.py). Who may talk to it:
guards.py and auth.py; how pairing works: pairing.py; what it answers about a
result, and how that format is versioned: payload.py.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable

from aiohttp import web

import engine
from engine.bridge import auth, bodies, connections, guards, privacy, protocol
from engine.bridge.extension_id import configured_extension_origins
from engine.bridge.pairing import (PAIRING_FILE, CommitmentMismatch, PairingClosed, PairingState, PairingSuspended,
                                   TooManyRequests, UnknownRequest)
from engine.bridge.payload import API_VERSION, result_payload
from engine.result import Result
from engine.scanner import Scanner, ScannerClosed
from engine.store import Store

log = logging.getLogger("engine.bridge")

DEFAULT_PORT = 47615
HOST = "127.0.0.1"
MAX_BODY_BYTES = 40 * 1024 * 1024
MAX_JSON_BYTES = 4096  # pairing and hello bodies are a name, a key and a challenge
CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43,128}")  # base64url, unpadded: 32 to 96 random bytes
BODY_TIMEOUT_S = 30.0  # a body that has not arrived by then is a stalled client
IDLE_TIMEOUT_S = 15.0  # a connection must send a whole request head within this (aiohttp's keep-alive timer)
LINGER_S = 1.0  # after refusing a body, drain it this long (so the client reads the answer), then hang up
MAX_CONCURRENT_SCANS = 16  # bounds the memory held in request bodies (16 x 40 MB); only paired browsers get here
SCAN_CONTENT_TYPES = ("application/octet-stream",)
_SHA256 = re.compile(r"[0-9a-f]{64}")


class PortUnavailableError(OSError):
    """The bridge cannot listen on its port; ``strerror`` says why, in words."""


class PortInUseError(PortUnavailableError):
    """The bridge's port is taken, most likely by another SynthSpot."""


class BridgeServer:
    def __init__(self, scanner: Scanner | None, store: Store | None, port: int = DEFAULT_PORT,
                 extension_origins: tuple[str, ...] | None = None, pairing: PairingState | None = None,
                 on_scan: Callable[[Result], None] | None = None, on_open: Callable[[str], None] | None = None,
                 rate_limit: guards.RateLimit | None = None, max_body_bytes: int = MAX_BODY_BYTES,
                 body_timeout_s: float = BODY_TIMEOUT_S, idle_timeout_s: float = IDLE_TIMEOUT_S,
                 keep_url_queries: bool | None = None):
        self.scanner = scanner
        self.store = store
        self.requested_port = port
        self.extension_origins = frozenset(extension_origins or configured_extension_origins())
        self.pairing = pairing or PairingState(store.path.parent / PAIRING_FILE if store else None)
        self.on_scan = on_scan
        self.on_open = on_open
        self.rate_limit = rate_limit or guards.RateLimit()
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.idle_timeout_s = idle_timeout_s
        # Off unless asked for, here or with SYNTHSPOT_KEEP_URL_QUERIES=1 (privacy.py says why).
        self.keep_url_queries = (os.environ.get(privacy.KEEP_QUERIES_ENV) == "1" if keep_url_queries is None
                                 else keep_url_queries)
        self.port = 0
        self._nonces = auth.NonceBook()
        self._faults = guards.ClientFaultLog()
        self._allowed_hosts: frozenset[str] = frozenset()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._scan_slots: asyncio.Semaphore | None = None
        self._started = threading.Event()
        self._startup_error: BaseException | None = None

    # --- what the app uses ----------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._startup_error is None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def set_scanner(self, scanner: Scanner | None) -> None:
        """Swap the scanner (the user picked another model); scans already running finish on the old one."""
        self.scanner = scanner

    def start(self, timeout: float = 10.0) -> BridgeServer:
        if self._thread is not None:
            raise RuntimeError("the bridge is already started")
        guards.quiet_parser_errors()
        self._started.clear()
        self._startup_error = None
        self._executor = ThreadPoolExecutor(max_workers=MAX_CONCURRENT_SCANS + 2, thread_name_prefix="synthspot-bridge")
        self._thread = threading.Thread(target=self._serve, name="synthspot-bridge", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise TimeoutError("the bridge did not start in time")
        if self._startup_error is not None:
            self._thread.join(timeout)
            self._thread = None
            self._executor.shutdown(wait=False)
            raise self._startup_error
        log.info("bridge listening on %s", self.url)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> BridgeServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- the event loop thread --------------------------------------------------

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        connections.quiet_accept_failures(loop, self._faults)
        try:
            loop.run_until_complete(self._listen())
        except BaseException as exc:  # reported to start()'s caller
            self._startup_error = exc
            loop.run_until_complete(self._shutdown())
            loop.close()
            self._started.set()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _listen(self) -> None:
        self._scan_slots = asyncio.Semaphore(MAX_CONCURRENT_SCANS)
        self._runner = web.AppRunner(self._build_app(), access_log=None, keepalive_timeout=self.idle_timeout_s,
                                     lingering_time=LINGER_S, handle_signals=False)
        await self._runner.setup()
        assert self._runner.server is not None  # setup() made it
        connections.shed_idle_connections(self._runner.server, connections.connection_cap())
        site = web.TCPSite(self._runner, HOST, self.requested_port, reuse_port=False)
        try:
            await site.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    exc.errno, f"port {self.requested_port} on {HOST} is already in use; is SynthSpot (or "
                    f"`synthspot serve`) already running? Close it or choose another port.") from None
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise PortUnavailableError(
                    exc.errno, f"port {self.requested_port} on {HOST} needs administrator rights (as ports below "
                    f"1024 do); choose a port from 1024 to 65535.") from None
            raise
        self.port = self._runner.addresses[0][1]
        self._allowed_hosts = frozenset({f"{HOST}:{self.port}", f"localhost:{self.port}"})

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        # Connections that were hung up on leave their handler tasks behind; end them before the loop closes.
        leftovers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body_bytes, middlewares=[
            guards.access_log(),
            guards.host_guard(lambda: self._allowed_hosts),
            guards.origin_guard(self.extension_origins),
            guards.route_guard(),
            guards.body_cap_guard(self._body_cap),
            guards.rate_guard(guards.RateLimiter(self.rate_limit), lambda cid: self.pairing.key_for(cid) is not None),
            auth.auth_guard(self.pairing, self._nonces),
        ])
        routes = [("GET", "/v1/status", self._status), ("POST", "/v1/hello", self._hello),
                  ("POST", "/v1/pair", self._pair), ("POST", "/v1/pair/reveal", self._pair_reveal),
                  ("POST", "/v1/pair/status", self._pair_status), ("POST", "/v1/pair/withdraw", self._pair_withdraw),
                  ("POST", "/v1/forget", self._forget), ("POST", "/v1/scan", self._scan),
                  ("GET", "/v1/results/{sha256}", self._result), ("POST", "/v1/open/{sha256}", self._open)]
        for method, path, handler in routes:  # GET routes answer HEAD too
            add = app.router.add_get if method == "GET" else app.router.add_post
            add(path, handler, expect_handler=guards.no_early_continue)
        return app

    def _body_cap(self, request: web.Request) -> int:
        if request.path == "/v1/scan":
            return self.max_body_bytes
        if request.path in ("/v1/hello", "/v1/pair", "/v1/pair/reveal", "/v1/pair/status", "/v1/pair/withdraw"):
            return MAX_JSON_BYTES
        return 0

    async def _json_body(self, request: web.Request) -> dict:
        if request.content_type != "application/json":
            raise guards.Refusal(415, "bad_content_type", "send a JSON object (application/json)", close=True)
        data = await bodies.read_body(request, MAX_JSON_BYTES, self.body_timeout_s)
        auth.check_body(request, data)
        return bodies.parse_json_object(data)

    # --- routes: open to anyone who passes the Host and Origin guards ------------

    async def _status(self, request: web.Request) -> web.Response:
        status = {"app": "SynthSpot", "version": engine.__version__, "api": API_VERSION,
                  "pairing_open": self.pairing.window_open, "paired": auth.CLIENT in request}
        if auth.CLIENT in request:  # what only a paired browser needs to know
            scanner = self.scanner
            detector = scanner.detector if scanner else None
            status.update({
                "browser_name": self.pairing.name_of(request[auth.CLIENT]),
                "model": {"name": detector.metadata.name, "version": detector.metadata.version} if detector else None,
                "provider": detector.active_provider if detector else None,
                "can_open_in_app": self.on_open is not None,
                "max_body_bytes": self.max_body_bytes,
            })
        return web.json_response(status)

    async def _hello(self, request: web.Request) -> web.Response:
        """Prove to a paired browser that this is the app it paired with, and hand it a fresh nonce."""
        body = await self._json_body(request)
        client_id, challenge = body.get("client"), body.get("challenge")
        if not isinstance(challenge, str) or not CHALLENGE.fullmatch(challenge):
            raise guards.Refusal(400, "bad_challenge", "send 32 or more random bytes, base64url, as \"challenge\"")
        key = self.pairing.key_for(client_id) if isinstance(client_id, str) else None
        if key is None or not isinstance(client_id, str):
            raise guards.Refusal(401, "not_paired", "this browser is not paired with SynthSpot")
        nonce = self._nonces.issue(client_id)
        return web.json_response({"nonce": nonce, "proof": protocol.server_proof(key, client_id, challenge, nonce),
                                  "expires_in": self._nonces.ttl_s})

    async def _pair(self, request: web.Request) -> web.Response:
        """Step one: the browser's name and its commitment to a key (``pairing.py`` says why it comes first)."""
        body = await self._json_body(request)
        name = body.get("name")
        name = name if isinstance(name, str) else ""
        if "commitment" not in body and "public_key" in body:
            raise guards.Refusal(400, "update_extension", "this SynthSpot pairs in two steps (a commitment, then "
                                 "the key): update the browser extension")
        try:
            commitment = protocol.unb64url(body.get("commitment"), 64)
            request_id, server_public = self.pairing.request(name, commitment)
        except PairingClosed:
            raise guards.Refusal(403, "pairing_closed", "pairing is closed: open \"Pair a browser\" in the SynthSpot "
                                 "app (or run `synthspot serve --pair`) first") from None
        except PairingSuspended:
            raise guards.Refusal(403, "pairing_suspended", "pairing stopped: more requests came than a person "
                                 "makes; close and reopen \"Pair a browser\" in the app to pair") from None
        except TooManyRequests:
            raise guards.Refusal(429, "too_many_requests", "several pairing requests already wait (in the app, or "
                                 "for their browser's key): try again in a few seconds") from None
        except ValueError:
            raise guards.Refusal(400, "bad_commitment", "\"commitment\" must be the base64url SHA-256 of "
                                 "\"synthspot pairing commitment v1\\n\" and the browser's public key") from None
        return web.json_response({"request": request_id, "public_key": protocol.b64url(server_public),
                                  "state": "committed"}, status=202)

    async def _pair_reveal(self, request: web.Request) -> web.Response:
        """Step two: the key committed to, now that the app's key is known; the app then shows the code."""
        body = await self._json_body(request)
        request_id = body.get("request")
        try:
            public_key = protocol.unb64url(body.get("public_key"), 64)
            if not isinstance(request_id, str):
                raise UnknownRequest()
            self.pairing.reveal(request_id, public_key)
        except UnknownRequest:
            raise guards.Refusal(404, "unknown_request", "no pairing request waits for this key (it expired, or "
                                 "the pairing window was closed)") from None
        except CommitmentMismatch:
            raise guards.Refusal(400, "commitment_mismatch", "this is not the key the request committed to; "
                                 "the request was dropped") from None
        except ValueError:
            raise guards.Refusal(400, "bad_key", "\"public_key\" must be a base64url X25519 public key") from None
        log.info("pairing requested by a browser; waiting for approval in the app")
        return web.json_response({"state": "pending"}, status=202)

    async def _pair_status(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        request_id = body.get("request")
        found = self.pairing.answer(request_id) if isinstance(request_id, str) else None
        if found is None:
            raise guards.Refusal(404, "unknown_request", "no such pairing request (it expired, or the pairing "
                                 "window was closed)")
        if found.state == "refused":
            raise guards.Refusal(403, "pairing_refused", "the pairing was refused in the app")
        if found.state in ("committed", "pending"):  # committed: its key is still to come
            return web.json_response({"state": "pending"}, status=202)
        return web.json_response({"state": "approved", "client": found.client_id,
                                  "proof": protocol.paired_proof(found.key, found.request_id, found.client_id)})

    async def _pair_withdraw(self, request: web.Request) -> web.Response:
        """The browser stopped waiting. Its request's ID, random and known only to it and the app, is the
        only proof needed: nobody else can withdraw (or learn of) another browser's request."""
        body = await self._json_body(request)
        request_id = body.get("request")
        if not (isinstance(request_id, str) and self.pairing.withdraw(request_id)):
            raise guards.Refusal(404, "unknown_request", "no such pairing request (it expired, or the pairing "
                                 "window was closed)")
        return web.json_response({"state": "withdrawn"})

    # --- routes: signed by a paired browser (auth.auth_guard) -------------------

    async def _forget(self, request: web.Request) -> web.Response:
        """The browser unpairs itself."""
        self.pairing.revoke(request[auth.CLIENT])
        return web.json_response({"forgotten": True})

    async def _scan(self, request: web.Request) -> web.Response:
        if not (request.content_type.startswith("image/") or request.content_type in SCAN_CONTENT_TYPES):
            raise guards.Refusal(415, "bad_content_type", "send the image bytes as image/* or "
                                 "application/octet-stream", close=True)
        if request.content_length == 0:
            raise guards.Refusal(400, "empty_body", "the request carried no image bytes")
        slots = self._scan_slots
        if self.scanner is None or slots is None:
            raise _no_model()
        page_url = privacy.url_label(request.headers.get(protocol.PAGE_URL_HEADER), self.keep_url_queries)
        image_url = privacy.url_label(request.headers.get(protocol.IMAGE_URL_HEADER), self.keep_url_queries)
        async with slots:
            try:
                data = await bodies.read_body(request, self.max_body_bytes, self.body_timeout_s)
            except guards.Refusal as refused:
                if refused.status == 413:
                    refused.message = f"images over {self.max_body_bytes // (1024 * 1024)} MB are not scanned"
                raise
            if not data:
                raise guards.Refusal(400, "empty_body", "the request carried no image bytes")
            auth.check_body(request, data)
            result = await self._scan_on_current_scanner(data, page_url, image_url)
        if self.on_scan is not None:
            try:
                self.on_scan(result)
            except Exception:
                log.exception("the app's scan callback failed")
        return web.json_response(result_payload(result), status=200 if result.ok else 422)

    async def _scan_on_current_scanner(self, data: bytes, page_url: str, image_url: str):
        """The scanner is taken once the body is in (another model may have been chosen while it arrived), and
        a scan that the model's change cut short is run again on the new one."""
        loop = asyncio.get_running_loop()
        for _attempt in range(2):
            scanner = self.scanner
            if scanner is None:
                raise _no_model()
            try:
                return await loop.run_in_executor(self._executor, functools.partial(
                    scanner.scan_bytes, data, source="browser", page_url=page_url, image_url=image_url))
            except ScannerClosed:
                continue
        raise guards.Refusal(503, "model_changed", "SynthSpot's model changed while this image waited; try again")

    async def _result(self, request: web.Request) -> web.Response:
        sha256 = self._sha256(request)
        if self.store is None:
            raise guards.Refusal(404, "not_found", "no results are kept")
        result = await asyncio.get_running_loop().run_in_executor(self._executor, self.store.find, sha256)
        if result is None:
            raise guards.Refusal(404, "not_found", "SynthSpot has no result for this image")
        result.cached = True  # read back from the store (the stored blob says how it was first made)
        return web.json_response(result_payload(result))

    async def _open(self, request: web.Request) -> web.Response:
        sha256 = self._sha256(request)
        if self.on_open is None:
            raise guards.Refusal(409, "no_app_window",
                                 "SynthSpot runs without a window (synthspot serve); open the app to see details")
        self.on_open(sha256)
        return web.json_response({"opened": sha256})

    @staticmethod
    def _sha256(request: web.Request) -> str:
        sha256 = request.match_info["sha256"].lower()
        if not _SHA256.fullmatch(sha256):
            raise guards.Refusal(400, "bad_sha256", "expected 64 hexadecimal digits")
        return sha256


def _no_model() -> guards.Refusal:
    return guards.Refusal(503, "no_model", "SynthSpot has no detection model loaded; choose one in the app", close=True)
