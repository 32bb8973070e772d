"""What a broken or hostile client sends is its fault, answered as such: a 4xx in the bridge's JSON, never a 500,
and never a traceback in the log (the terminal of `synthspot serve --pair` shows its approval prompt there)."""

from __future__ import annotations

import json
import logging
import socket

import pytest

from tests.bridge.conftest import EXTENSION_ORIGIN, png_bytes


def send_raw(server, head: bytes, body: bytes = b"", hang_up: bool = False) -> tuple[int, dict]:
    """Send ``head`` and ``body`` as they are (latin-1 header bytes included); the status and JSON answer, or
    (0, {}) when the server only closed the connection. ``hang_up`` stops sending before the body is whole."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(head + body)
        if hang_up:
            connection.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := connection.recv(65536):
            reply += chunk
            if b"\r\n\r\n" in reply and not hang_up and len(reply.split(b"\r\n\r\n", 1)[1]) > 0:
                break
    if not reply:
        return 0, {}
    status = int(reply.split(b" ", 2)[1])
    payload = reply.split(b"\r\n\r\n", 1)[1]
    return status, json.loads(payload) if payload.startswith(b"{") else {}


def request_head(server, method: str, path: str, headers: dict[str, str], length: int) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", f"Origin: {EXTENSION_ORIGIN}",
             f"Content-Length: {length}", "Connection: close", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def tracebacks(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]


@pytest.mark.parametrize("header", ["Content-Type", "X-SynthSpot-Page-Url", "X-SynthSpot-Image-Url"])
def test_a_signed_header_with_a_byte_outside_utf8_is_a_bad_signature_not_a_server_error(paired, server, caplog,
                                                                                        header):
    caplog.set_level(logging.WARNING)
    data = png_bytes(100)
    headers = paired.api.signed_headers("POST", "/v1/scan", paired.api.hello(), data, "image/png")
    headers[header] = headers.get(header, "") + "\xff"  # sent as the single byte 0xFF
    status, answer = send_raw(server, request_head(server, "POST", "/v1/scan", headers, len(data)), data)
    assert (status, answer.get("error")) == (401, "bad_signature")
    assert tracebacks(caplog) == []
    assert paired.scan(data).status == 200  # the signed request as the browser sends it still goes through


@pytest.mark.parametrize("challenge", ["\\ud800" * 43, "\u00e9" * 43, "a" * 31 + "=" * 12, "a" * 42])
def test_a_hello_challenge_that_is_not_base64url_is_refused_as_such(paired, server, caplog, challenge):
    caplog.set_level(logging.WARNING)
    # Written out, not json.dumps: the first challenge is JSON's own escape for a lone surrogate.
    body = ('{"client": "' + paired.pairing.client_id + '", "challenge": "' + challenge + '"}').encode()
    status, answer = send_raw(server, request_head(server, "POST", "/v1/hello",
                                                   {"Content-Type": "application/json"}, len(body)), body)
    assert (status, answer.get("error")) == (400, "bad_challenge")
    assert tracebacks(caplog) == []


@pytest.mark.parametrize("path", ["/v1/pair/status", "/v1/hello", "/v1/scan"])
def test_a_client_that_hangs_up_mid_body_leaves_no_traceback(paired, server, caplog, path):
    """The extension cancels an upload when its tab closes; any local program can do it on purpose, as often as
    it opens connections. Each was an ERROR record of some fifty lines."""
    caplog.set_level(logging.WARNING)
    if path == "/v1/scan":
        data = png_bytes(100)
        headers = paired.api.signed_headers("POST", path, paired.api.hello(), data, "image/png")
    else:
        data = json.dumps({"request": "x" * 40, "client": paired.pairing.client_id}).encode()
        headers = {"Content-Type": "application/json"}
    for _ in range(3):
        send_raw(server, request_head(server, "POST", path, headers, len(data) + 100), data[:10], hang_up=True)
    assert tracebacks(caplog) == []
    assert paired.scan(png_bytes(120)).status == 200


def first_line_after_head(server, head: bytes, wait_s: float = 0.5) -> bytes:
    """The first status line the server sends within ``wait_s`` of a head sent without its body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait_s) as connection:
        connection.sendall(head)
        try:
            return connection.recv(4096).split(b"\r\n", 1)[0]
        except TimeoutError:
            return b""


def test_an_upload_that_asks_to_continue_is_not_told_to_before_the_checks(paired, server):
    """aiohttp's default answered "Expect: 100-continue" with "100 Continue" before any check: a foreign page's
    or an unpaired client's upload, or one of 500 MB, was told to send its body, then refused."""
    expect = {"Content-Type": "image/png", "Expect": "100-continue"}
    foreign = request_head(server, "POST", "/v1/scan", expect, 500_000_000).replace(
        EXTENSION_ORIGIN.encode(), b"https://evil.example")
    assert first_line_after_head(server, foreign).startswith(b"HTTP/1.1 403")
    assert first_line_after_head(server, request_head(server, "POST", "/v1/scan", expect, 1000)).startswith(
        b"HTTP/1.1 401")
    data = png_bytes(100)
    signed = paired.api.signed_headers("POST", "/v1/scan", paired.api.hello(), data, "image/png")
    over = request_head(server, "POST", "/v1/scan", {**signed, "Expect": "100-continue"}, 500_000_000)
    assert first_line_after_head(server, over).startswith(b"HTTP/1.1 413")
    # A signed upload within the cap hears nothing until it sends its body (as curl does after a second), then
    # its answer.
    signed = paired.api.signed_headers("POST", "/v1/scan", paired.api.hello(), data, "image/png")
    head = request_head(server, "POST", "/v1/scan", {**signed, "Expect": "100-continue"}, len(data))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(head)
        connection.settimeout(0.3)
        with pytest.raises(TimeoutError):
            connection.recv(4096)
        connection.settimeout(10)
        connection.sendall(data)
        assert connection.recv(4096).startswith(b"HTTP/1.1 200")
