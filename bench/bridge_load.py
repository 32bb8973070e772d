"""Load on the localhost bridge: concurrent scans, then a flood of malformed requests.

    .venv/bin/python bench/bridge_load.py [--scans 200] [--malformed 1000]

Starts a real bridge on 127.0.0.1 over the brightness test model (a model that
costs almost nothing, so this measures the bridge, not inference), pairs, then

1. sends ``--scans`` distinct PNGs at once and checks every answer and every
   stored row (source "browser");
2. sends ``--malformed`` broken requests (garbage instead of HTTP, bad JSON,
   wrong content types, truncated images, bodies that stop arriving, unknown
   paths, oversized headers...), checks each gets a 4xx, and that the server
   still scans afterwards.

tests/bridge/test_load.py runs the same drivers with fewer requests.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import aiohttp
import numpy as np
from PIL import Image

from engine.bridge import BridgeServer, PairingState, RateLimit
from engine.bridge.extension_id import UNPACKED_EXTENSION_ID
from engine.model import Detector
from engine.scanner import Scanner
from engine.store import Store

ORIGIN = f"chrome-extension://{UNPACKED_EXTENSION_ID}"


def distinct_png(index: int, size: int = 96) -> bytes:
    rng = np.random.default_rng(index)
    pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class ScanLoad:
    sent: int
    answered_ok: int
    matching_sha256: int
    stored_as_browser: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)

    def summary(self) -> str:
        lat = sorted(self.latencies_ms)
        p95 = lat[int(0.95 * (len(lat) - 1))] if lat else 0.0
        return (f"{self.sent} concurrent scans: {self.answered_ok} answered 200, {self.matching_sha256} with the "
                f"right sha256, {self.stored_as_browser} stored as 'browser'; {self.seconds:.2f} s wall, "
                f"{self.sent / self.seconds:.0f} scans/s, latency p50 {statistics.median(lat):.0f} ms, "
                f"p95 {p95:.0f} ms, max {lat[-1]:.0f} ms")


async def concurrent_scans(server: BridgeServer, token: str, count: int) -> ScanLoad:
    images = [distinct_png(i) for i in range(count)]
    headers = {"Origin": ORIGIN, "X-SynthSpot-Token": token, "Content-Type": "image/png"}
    latencies: list[float] = []

    async def one(session: aiohttp.ClientSession, index: int) -> tuple[int, str]:
        started = time.perf_counter()
        page = quote(f"https://load.test/page/{index}", safe="")
        async with session.post(f"{server.url}/v1/scan", data=images[index],
                                headers={**headers, "X-SynthSpot-Page-Url": page}) as response:
            body = await response.json()
        latencies.append(1000 * (time.perf_counter() - started))
        return response.status, body.get("sha256", "")

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
        matching_sha256=sum(sha == want for (_, sha), want in zip(answers, expected)),
        stored_as_browser=sum(r is not None and r.source == "browser" for r in stored),
        seconds=seconds,
        latencies_ms=latencies,
    )


def malformed_requests(port: int, token: str) -> list[tuple[str, bytes, bool]]:
    """(kind, raw bytes, whether the body then stops arriving) for each kind of broken request."""
    host = f"127.0.0.1:{port}"

    def http(method: str, path: str, body: bytes = b"", content_type: str = "", extra: str = "",
             length: int | None = None) -> bytes:
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: {ORIGIN}\r\nX-SynthSpot-Token: {token}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        head += f"Content-Length: {len(body) if length is None else length}\r\nConnection: close\r\n{extra}\r\n"
        return head.encode() + body

    png = distinct_png(10_000, size=64)
    rng = np.random.default_rng(7)
    return [
        ("garbage instead of HTTP", rng.bytes(512), False),
        ("bad request line", b"GET\x00/v1/status HTTP/9.9\r\n\r\n", False),
        ("oversized header", http("GET", "/v1/status", extra=f"X-Filler: {'a' * 20000}\r\n"), False),
        ("oversized token header", http("GET", "/v1/status").replace(token.encode(), token.encode() + b"a" * 9000),
         False),
        ("pair: bad JSON", http("POST", "/v1/pair", b'{"code": "12', "application/json"), False),
        ("pair: JSON not an object", http("POST", "/v1/pair", b"[1,2,3]", "application/json"), False),
        ("pair: wrong content type", http("POST", "/v1/pair", b"code=123456", "text/plain"), False),
        ("scan: wrong content type", http("POST", "/v1/scan", png, "application/json"), False),
        ("scan: garbage bytes", http("POST", "/v1/scan", rng.bytes(4096), "image/png"), False),
        ("scan: truncated image", http("POST", "/v1/scan", png[: len(png) // 3], "image/png"), False),
        ("scan: empty body", http("POST", "/v1/scan", b"", "image/png"), False),
        ("scan: body stops arriving", http("POST", "/v1/scan", png[:100], "image/png", length=len(png)), True),
        ("results: bad sha256", http("GET", "/v1/results/zzz"), False),
        ("unknown path", http("GET", "/v2/everything"), False),
        ("wrong method", http("GET", "/v1/scan"), False),
    ]


async def malformed_flood(server: BridgeServer, token: str, count: int, parallel: int = 64) -> Counter:
    """Send ``count`` broken requests; a Counter of (kind, status line code or 'no answer')."""
    kinds = malformed_requests(server.port, token)
    gate = asyncio.Semaphore(parallel)

    async def one(index: int) -> tuple[str, str]:
        kind, raw, stalls = kinds[index % len(kinds)]
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            try:
                writer.write(raw)
                await writer.drain()
                line = await asyncio.wait_for(reader.readline(), server.body_timeout_s + 10)
            except (ConnectionError, asyncio.TimeoutError):
                line = b""
            finally:
                writer.close()
        parts = line.split()
        return kind, parts[1].decode() if len(parts) > 1 else "no answer"

    return Counter(await asyncio.gather(*(one(i) for i in range(count))))


def start_bridge(model_path: Path, folder: Path, body_timeout_s: float = 2.0) -> tuple[BridgeServer, str]:
    store = Store(folder / "results.sqlite3")
    scanner = Scanner(Detector(model_path, provider="cpu"), store=store)
    # A generous rate limit: here the validators, not the limiter, must answer each request.
    server = BridgeServer(scanner, store, port=0, extension_origins=(ORIGIN,),
                          pairing=PairingState(folder / "bridge_tokens.json"),
                          rate_limit=RateLimit(per_second=100_000, burst=100_000), body_timeout_s=body_timeout_s)
    server.start()
    token = server.pairing.pair(server.pairing_code)
    return server, token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=200)
    parser.add_argument("--malformed", type=int, default=1000)
    args = parser.parse_args(argv)
    from export.synthetic import brightness_model

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server, token = start_bridge(brightness_model(folder / "brightness.onnx"), folder)
        try:
            scans = asyncio.run(concurrent_scans(server, token, args.scans))
            print(scans.summary())
            started = time.perf_counter()
            flood = asyncio.run(malformed_flood(server, token, args.malformed))
            seconds = time.perf_counter() - started
            four_xx = sum(n for (_, status), n in flood.items() if status.startswith("4"))
            print(f"{args.malformed} malformed requests in {seconds:.1f} s: {four_xx} answered 4xx")
            for (kind, status), n in sorted(flood.items()):
                print(f"  {n:5d} x {status}  {kind}")
            after = asyncio.run(concurrent_scans(server, token, 5))
            print(f"afterwards: {after.answered_ok}/5 new scans answered 200; server still serving")
            print(json.dumps({"scans": args.scans, "scans_ok": scans.answered_ok, "stored": scans.stored_as_browser,
                              "scan_seconds": round(scans.seconds, 2), "malformed": args.malformed,
                              "malformed_4xx": four_xx, "after_ok": after.answered_ok}))
            ok = (scans.answered_ok == scans.stored_as_browser == scans.matching_sha256 == args.scans
                  and four_xx == args.malformed and after.answered_ok == 5)
        finally:
            server.stop()
            server.scanner.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
