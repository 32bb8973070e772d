"""Reading request bodies within a cap counted in bytes actually read, and JSON of bounded depth."""

from __future__ import annotations

import asyncio
import json

from aiohttp import ClientPayloadError, web

from engine.bridge.guards import Refusal

MAX_JSON_DEPTH = 8  # every JSON body the bridge takes is a flat object
READ_SIZE = 64 * 1024


async def read_body(request: web.Request, cap: int, timeout_s: float) -> bytes:
    """The whole body, at most ``cap`` bytes: a chunked body is cut off as soon as it goes over,
    so a client can make the server hold no more than ``cap`` bytes of it."""
    parts, size = [], 0

    async def read_all() -> None:
        nonlocal size
        while True:
            part = await request.content.read(READ_SIZE)
            if not part:
                return
            size += len(part)
            if size > cap:
                raise Refusal(413, "too_large", f"the body is over {cap} bytes", close=True)
            parts.append(part)

    try:
        await asyncio.wait_for(read_all(), timeout_s)
    except TimeoutError:
        raise Refusal(408, "timeout", "the request body did not arrive in time", close=True) from None
    except (ConnectionResetError, ClientPayloadError):  # the client hung up or broke off mid-body (a tab closed)
        raise Refusal(400, "incomplete_body", "the request body ended before its declared length",
                      close=True) from None
    return b"".join(parts)


def parse_json_object(data: bytes) -> dict:
    """A JSON object, refused (400) when malformed, not an object or nested deeper than MAX_JSON_DEPTH."""
    if _depth(data) > MAX_JSON_DEPTH:
        raise Refusal(400, "bad_json", f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refusal(400, "bad_json", "the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise Refusal(400, "bad_json", "the body must be a JSON object")
    return value


def _depth(data: bytes) -> int:
    """The deepest bracket nesting, outside strings; checked before parsing so json.loads never recurses far."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest
