"""`synthspot serve`: the bridge without the app, as a real subprocess."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys

import pytest

from engine.bridge import protocol
from engine.bridge.client import BridgeClient, BridgeRefused
from tests.bridge.conftest import png_bytes


def start_serve(model, tmp_path, port: int = 0, env_extra: dict | None = None, pair: bool = False) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--model", str(model), "--store",
                             str(tmp_path / "results.sqlite3"), "--port", str(port), "--provider", "cpu",
                             *(["--pair"] if pair else [])],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def read_until(process: subprocess.Popen, pattern: str) -> re.Match:
    for line in process.stdout:
        match = re.search(pattern, line)
        if match:
            return match
    raise AssertionError(f"serve exited without printing {pattern!r}: {process.stderr.read()}")


def test_serve_pair_asks_on_the_terminal_pairs_scans_and_stops_on_sigterm(brightness_model_path, tmp_path):
    process = start_serve(brightness_model_path, tmp_path, pair=True,
                          env_extra={"SYNTHSPOT_EXTENSION_ORIGINS": "moz-extension://1234-abcd"})
    try:
        port = int(read_until(process, r"bridge on http://127\.0\.0\.1:(\d+)").group(1))
        read_until(process, r"Pairing is open")
        api = BridgeClient(port)
        refused = api.request_pairing("Somebody else")
        asked = read_until(process, r'Browser "Somebody else" asks to pair; its popup shows the code (\d{3}) (\d{3})')
        assert asked[1] + asked[2] == refused.code
        process.stdin.write("n\n")
        process.stdin.flush()
        read_until(process, r'Refused "Somebody else"')
        assert api.pairing_answer(refused).status == 403

        ticket = api.request_pairing("Firefox on Linux")
        asked = read_until(process, r'Browser "Firefox on Linux" asks to pair; its popup shows the code (\d{3}) (\d{3})')
        assert asked[1] + asked[2] == ticket.code  # the terminal shows the code the browser derived
        process.stdin.write("y\n")
        process.stdin.flush()
        read_until(process, r'Paired "Firefox on Linux"\. Pairing is closed again')
        pairing = api.wait_for_approval(ticket)
        result = api.scan(png_bytes(230)).json()
        assert result["verdict"] == "likely_ai"
        firefox = BridgeClient(port, origin="moz-extension://1234-abcd", pairing=pairing)
        assert firefox.call("GET", "/v1/status").json()["browser_name"] == "Firefox on Linux"
        with pytest.raises(BridgeRefused):  # closed again once one browser is approved
            api.request_pairing("Late comer")
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0 and "bridge stopped" in out
    assert protocol.b64url(pairing.key) not in out + err


def test_an_answer_typed_before_the_code_is_shown_approves_nothing(brightness_model_path, tmp_path):
    process = start_serve(brightness_model_path, tmp_path, pair=True)
    try:
        port = int(read_until(process, r"bridge on http://127\.0\.0\.1:(\d+)").group(1))
        read_until(process, r"Pairing is open")
        process.stdin.write("y\n")  # typed ahead (or piped in): nobody has compared a code yet
        process.stdin.flush()
        api = BridgeClient(port)
        ticket = api.request_pairing("Chromium")
        read_until(process, r'Browser "Chromium" asks to pair')
        process.stdin.write("n\n")  # the answer given once the code is shown is the one that counts
        process.stdin.flush()
        read_until(process, r'Refused "Chromium"')
        assert api.pairing_answer(ticket).status == 403
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


def test_serve_refuses_a_port_out_of_range_in_words(brightness_model_path, tmp_path):
    process = subprocess.run([sys.executable, "-m", "engine.cli", "serve", "--model", str(brightness_model_path),
                              "--port", "70000"], capture_output=True, text=True, timeout=60)
    assert process.returncode == 2 and "port 70000 is out of range (0 to 65535)" in process.stderr
    assert "Traceback" not in process.stderr


@pytest.mark.parametrize("pair", [False, True])
def test_serve_closes_pairing_when_nobody_can_answer(brightness_model_path, tmp_path, pair):
    """Without --pair, or with it but nothing to type on (stdin at /dev/null: a service, a script): browsers
    hear that pairing is closed. With --pair the request was refused at once, and the browser told "the
    pairing was refused in the app", which nobody did."""
    process = start_serve(brightness_model_path, tmp_path, pair=pair)
    try:
        port = int(read_until(process, r"bridge on http://127\.0\.0\.1:(\d+)").group(1))
        if pair:
            read_until(process, r"Pairing is open")
            process.stdin.close()  # nothing will ever be typed
            ticket = BridgeClient(port).request_pairing("Chromium")
            read_until(process, r"no terminal\): pairing is closed")
            reply = BridgeClient(port).pairing_answer(ticket)
            assert reply.status == 404 and reply.json()["error"] == "unknown_request"  # gone with the window
        else:
            read_until(process, r"Pairing is closed; run `synthspot serve --pair`")
        with pytest.raises(BridgeRefused) as refused:
            BridgeClient(port).request_pairing("Chromium")
        assert refused.value.reply.json()["error"] == "pairing_closed"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def test_serve_on_a_taken_port_exits_with_a_clear_message(brightness_model_path, tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    process = start_serve(brightness_model_path, tmp_path, port=port)
    out, err = process.communicate(timeout=60)
    taken.close()
    assert process.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in err


@pytest.mark.parametrize("origins", ["https://evil.example", "http://localhost:3000"])
def test_serve_refuses_web_origins_in_the_allow_list(brightness_model_path, tmp_path, origins):
    process = start_serve(brightness_model_path, tmp_path, env_extra={"SYNTHSPOT_EXTENSION_ORIGINS": origins})
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2 and "not a browser-extension origin" in err


def test_serve_pair_stops_pairing_and_says_why_when_requests_pour_in(brightness_model_path, tmp_path):
    """A relay retrying requests until its code matches the browser's: serve --pair stops taking them after
    MAX_ATTEMPTS_PER_WINDOW and says so, rather than waiting on silently."""
    from engine.bridge.pairing import MAX_ATTEMPTS_PER_WINDOW

    process = start_serve(brightness_model_path, tmp_path, pair=True)
    try:
        port = int(read_until(process, r"bridge on http://127\.0\.0\.1:(\d+)").group(1))
        read_until(process, r"Pairing is open")
        relay = BridgeClient(port)
        commitment = protocol.b64url(bytes(32))  # never revealed: the relay only wants the app's answers
        for index in range(MAX_ATTEMPTS_PER_WINDOW):
            reply = relay.post_json("/v1/pair", {"name": f"try {index}", "commitment": commitment})
            assert reply.status == 202
            assert relay.post_json("/v1/pair/withdraw", {"request": reply.json()["request"]}).status == 200
        read_until(process, r"Pairing stopped: \d+ pairing requests came .* trying to pair without you\. "
                            r"Pairing is closed")
        assert relay.post_json("/v1/pair", {"name": "more", "commitment": commitment}).status == 403
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    assert process.returncode == 0


def test_serve_keeps_serving_when_its_status_lines_cannot_be_written(brightness_model_path, tmp_path):
    """stdout to a full disk (a service's log): the first status line raised, and the bridge stopped with a
    traceback before any browser could reach it."""
    import time

    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with open("/dev/full", "w") as full:
        process = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--model", str(brightness_model_path),
                                    "--store", str(tmp_path / "results.sqlite3"), "--port", str(port)],
                                   stdout=full, stderr=subprocess.PIPE, text=True)
    try:
        deadline, status = time.monotonic() + 60, 0
        while time.monotonic() < deadline and process.poll() is None and status != 200:
            try:
                status = BridgeClient(port, timeout=2).raw("GET", "/v1/status").status
            except OSError:
                time.sleep(0.2)
        assert status == 200, process.stderr.read() if process.poll() is not None else "no answer"
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0 and "Traceback" not in err, err
