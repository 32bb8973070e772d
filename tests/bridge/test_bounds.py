"""Unauthenticated work is bounded: body caps by bytes read, JSON depth, rate limits, strict paths, quiet logs."""

from __future__ import annotations

import io
import logging
import os
import select
import socket
import subprocess
import sys
import threading
import time

import pytest

from engine.bridge import RateLimit
from engine.bridge.guards import RateLimiter
from tests.bridge.conftest import EXTENSION_ORIGIN, BridgeClient, png_bytes

MB = 1024 * 1024


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def head(server, method: str, path: str, extra: str = "", content_type: str = "application/json") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nOrigin: {EXTENSION_ORIGIN}\r\n"
            f"Content-Type: {content_type}\r\n{extra}\r\n").encode()


def stream_chunked(server, method: str, path: str, total: int, answers: list, chunk: int = 64 * 1024) -> None:
    """Send a chunked body of up to ``total`` bytes, stopping as soon as the server answers or hangs up."""
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    piece = b"%x\r\n" % chunk + b"[" * chunk + b"\r\n"
    reply, sent = b"", 0
    try:
        connection.sendall(head(server, method, path, "Transfer-Encoding: chunked\r\n"))
        while sent < total:
            readable, _, _ = select.select([connection], [], [], 0)
            if readable:
                break
            connection.sendall(piece)
            sent += chunk
        connection.settimeout(10)
        reply = connection.recv(65536)
    except (TimeoutError, ConnectionError):
        pass
    finally:
        connection.close()
    answers.append((reply.split(b"\r\n", 1)[0], sent))


def test_parallel_chunked_pair_bodies_are_cut_off_early_and_memory_stays_flat(server):
    client = BridgeClient(server)
    assert client.call("GET", "/v1/status", signed=False).status == 200  # warm up before measuring
    before = rss_bytes()
    answers: list = []
    threads = [threading.Thread(target=stream_chunked, args=(server, "POST", "/v1/pair", 40 * MB, answers))
               for _ in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    status_started = time.monotonic()
    status = client.call("GET", "/v1/status", signed=False)
    status_ms = 1000 * (time.monotonic() - status_started)
    for thread in threads:
        thread.join(60)
    grown = rss_bytes() - before
    print(f"8 parallel chunked /v1/pair bodies: RSS grew {grown / MB:.1f} MB, status answered in {status_ms:.0f} ms, "
          f"all refused in {time.monotonic() - started:.2f} s; answers {answers}")
    assert status.status == 200 and status_ms < 500
    assert len(answers) == 8
    for line, sent in answers:
        assert line.startswith(b"HTTP/1.1 4") or line == b"", line  # 413, or hung up on
        assert sent < 16 * MB  # the server stopped the body long before 40 MB (the rest is socket buffers)
    assert grown < 32 * MB


def test_pair_refuses_a_declared_body_over_a_few_kb_before_reading_it(client):
    reply = client.call("POST", "/v1/pair", b"{" + b" " * 9000 + b"}", "application/json", signed=False)
    assert reply.status == 413


@pytest.mark.parametrize("path", ["/v1/pair", "/v1/pair/reveal", "/v1/hello", "/v1/pair/status"])
def test_deeply_nested_json_is_a_4xx_not_a_recursion_error(client, path):
    for nested in (b"[" * 2000 + b"]" * 2000, b'{"a":' * 1000 + b"1" + b"}" * 1000):
        reply = client.call("POST", path, nested, "application/json", signed=False)
        assert 400 <= reply.status < 500, (path, reply.status, reply.body[:200])
        assert b"RecursionError" not in reply.body and b"Traceback" not in reply.body


@pytest.mark.parametrize("method, path", [("GET", "/v1/status"), ("GET", "/v1/results/" + "0" * 64),
                                          ("POST", "/v1/open/" + "0" * 64), ("POST", "/v1/hello")])
def test_routes_cap_bodies_by_bytes_read_chunked_included(server, method, path):
    answers: list = []
    started = time.monotonic()
    stream_chunked(server, method, path, 8 * MB, answers)
    (line, sent), = answers
    assert line.startswith(b"HTTP/1.1 4"), line
    assert time.monotonic() - started < 5
    declared = BridgeClient(server).call(method, path, b"x" * 200_000, "application/json", signed=False)
    assert 400 <= declared.status < 500


def test_invented_credentials_do_not_escape_the_rate_limit(make_server):
    server = make_server(rate_limit=RateLimit(per_second=1, burst=20))
    client = BridgeClient(server)
    # Fresh invented identities on every request (the old bridge keyed its buckets by whatever token was sent).
    statuses = [client.call("GET", "/v1/results/" + "0" * 64, signed=False, headers={
        "X-SynthSpot-Token": os.urandom(16).hex(), "X-SynthSpot-Client": os.urandom(16).hex(),
        "X-SynthSpot-Nonce": os.urandom(40).hex(), "X-SynthSpot-Signature": os.urandom(32).hex()}).status
        for _ in range(120)]
    assert statuses.count(429) >= 90, statuses


def test_the_rate_table_is_never_cleared_wholesale():
    limiter = RateLimiter(RateLimit(per_second=0.001, burst=3))
    for _ in range(3):
        assert limiter.allow("exhausted-client") == 0
    assert limiter.allow("exhausted-client") > 0
    invented_allowed = sum(limiter.allow(f"invented-{index}") == 0 for index in range(3 * RateLimiter.MAX_CLIENTS))
    assert limiter.allow("exhausted-client") > 0  # still throttled after the flood of new keys
    assert invented_allowed < RateLimiter.MAX_CLIENTS + 10  # keys beyond the table share one bucket


def test_a_sha256_with_a_trailing_newline_is_refused(paired):
    sha = paired.scan(png_bytes(111)).json()["sha256"]
    assert paired.call("GET", f"/v1/results/{sha}").status == 200
    for suffix in ("%0A", "%0a", "%0D%0A", "%20"):
        reply = paired.call("GET", f"/v1/results/{sha}{suffix}")
        assert reply.status == 400 and reply.json()["error"] == "bad_sha256", suffix
        assert paired.call("POST", f"/v1/open/{sha}{suffix}").status == 400


def test_malformed_requests_do_not_each_write_a_log_line(server):
    # The CLI's logging: WARNING and up to stderr through the root handler.
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    try:
        for index in range(60):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
                connection.sendall(b"GET\x00/v1/status HTTP/9.9\r\nX-Junk: %d\r\n\r\n" % index)
                connection.recv(4096)
        time.sleep(0.2)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert len(stream.getvalue().splitlines()) <= 1, stream.getvalue()[:2000]
    assert BridgeClient(server).call("GET", "/v1/status", signed=False).status == 200


ACCEPT_FLOOD_SERVER = """
import resource, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (160, 160))
import logging
logging.basicConfig(level=logging.WARNING)
from engine.bridge import BridgeServer, PairingState
server = BridgeServer(None, None, port=0, extension_origins=("chrome-extension://x",),
                      pairing=PairingState(sys.argv[1])).start()
print(server.port, flush=True)
time.sleep(float(sys.argv[2]))
server.stop()
"""


def test_a_flood_of_idle_connections_is_shed_and_logged_once_per_interval(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", ACCEPT_FLOOD_SERVER, str(tmp_path / "b.json"), "4"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    try:
        port = int(process.stdout.readline())
        idle = []
        for _ in range(400):  # far more connections than the server has file descriptors
            try:
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                break
        time.sleep(0.5)
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            connection.sendall(f"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                               f"Connection: close\r\n\r\n".encode())
            answer = connection.recv(4096)
        waited = time.monotonic() - started
        for connection in idle:
            connection.close()
    finally:
        _, err = process.communicate(timeout=30)
    assert answer.startswith(b"HTTP/1.1 200"), (answer, err[-2000:])
    assert waited < 3
    assert len(err.splitlines()) <= 5, err[-3000:]


def test_a_flood_of_status_questions_does_not_make_a_real_browser_wait(make_server):
    """Every unpaired caller shares one bucket; a local process asking /v1/status in a loop made a real
    browser's status and pairing checks answer 429 (a security review). Those stateless questions stay out
    of the shared bucket; everything else unpaired still shares it."""
    server = make_server(rate_limit=RateLimit(per_second=1, burst=20))
    flood = [BridgeClient(server).call("GET", "/v1/status", signed=False).status for _ in range(60)]
    assert flood.count(200) == 60
    assert BridgeClient(server).call("GET", "/v1/status", signed=False).status == 200
    others = [BridgeClient(server).call("GET", "/v1/results/" + "0" * 64, signed=False).status for _ in range(60)]
    assert others.count(429) >= 30, others
