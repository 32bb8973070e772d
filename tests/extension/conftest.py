"""A test web page on 127.0.0.1, `synthspot serve` as a subprocess, and Debian's Chromium with the extension."""

from __future__ import annotations

import functools
import http.server
import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.bridge.extension_id import UNPACKED_EXTENSION_ID

REPO = Path(__file__).resolve().parents[2]
EXTENSION_DIR = REPO / "extension"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
    f"--disable-extensions-except={EXTENSION_DIR}", f"--load-extension={EXTENSION_DIR}",
]


class PageHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the test page's folder; /expiring.png answers once, then 403 (an expired signed URL)."""

    served_expiring = False

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path.startswith("/expiring.png"):
            if PageHandler.served_expiring:
                self.send_error(403, "link expired")
                return
            PageHandler.served_expiring = True
        super().do_GET()

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def page_server(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    PageHandler.served_expiring = False
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(PageHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@dataclass
class ServeProcess:
    process: subprocess.Popen
    port: int
    code: str
    store_path: Path


@pytest.fixture
def synthspot_serve(brightness_model_path, tmp_path):
    store_path = tmp_path / "data" / "results.sqlite3"
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve", "--model", str(brightness_model_path), "--store",
         str(store_path), "--port", "0", "--provider", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=REPO)
    port = code = None
    for line in process.stdout:
        if match := re.search(r"bridge on http://127\.0\.0\.1:(\d+)", line):
            port = int(match.group(1))
        if match := re.search(r"Pairing code: (\d{3}) (\d{3})", line):
            code = match.group(1) + match.group(2)
            break
    if port is None or code is None:
        process.kill()
        pytest.fail(f"synthspot serve did not start: {process.stderr.read()}")
    yield ServeProcess(process, port, code, store_path)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=20)


@pytest.fixture
def browser(tmp_path):
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is needed: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=False, args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 900})
        try:
            worker = context.service_workers[0] if context.service_workers else context.wait_for_event(
                "serviceworker", timeout=15_000)
            assert worker.url.startswith(f"chrome-extension://{UNPACKED_EXTENSION_ID}/"), worker.url
            yield context
        finally:
            context.close()


def pair_over_http(serve: ServeProcess) -> str:
    """Pair the way the popup does, from Python, for tests whose subject is not the popup."""
    import json
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{serve.port}/v1/pair", data=json.dumps({"code": serve.code}).encode(), method="POST",
        headers={"Origin": f"chrome-extension://{UNPACKED_EXTENSION_ID}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["token"]
