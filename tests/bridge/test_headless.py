"""`synthspot serve`: the bridge without the app, as a real subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from tests.bridge.conftest import EXTENSION_ORIGIN, png_bytes


def start_serve(model, tmp_path, port: int = 0, env_extra: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--model", str(model), "--store",
                             str(tmp_path / "results.sqlite3"), "--port", str(port), "--provider", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def read_until(process: subprocess.Popen, pattern: str) -> re.Match:
    for line in process.stdout:
        match = re.search(pattern, line)
        if match:
            return match
    raise AssertionError(f"serve exited without printing {pattern!r}: {process.stderr.read()}")


def request(port: int, method: str, path: str, body: bytes | None = None, content_type: str = "",
            token: str = "", origin: str = EXTENSION_ORIGIN):
    headers = {"Origin": origin, "Content-Type": content_type, "X-SynthSpot-Token": token}
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method,
                                 headers={k: v for k, v in headers.items() if v})
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.loads(response.read())


def test_serve_prints_a_code_pairs_scans_and_stops_on_sigterm(brightness_model_path, tmp_path):
    process = start_serve(brightness_model_path, tmp_path,
                          env_extra={"SYNTHSPOT_EXTENSION_ORIGINS": "moz-extension://1234-abcd"})
    try:
        port = int(read_until(process, r"bridge on http://127\.0\.0\.1:(\d+)").group(1))
        code = read_until(process, r"Pairing code: (\d{3}) (\d{3})")
        token = request(port, "POST", "/v1/pair", json.dumps({"code": code[1] + code[2]}).encode(),
                        "application/json")["token"]
        result = request(port, "POST", "/v1/scan", png_bytes(230), "image/png", token)
        assert result["verdict"] == "likely_ai" and result["source"] == "browser"
        assert request(port, "GET", "/v1/status", token=token, origin="moz-extension://1234-abcd")["paired"]
        read_until(process, r"Pairing code: \d{3} \d{3}")  # the used code was replaced and the new one shown
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0 and "bridge stopped" in out
    assert token not in out + err


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
