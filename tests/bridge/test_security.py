"""Every security rule of the bridge, against the real server on 127.0.0.1."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from engine.bridge import PortInUseError, RateLimit, protocol
from tests.bridge.conftest import EXTENSION_ORIGIN, BridgeClient, png_bytes


def raw_request(server, head: bytes, body: bytes = b"", timeout: float = 10.0) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    connection.sendall(head + body)
    return connection


def read_reply(connection: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = connection.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def scan_head(client: BridgeClient, body: bytes, length: int, extra: str = "") -> bytes:
    """A signed scan request head for ``body``, declaring ``length`` bytes (-1: no Content-Length)."""
    server = client.server
    nonce = client.api.hello()
    signed = "".join(f"{k}: {v}\r\n" for k, v in
                     client.api.signed_headers("POST", "/v1/scan", nonce, body, "image/png").items())
    return (f"POST /v1/scan HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nOrigin: {EXTENSION_ORIGIN}\r\n"
            f"{signed}{extra}" + (f"Content-Length: {length}\r\n" if length >= 0 else "") + "\r\n").encode()


@pytest.mark.parametrize("method, path", [("POST", "/v1/scan"), ("GET", "/v1/results/" + "0" * 64),
                                          ("POST", "/v1/open/" + "0" * 64), ("POST", "/v1/forget")])
def test_every_route_but_status_hello_and_pair_needs_a_signed_request(paired, method, path):
    body = png_bytes(100) if path == "/v1/scan" else None
    unsigned = paired.call(method, path, body, "image/png", signed=False)
    assert unsigned.status == 401 and unsigned.json()["error"] == "not_paired"
    old_style = paired.call(method, path, body, "image/png", signed=False, headers={"X-SynthSpot-Token": "x" * 43})
    assert old_style.status == 401
    assert paired.call(method, path, body, "image/png").status in (200, 404, 409)


@pytest.mark.parametrize("origin", ["", "null", "https://evil.example", "http://127.0.0.1:8000",
                                    "chrome-extension://abcdefghijklmnopabcdefghijklmnop", EXTENSION_ORIGIN + ".evil"])
def test_requests_from_any_origin_but_the_extension_are_refused(paired, origin):
    for method, path, body in [("GET", "/v1/status", None), ("POST", "/v1/scan", png_bytes(100))]:
        reply = paired.call(method, path, body, "image/png", origin=origin)
        assert reply.status == 403 and reply.json()["error"] == "bad_origin"
        assert "Access-Control-Allow-Origin" not in reply.headers
    paired.server.pairing.open_window()
    pair = paired.post_json("/v1/pair", {"name": "page", "commitment": "A" * 43}, origin=origin)
    assert pair.status == 403 and paired.server.pairing.pending() == []


@pytest.mark.parametrize("fetch_site, fetch_mode, allowed", [
    ("none", "cors", True),  # what Chromium sends for the extension's own GET
    (None, None, True),  # not a browser at all
    ("cross-site", "no-cors", False),  # <img src=http://127.0.0.1:PORT/v1/status> on some page
    ("cross-site", "cors", False),
    ("same-site", "cors", False),
    ("none", "navigate", False),  # typed into the address bar
])
def test_a_get_without_origin_passes_only_in_the_extensions_shape(paired, fetch_site, fetch_mode, allowed):
    headers = {k: v for k, v in {"Sec-Fetch-Site": fetch_site, "Sec-Fetch-Mode": fetch_mode}.items() if v}
    status = paired.call("GET", "/v1/status", origin=None, headers=headers)
    assert (status.status == 200) is allowed
    results = paired.call("GET", "/v1/results/" + "0" * 64, origin=None, headers=headers)
    assert results.status == (404 if allowed else 403)
    assert paired.call("GET", "/v1/status", origin=None, signed=False, headers=headers).status == (
        200 if allowed else 403)


def test_a_post_without_origin_is_refused(paired):
    assert paired.call("POST", "/v1/scan", png_bytes(100), "image/png", origin=None).status == 403
    assert paired.post_json("/v1/pair", {"name": "x"}, origin=None).status == 403
    assert paired.post_json("/v1/hello", {"client": paired.pairing.client_id, "challenge": "c" * 43},
                            origin=None).status == 403


@pytest.mark.parametrize("host", ["evil.example:{port}", "attacker.test", "127.0.0.1:1", "localhost",
                                  "127.0.0.1.nip.io:{port}", "[::1]:{port}", ""])
def test_requests_naming_another_host_are_refused_against_dns_rebinding(paired, host):
    reply = paired.call("GET", "/v1/status", host=host.format(port=paired.server.port) or " ")
    assert reply.status in (400, 403)
    assert paired.call("GET", "/v1/status", host=f"localhost:{paired.server.port}").status == 200


def test_cors_preflight_answers_only_the_extension(client):
    allowed = client.call("OPTIONS", "/v1/scan", signed=False, headers={
        "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-synthspot-signature"})
    assert allowed.status == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == EXTENSION_ORIGIN
    assert "X-SynthSpot-Signature" in allowed.headers["Access-Control-Allow-Headers"]
    refused = client.call("OPTIONS", "/v1/scan", signed=False, origin="https://evil.example",
                          headers={"Access-Control-Request-Method": "POST"})
    assert refused.status == 403 and "Access-Control-Allow-Origin" not in refused.headers
    answered = client.call("GET", "/v1/status", signed=False)
    assert answered.headers["Access-Control-Allow-Origin"] == EXTENSION_ORIGIN and answered.headers["Vary"] == "Origin"
    assert answered.headers["Access-Control-Expose-Headers"] == "X-SynthSpot-Signature"


def test_a_body_over_the_cap_is_refused_before_it_is_read(paired, server):
    declared = 50 * 1024 * 1024
    started = time.monotonic()
    connection = raw_request(server, scan_head(paired, b"", declared), b"\x89PNG" + b"\0" * 65536)
    reply = read_reply(connection)  # the server answers and closes without waiting for the other 50 MB
    connection.close()
    assert reply.startswith(b"HTTP/1.1 413") and b"too_large" in reply
    assert time.monotonic() - started < 3


def test_a_chunked_body_over_the_cap_is_cut_off(make_server):
    server = make_server(max_body_bytes=256 * 1024)
    client = BridgeClient(server)
    client.pair()
    chunk = b"\0" * 65536
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(8)) + b"0\r\n\r\n"
    whole = chunk * 8
    connection = raw_request(server, scan_head(client, whole, -1, "Transfer-Encoding: chunked\r\n"), body)
    reply = read_reply(connection)
    connection.close()
    assert reply.startswith(b"HTTP/1.1 413")
    assert client.scan(png_bytes(50)).status == 200  # and the server keeps serving


def test_a_stalled_body_times_out_with_408(make_server):
    server = make_server(body_timeout_s=1.0)
    client = BridgeClient(server)
    client.pair()
    started = time.monotonic()
    connection = raw_request(server, scan_head(client, b"\x89PNG" + b"\0" * 9996, 10_000), b"\x89PNG")
    reply = read_reply(connection)
    connection.close()
    assert reply.startswith(b"HTTP/1.1 408")
    assert 0.9 < time.monotonic() - started < 5


def test_a_connection_that_never_finishes_its_request_head_is_closed(make_server):
    server = make_server(idle_timeout_s=1.0)
    started = time.monotonic()
    connection = raw_request(server, b"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and then nothing
    assert read_reply(connection) == b""
    connection.close()
    assert 0.9 < time.monotonic() - started < 5


def test_each_paired_browser_is_rate_limited_on_its_own(make_server):
    server = make_server(rate_limit=RateLimit(per_second=0.5, burst=12))
    first, second = BridgeClient(server), BridgeClient(server)
    first.pair()  # pairing's requests drain the shared bucket of the unpaired, not first's own
    second.pair()
    statuses = [first.call("GET", "/v1/results/" + "0" * 64, signed=False, headers={
        "X-SynthSpot-Client": first.pairing.client_id}).status for _ in range(14)]
    assert statuses[:12] == [401] * 12 and statuses[12:] == [429, 429]
    limited = first.call("GET", "/v1/results/" + "0" * 64, signed=False,
                         headers={"X-SynthSpot-Client": first.pairing.client_id})
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
    assert second.call("GET", "/v1/status").status == 200  # its own bucket is untouched


def test_the_server_never_fetches_the_urls_it_is_given(paired):
    trap = socket.socket()
    trap.bind(("127.0.0.1", 0))
    trap.listen()
    trap.settimeout(1.0)
    url = f"http://127.0.0.1:{trap.getsockname()[1]}/image.png"
    reply = paired.scan(png_bytes(120), page_url=url, image_url=url)
    assert reply.status == 200 and paired.server.store.find(reply.json()["sha256"]).image_url == url
    with pytest.raises(socket.timeout):
        trap.accept()
    trap.close()


def test_nothing_secret_reaches_the_logs(make_server, caplog):
    caplog.set_level(logging.DEBUG)
    server = make_server()
    client = BridgeClient(server)
    pairing = client.pair()
    client.scan(png_bytes(77), page_url="https://private.example/inbox?token=abc")
    client.call("GET", "/v1/status", headers={"X-SynthSpot-Signature": "tampered"})
    client.call("POST", "/v1/scan", b"junk", "image/png", signed=False,
                headers={"X-SynthSpot-Client": pairing.client_id})
    server.pairing.revoke_all()
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "/v1/pair" in logged and "/v1/scan" in logged  # the requests were logged...
    for secret in (pairing.key.hex(), protocol.b64url(pairing.key), pairing.client_id, client.last_nonce,
                   "private.example"):
        assert secret not in logged  # ...and no key, browser ID, nonce or URL with them


def test_a_taken_port_gives_a_clear_error(make_server):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    with pytest.raises(PortInUseError, match=f"port {port} .* already in use"):
        make_server(port=port)
    taken.close()


def test_it_listens_on_loopback_only(server):
    assert server._runner.addresses == [("127.0.0.1", server.port)]
