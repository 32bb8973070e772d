"""Load on the localhost bridge: round trips beside the model, concurrent scans, then malformed requests.

    .venv/bin/python bench/bridge_load.py [--model M.onnx] [--round-trips 40] [--scans 200] [--malformed 1000]

Starts a real bridge on 127.0.0.1 (over the brightness test model unless
``--model`` names another), pairs like the extension, then

1. scans ``--round-trips`` distinct 1 MP JPEGs one at a time, first with the
   engine directly (the model's own time, decode included), then through the
   bridge (hello, signed scan, signed answer checked), and prints both p50/p95
   side by side and the bridge's overhead;
2. sends ``--scans`` distinct PNGs at once and checks every answer, its
   signature and every stored row (source "browser");
3. sends ``--malformed`` broken requests (garbage instead of HTTP, bad and
   deeply nested JSON, chunked bodies too large, wrong content types,
   truncated images, bodies that stop arriving, bad signatures, replays,
   unknown paths, oversized headers...), checks each gets a 4xx, and that the
   server still scans afterwards.

tests/bridge/test_load.py runs the same drivers with fewer requests.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tests.fixtures, engine

from engine.bridge import BridgeServer, PairingState, RateLimit, protocol
from engine.bridge.client import BridgeClient, EXTENSION_ORIGIN, ImpostorError
from engine.model import Detector
from engine.scanner import Scanner
from engine.store import Store


def distinct_png(index: int, size: int = 96) -> bytes:
    rng = np.random.default_rng(index)
    pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def one_megapixel_jpeg(index: int) -> bytes:
    """1000 x 1000, smooth with some grain, like a photo (about 150-300 KB at quality 90)."""
    rng = np.random.default_rng(1_000_000 + index)
    small = rng.integers(0, 256, (25, 25, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(small).resize((1000, 1000), Image.BICUBIC), dtype=np.int16)
    pixels = np.clip(smooth + rng.integers(-12, 13, smooth.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[round(fraction * (len(ordered) - 1))] if ordered else 0.0


async def signed_post(session: aiohttp.ClientSession, api: BridgeClient, path: str, data: bytes,
                      content_type: str, page_url: str = "") -> tuple[int, bytes]:
    """What the extension does for one call: hello (server proof checked), the signed request, the answer checked."""
    challenge = protocol.b64url(secrets.token_bytes(32))
    base = f"http://127.0.0.1:{api.port}"
    async with session.post(f"{base}/v1/hello", json={"client": api.pairing.client_id, "challenge": challenge},
                            headers={"Origin": EXTENSION_ORIGIN, protocol.CLIENT_HEADER: api.pairing.client_id}) as r:
        hello = await r.json()
    nonce = hello.get("nonce", "")
    if not protocol.same(protocol.server_proof(api.pairing.key, api.pairing.client_id, challenge, nonce),
                         hello.get("proof")):
        raise ImpostorError("hello not proven")
    headers = {"Origin": EXTENSION_ORIGIN, **api.signed_headers("POST", path, nonce, data, content_type, page_url)}
    async with session.post(f"{base}{path}", data=data, headers=headers) as response:
        body = await response.read()
        expected = protocol.answer_signature(api.pairing.key, nonce, response.status, hashlib.sha256(body).hexdigest())
        if not protocol.same(expected, response.headers.get(protocol.SIGNATURE_HEADER)):
            raise ImpostorError("answer not signed")
        return response.status, body


@dataclass
class ScanLoad:
    sent: int
    answered_ok: int
    matching_sha256: int
    stored_as_browser: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)

    def summary(self) -> str:
        lat = self.latencies_ms
        return (f"{self.sent} concurrent scans: {self.answered_ok} answered 200 (signed), {self.matching_sha256} with "
                f"the right sha256, {self.stored_as_browser} stored as 'browser', {self.sent - self.answered_ok} lost; "
                f"{self.seconds:.2f} s wall, {self.sent / self.seconds:.0f} scans/s, latency p50 "
                f"{statistics.median(lat):.0f} ms, p95 {percentile(lat, 0.95):.0f} ms, max {max(lat):.0f} ms")


async def concurrent_scans(server: BridgeServer, api: BridgeClient, count: int) -> ScanLoad:
    images = [distinct_png(i) for i in range(count)]
    latencies: list[float] = []

    async def one(session: aiohttp.ClientSession, index: int) -> tuple[int, str]:
        started = time.perf_counter()
        status, body = await signed_post(session, api, "/v1/scan", images[index], "image/png",
                                         f"https://load.test/page/{index}")
        latencies.append(1000 * (time.perf_counter() - started))
        return status, json.loads(body).get("sha256", "")

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=0)  # one connection per scan: all of them really at once
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300)) as session:
        answers = await asyncio.gather(*(one(session, i) for i in range(count)))
    seconds = time.perf_counter() - started
    expected = [hashlib.sha256(image).hexdigest() for image in images]
    stored = [server.store.find(sha) for sha in expected]
    return ScanLoad(
        sent=count,
        answered_ok=sum(status == 200 for status, _ in answers),
        matching_sha256=sum(sha == want for (_, sha), want in zip(answers, expected, strict=True)),
        stored_as_browser=sum(r is not None and r.source == "browser" for r in stored),
        seconds=seconds,
        latencies_ms=latencies,
    )


@dataclass
class RoundTrips:
    engine_ms: list[float]
    bridge_ms: list[float]
    jpeg_bytes: int

    def summary(self) -> str:
        e50, e95 = statistics.median(self.engine_ms), percentile(self.engine_ms, 0.95)
        b50, b95 = statistics.median(self.bridge_ms), percentile(self.bridge_ms, 0.95)
        return (f"1 MP JPEG ({self.jpeg_bytes // 1024} KB), {len(self.bridge_ms)} each, one at a time: engine directly "
                f"p50 {e50:.1f} ms / p95 {e95:.1f} ms; through the bridge p50 {b50:.1f} ms / p95 {b95:.1f} ms; "
                f"bridge overhead p50 {b50 - e50:+.1f} ms / p95 {b95 - e95:+.1f} ms")


async def round_trips(server: BridgeServer, api: BridgeClient, count: int) -> RoundTrips:
    """Side by side, on distinct images (no cached results): the engine's own time, then the bridge's round trip."""
    engine_ms, bridge_ms = [], []
    for index in range(count):
        data = one_megapixel_jpeg(index)
        started = time.perf_counter()
        server.scanner.scan_bytes(data, source="cli")
        engine_ms.append(1000 * (time.perf_counter() - started))
    async with aiohttp.ClientSession() as session:
        for index in range(count, 2 * count):
            data = one_megapixel_jpeg(index)
            started = time.perf_counter()
            status, _ = await signed_post(session, api, "/v1/scan", data, "image/jpeg", "https://bench.test/")
            bridge_ms.append(1000 * (time.perf_counter() - started))
            assert status == 200, status
    return RoundTrips(engine_ms, bridge_ms, len(one_megapixel_jpeg(0)))


def malformed_requests(port: int, api: BridgeClient) -> list[tuple[str, bytes, bool]]:
    """(kind, raw bytes, whether the body then stops arriving) for each kind of broken request."""
    host = f"127.0.0.1:{port}"

    def http(method: str, path: str, body: bytes = b"", content_type: str = "", extra: str = "",
             length: int | None = None, signed: bool = False, signed_body: bytes | None = None) -> bytes:
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: {EXTENSION_ORIGIN}\r\n"
        if signed:
            headers = api.signed_headers(method, path, api.hello(), body if signed_body is None else signed_body,
                                         content_type)
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        elif content_type:
            head += f"Content-Type: {content_type}\r\n"
        if length != -1:
            head += f"Content-Length: {len(body) if length is None else length}\r\n"
        head += f"Connection: close\r\n{extra}\r\n"
        return head.encode() + body

    def chunked(body: bytes) -> bytes:
        return b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"

    png = distinct_png(10_000, size=64)
    rng = np.random.default_rng(7)
    nested = b"[" * 2000 + b"]" * 2000
    return [
        ("garbage instead of HTTP", rng.bytes(512), False),
        ("bad request line", b"GET\x00/v1/status HTTP/9.9\r\n\r\n", False),
        ("oversized header", http("GET", "/v1/status", extra=f"X-Filler: {'a' * 20000}\r\n"), False),
        ("oversized signature header", http("GET", "/v1/status", extra=f"X-SynthSpot-Signature: {'a' * 9000}\r\n"),
         False),
        ("pair: bad JSON", http("POST", "/v1/pair", b'{"name": "12', "application/json"), False),
        ("pair: deeply nested JSON", http("POST", "/v1/pair", nested, "application/json"), False),
        ("pair: chunked body over the cap", http("POST", "/v1/pair", chunked(b" " * 65536), "application/json",
                                                 length=-1, extra="Transfer-Encoding: chunked\r\n"), False),
        ("pair: wrong content type", http("POST", "/v1/pair", b"name=x", "text/plain"), False),
        ("pair: while closed", http("POST", "/v1/pair", json.dumps({"name": "x", "public_key": "A" * 43}).encode(),
                                    "application/json"), False),
        ("hello: unknown browser", http("POST", "/v1/hello", json.dumps({"client": "nobody", "challenge": "c" * 43})
                                        .encode(), "application/json"), False),
        ("scan: unsigned", http("POST", "/v1/scan", png, "image/png"), False),
        ("scan: bad signature", http("POST", "/v1/scan", png, "image/png", signed=True, extra="").replace(
            b"X-SynthSpot-Signature: ", b"X-SynthSpot-Signature: x"), False),
        ("scan: wrong content type", http("POST", "/v1/scan", png, "application/json", signed=True), False),
        ("scan: garbage bytes", http("POST", "/v1/scan", rng.bytes(4096), "image/png", signed=True), False),
        ("scan: truncated image", http("POST", "/v1/scan", png[: len(png) // 3], "image/png", signed=True), False),
        ("scan: empty body", http("POST", "/v1/scan", b"", "image/png", signed=True), False),
        ("scan: body not the one signed", http("POST", "/v1/scan", png, "image/png", signed=True,
                                               signed_body=png[::-1]), False),
        ("scan: body stops arriving", http("POST", "/v1/scan", png[:100], "image/png", length=len(png), signed=True,
                                           signed_body=png), True),
        ("results: bad sha256", http("GET", "/v1/results/" + "a" * 64 + "%0A", signed=True), False),
        ("status: body on a GET", http("GET", "/v1/status", b"x" * 100), False),
        ("unknown path", http("GET", "/v2/everything"), False),
        ("wrong method", http("GET", "/v1/scan", signed=True), False),
    ]


async def malformed_flood(server: BridgeServer, api: BridgeClient, count: int, parallel: int = 64) -> Counter:
    """Send ``count`` broken requests; a Counter of (kind, status line code or 'no answer').
    Signed kinds are built afresh for each send (each needs its own nonce; a reused one reads as a replay)."""
    kinds = malformed_requests(server.port, api)
    rounds = [kinds] + [malformed_requests(server.port, api) for _ in range((count - 1) // len(kinds))]
    gate = asyncio.Semaphore(parallel)

    async def one(index: int) -> tuple[str, str]:
        kind, raw, stalls = rounds[index // len(kinds)][index % len(kinds)]
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            try:
                writer.write(raw)
                await writer.drain()
                line = await asyncio.wait_for(reader.readline(), server.body_timeout_s + 10)
            except (TimeoutError, ConnectionError):
                line = b""
            finally:
                writer.close()
        parts = line.split()
        return kind, parts[1].decode() if len(parts) > 1 else "no answer"

    return Counter(await asyncio.gather(*(one(i) for i in range(count))))


def start_bridge(model_path: Path, folder: Path, body_timeout_s: float = 2.0) -> tuple[BridgeServer, BridgeClient]:
    store = Store(folder / "results.sqlite3")
    scanner = Scanner(Detector(model_path, provider="cpu"), store=store)
    # A generous rate limit: here the validators, not the limiter, must answer each request.
    server = BridgeServer(scanner, store, port=0, extension_origins=(EXTENSION_ORIGIN,),
                          pairing=PairingState(folder / "bridge_browsers.json"),
                          rate_limit=RateLimit(per_second=100_000, burst=100_000), body_timeout_s=body_timeout_s)
    server.start()
    api = BridgeClient(server.port)
    server.pairing.open_window()
    ticket = api.request_pairing("bench")
    server.pairing.approve(ticket.request_id)
    api.wait_for_approval(ticket)
    server.pairing.close_window()
    return server, api


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="an ONNX contract model (default: the brightness test model)")
    parser.add_argument("--round-trips", type=int, default=40)
    parser.add_argument("--scans", type=int, default=200)
    parser.add_argument("--malformed", type=int, default=1000)
    args = parser.parse_args(argv)
    from tests.fixtures.synthetic import brightness_model

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = args.model or brightness_model(folder / "brightness.onnx")
        server, api = start_bridge(model, folder)
        try:
            meta = server.scanner.detector.metadata
            print(f"model {meta.name} {meta.version} on {server.scanner.detector.active_provider}")
            trips = asyncio.run(round_trips(server, api, args.round_trips))
            print(trips.summary())
            scans = asyncio.run(concurrent_scans(server, api, args.scans))
            print(scans.summary())
            started = time.perf_counter()
            flood = asyncio.run(malformed_flood(server, api, args.malformed))
            seconds = time.perf_counter() - started
            four_xx = sum(n for (_, status), n in flood.items() if status.startswith("4"))
            print(f"{args.malformed} malformed requests in {seconds:.1f} s: {four_xx} answered 4xx")
            for (kind, status), n in sorted(flood.items()):
                print(f"  {n:5d} x {status}  {kind}")
            after = asyncio.run(concurrent_scans(server, api, 5))
            print(f"afterwards: {after.answered_ok}/5 new scans answered 200; server still serving")
            print(json.dumps({
                "model": meta.name, "round_trip_engine_p50_ms": round(statistics.median(trips.engine_ms), 1),
                "round_trip_engine_p95_ms": round(percentile(trips.engine_ms, 0.95), 1),
                "round_trip_bridge_p50_ms": round(statistics.median(trips.bridge_ms), 1),
                "round_trip_bridge_p95_ms": round(percentile(trips.bridge_ms, 0.95), 1),
                "scans": args.scans, "scans_ok": scans.answered_ok, "stored": scans.stored_as_browser,
                "scan_seconds": round(scans.seconds, 2), "malformed": args.malformed, "malformed_4xx": four_xx,
                "after_ok": after.answered_ok}))
            ok = (scans.answered_ok == scans.stored_as_browser == scans.matching_sha256 == args.scans
                  and four_xx == args.malformed and after.answered_ok == 5)
        finally:
            server.stop()
            server.scanner.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
