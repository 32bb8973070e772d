"""A test web page on 127.0.0.1, `synthspot serve` as a subprocess, and Debian's Chromium with the extension."""

from __future__ import annotations

import functools
import http.server
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
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
    # An avatar service's SVG: no ".svg" in its address, a charset in its type.
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".avatar": "image/svg+xml; charset=utf-8"}

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


class ServeProcess:
    """`synthspot serve` as a subprocess whose output is read line by line in the background."""

    def __init__(self, model: Path, store_path: Path, port: int = 0, pair: bool = True):
        self.store_path = store_path
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "serve", "--model", str(model), "--store", str(store_path),
             "--port", str(port), "--provider", "cpu", *(["--pair"] if pair else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, cwd=REPO)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.port = int(self.wait_for(r"bridge on http://127\.0\.0\.1:(\d+)").group(1))
        self.wait_for(r"Pairing is open" if pair else r"Pairing is closed")

    def _read(self) -> None:
        try:
            for line in self.process.stdout:
                self.lines.put(line)
        except ValueError:  # stop()'s communicate() closed stdout under this loop: the process is gone
            pass

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"serve did not print {pattern!r}: {self.process.stderr.read() if self.process.poll() is not None else ''}")

    def answer_next_request(self, approve: bool = True) -> tuple[str, str]:
        """Wait for the terminal to ask about a browser, answer, and return (its name, its code)."""
        asked = self.wait_for(r'Browser "(.*)" asks to pair; its popup shows the code (\d{3}) (\d{3})')
        self.process.stdin.write("y\n" if approve else "n\n")
        self.process.stdin.flush()
        return asked[1], asked[2] + asked[3]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.communicate(timeout=20)


@pytest.fixture
def synthspot_serve(brightness_model_path, tmp_path):
    (tmp_path / "data").mkdir()  # `serve --store` wants its folder there (a typo must not make a tree)
    serve = ServeProcess(brightness_model_path, tmp_path / "data" / "results.sqlite3")
    yield serve
    serve.stop()


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


def pair_extension(worker, serve: ServeProcess, name: str = "Test Chromium") -> None:
    """Pair the way the popup does (through the service worker), approving on serve's terminal."""
    worker.evaluate("(port) => chrome.storage.local.set({ bridgePort: port })", serve.port)
    code = worker.evaluate("(name) => startPairing(name)", name)["code"]
    asked_name, asked_code = serve.answer_next_request()
    assert (asked_name, asked_code) == (name, code)
    worker.evaluate("""async () => {
      for (let i = 0; i < 200; i += 1) {
        const { pairingAttempt } = await chrome.storage.local.get("pairingAttempt");
        if (pairingAttempt.state === "confirm") {  // the popup's question: "did you approve it there?"
          await answerApproval(true);
          return;
        }
        if (pairingAttempt.state === "failed") throw new Error(pairingAttempt.message);
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error("not paired in time");
    }""")


# Every badge in every frame of the tab at ``url``, read in the extension's own world (the page cannot).
DESCRIBE = """async (url) => {
  const [tab] = await chrome.tabs.query({ url });
  const runs = await chrome.scripting.executeScript({ target: { tabId: tab.id, allFrames: true },
    func: () => (globalThis.__synthspot ? globalThis.__synthspot.describe() : []) });
  return runs.flatMap((run) => run.result.map((badge) => ({ ...badge, frameId: run.frameId })));
}"""


def badges(worker, url: str) -> list[dict]:
    return worker.evaluate(DESCRIBE, url)


def wait_for_badges(worker, url: str, condition, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = badges(worker, url)
        if condition(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"badges never settled: {found}")
        time.sleep(0.2)
