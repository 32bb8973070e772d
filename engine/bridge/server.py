"""The localhost bridge: an aiohttp server on 127.0.0.1 that the browser extension sends image bytes to.

The app (or ``synthspot serve``) hosts one :class:`BridgeServer`; it runs its own
event loop on a background thread, and scans go to the engine's Scanner on an
executor so the loop never blocks. The server only ever reads the bytes it is
sent: it never fetches a URL, the page and image URLs are stored as labels.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable
from urllib.parse import unquote

from aiohttp import web

import engine
from engine.bridge import guards
from engine.bridge.extension_id import configured_extension_origins
from engine.bridge.pairing import TOKENS_FILE, PairingState
from engine.result import Result
from engine.scanner import Scanner
from engine.store import Store

log = logging.getLogger("engine.bridge")

API_VERSION = 1
DEFAULT_PORT = 47615
HOST = "127.0.0.1"
MAX_BODY_BYTES = 40 * 1024 * 1024
BODY_TIMEOUT_S = 30.0  # a body that has not arrived by then is a stalled client
IDLE_TIMEOUT_S = 15.0  # a connection must send a whole request head within this (aiohttp's keep-alive timer)
LINGER_S = 1.0  # after refusing a body, drain it this long (so the client reads the answer), then hang up
MAX_CONCURRENT_SCANS = 16  # bounds the memory held in request bodies (16 x 40 MB); only paired clients get here
MAX_URL_LABEL = 2048
# Wrong codes already replace the code after a few tries; this caps guesses across codes, for every client at once.
PAIR_ATTEMPTS = guards.RateLimit(per_second=10 / 60, burst=10)
SCAN_CONTENT_TYPES = ("application/octet-stream",)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class PortInUseError(OSError):
    """The bridge's port is taken, most likely by another SynthSpot."""


class BridgeServer:
    def __init__(self, scanner: Scanner | None, store: Store | None, port: int = DEFAULT_PORT,
                 extension_origins: tuple[str, ...] | None = None, pairing: PairingState | None = None,
                 on_scan: Callable[[Result], None] | None = None, on_open: Callable[[str], None] | None = None,
                 rate_limit: guards.RateLimit | None = None, max_body_bytes: int = MAX_BODY_BYTES,
                 body_timeout_s: float = BODY_TIMEOUT_S, idle_timeout_s: float = IDLE_TIMEOUT_S):
        self.scanner = scanner
        self.store = store
        self.requested_port = port
        self.extension_origins = frozenset(extension_origins or configured_extension_origins())
        self.pairing = pairing or PairingState(store.path.parent / TOKENS_FILE if store else None)
        self.on_scan = on_scan
        self.on_open = on_open
        self.rate_limit = rate_limit or guards.RateLimit()
        self._pair_attempts = guards.RateLimiter(PAIR_ATTEMPTS)
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.port = 0
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

    @property
    def pairing_code(self) -> str:
        return self.pairing.code

    def revoke(self) -> int:
        return self.pairing.revoke()

    def set_scanner(self, scanner: Scanner | None) -> None:
        """Swap the scanner (the user picked another model); scans already running finish on the old one."""
        self.scanner = scanner

    def start(self, timeout: float = 10.0) -> "BridgeServer":
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
        self._executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> "BridgeServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- the event loop thread --------------------------------------------------

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
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
        site = web.TCPSite(self._runner, HOST, self.requested_port, reuse_port=False)
        try:
            await site.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    exc.errno, f"port {self.requested_port} on {HOST} is already in use; is SynthSpot (or "
                    f"`synthspot serve`) already running? Close it or choose another port.") from None
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
            guards.rate_guard(guards.RateLimiter(self.rate_limit)),
            guards.token_guard(self.pairing),
        ])
        app.router.add_get("/v1/status", self._status)
        app.router.add_post("/v1/pair", self._pair)
        app.router.add_post("/v1/scan", self._scan)
        app.router.add_get("/v1/results/{sha256}", self._result)
        app.router.add_post("/v1/open/{sha256}", self._open)
        return app

    # --- routes ---------------------------------------------------------------

    async def _status(self, request: web.Request) -> web.Response:
        scanner = self.scanner
        detector = scanner.detector if scanner else None
        return web.json_response({
            "app": "SynthSpot",
            "version": engine.__version__,
            "api": API_VERSION,
            "model": {"name": detector.metadata.name, "version": detector.metadata.version} if detector else None,
            "provider": detector.active_provider if detector else None,
            "paired": self.pairing.is_valid(request.headers.get(guards.TOKEN_HEADER)),
            "can_open_in_app": self.on_open is not None,
            "max_body_bytes": self.max_body_bytes,
        })

    async def _pair(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return guards.refusal(415, "bad_content_type", "send the code as JSON: {\"code\": \"123456\"}")
        if (request.content_length or 0) > 4096:
            return _too_large("the pairing request is too large")
        try:
            body = await asyncio.wait_for(request.json(), self.body_timeout_s)
        except asyncio.TimeoutError:
            return _timed_out()
        except ValueError:
            return guards.refusal(400, "bad_json", "the body is not valid JSON")
        code = body.get("code") if isinstance(body, dict) else None
        if not isinstance(code, str) or not code.strip():
            return guards.refusal(400, "missing_code", "the JSON body needs a \"code\" string")
        label = body.get("label") if isinstance(body.get("label"), str) else ""
        wait = self._pair_attempts.allow("everyone")
        if wait:
            return guards.refusal(429, "rate_limited", "too many pairing attempts; wait a minute",
                                  **{"Retry-After": str(max(1, round(wait)))})
        token = self.pairing.pair(code, label)
        if token is None:
            log.info("pairing refused: wrong code")
            return guards.refusal(403, "wrong_code", "that code is not the one SynthSpot shows now")
        log.info("extension paired")
        return web.json_response({"token": token})

    async def _scan(self, request: web.Request) -> web.Response:
        if not (request.content_type.startswith("image/") or request.content_type in SCAN_CONTENT_TYPES):
            return guards.refusal(415, "bad_content_type", "send the image bytes as image/* or application/octet-stream")
        declared = request.content_length
        if declared is not None and declared > self.max_body_bytes:
            return _too_large(f"images over {self.max_body_bytes // (1024 * 1024)} MB are not scanned")
        if declared == 0:
            return guards.refusal(400, "empty_body", "the request carried no image bytes")
        scanner = self.scanner
        if scanner is None:
            return guards.refusal(503, "no_model", "SynthSpot has no detection model loaded; choose one in the app")
        page_url = _url_label(request.headers.get(guards.PAGE_URL_HEADER))
        image_url = _url_label(request.headers.get(guards.IMAGE_URL_HEADER))
        async with self._scan_slots:
            try:
                data = await asyncio.wait_for(request.read(), self.body_timeout_s)
            except asyncio.TimeoutError:
                return _timed_out()
            except web.HTTPRequestEntityTooLarge:  # chunked bodies have no Content-Length to check up front
                return _too_large(f"images over {self.max_body_bytes // (1024 * 1024)} MB are not scanned")
            if not data:
                return guards.refusal(400, "empty_body", "the request carried no image bytes")
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self._executor, functools.partial(
                scanner.scan_bytes, data, source="browser", page_url=page_url, image_url=image_url))
        if self.on_scan is not None:
            try:
                self.on_scan(result)
            except Exception:
                log.exception("the app's scan callback failed")
        payload = _result_payload(result)
        if not result.ok:
            payload.update(error="not_scanned", message=result.error)
            return web.json_response(payload, status=422)
        return web.json_response(payload)

    async def _result(self, request: web.Request) -> web.Response:
        sha256 = request.match_info["sha256"].lower()
        if not _SHA256.match(sha256):
            return guards.refusal(400, "bad_sha256", "expected 64 hexadecimal digits")
        if self.store is None:
            return guards.refusal(404, "not_found", "no results are kept")
        result = await asyncio.get_running_loop().run_in_executor(self._executor, self.store.find, sha256)
        if result is None:
            return guards.refusal(404, "not_found", "SynthSpot has no result for this image")
        return web.json_response(_result_payload(result))

    async def _open(self, request: web.Request) -> web.Response:
        sha256 = request.match_info["sha256"].lower()
        if not _SHA256.match(sha256):
            return guards.refusal(400, "bad_sha256", "expected 64 hexadecimal digits")
        if self.on_open is None:
            return guards.refusal(409, "no_app_window",
                                  "SynthSpot runs without a window (synthspot serve); open the app to see details")
        self.on_open(sha256)
        return web.json_response({"opened": sha256})


def _result_payload(result: Result) -> dict:
    payload = result.to_dict()
    payload["verdict_label"] = result.verdict_label
    return payload


def _url_label(value: str | None) -> str:
    """A page or image URL as sent (percent-encoded), kept only as a label: never fetched."""
    return unquote(value or "")[:MAX_URL_LABEL]


def _too_large(message: str) -> web.Response:
    response = guards.refusal(413, "too_large", message)
    response.force_close()  # do not read (or linger over) the rest of the body
    return response


def _timed_out() -> web.Response:
    response = guards.refusal(408, "timeout", "the request body did not arrive in time")
    response.force_close()
    return response
