"""The unpacked extension in a real Chromium, against `synthspot serve` and a page served from 127.0.0.1."""

from __future__ import annotations

import io
import json
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.bridge.extension_id import UNPACKED_EXTENSION_ID
from engine.model import Detector
from engine.scanner import Scanner
from engine.store import Store

SCREENSHOT = Path("/work/screens/extension_badges.png")
POPUP = f"chrome-extension://{UNPACKED_EXTENSION_ID}/popup.html"


def write_image(path: Path, value: int, size: tuple[int, int], fmt: str = "PNG", texture: int = 0) -> bytes:
    """A grey image (the brightness model scores it by ``value``), with a soft pattern so it reads as a picture."""
    height, width = size[1], size[0]
    yy, xx = np.mgrid[0:height, 0:width]
    pattern = texture * np.sin(xx / 9.0) * np.cos(yy / 7.0)
    pixels = np.clip(value + pattern, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(np.stack([pixels] * 3, axis=-1)).save(buffer, format=fmt)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>SynthSpot test gallery</title>
<style>
 body { font: 14px sans-serif; margin: 20px; background: #fafafa; }
 .grid { display: flex; flex-wrap: wrap; gap: 24px; }
 figure { margin: 0; } figcaption { color: #555; }
 #background { width: 280px; height: 180px; background-image: url("background.png"); background-size: cover; }
</style></head>
<body>
<h1>Test gallery</h1>
<div class="grid">
 <figure><img id="bright" src="bright.png" width="280" height="180"><figcaption>bright PNG</figcaption></figure>
 <figure><img id="dark" src="dark.jpg" width="280" height="180"><figcaption>dark JPEG</figcaption></figure>
 <figure><img id="grey" src="grey.png" width="280" height="180"><figcaption>mid-grey PNG</figcaption></figure>
 <figure><img id="responsive" src="fallback.png" srcset="small.png 100w, large.png 400w" sizes="280px"
   width="280" height="180"><figcaption>srcset (shows large.png)</figcaption></figure>
 <figure><div id="background"></div><figcaption>CSS background</figcaption></figure>
 <figure><img id="expiring" src="expiring.png" width="280" height="180"><figcaption>link expires after one load</figcaption></figure>
 <figure><img id="icon" src="icon.png" width="32" height="32"><figcaption>icon (too small)</figcaption></figure>
 <img id="hidden" src="hidden.png" width="200" height="200" style="display:none">
</div>
</body></html>
"""

BADGES = """() => {
  const host = document.querySelector("synthspot-badges");
  if (!host) return [];
  return [...host.shadowRoot.querySelectorAll(".badge")].map((b) => ({
    src: b.dataset.src, state: b.dataset.state, verdict: b.dataset.verdict || null,
    probability: b.dataset.probability ? Number(b.dataset.probability) : null, sha256: b.dataset.sha256 || null,
    text: b.textContent, left: parseFloat(b.style.left), top: parseFloat(b.style.top) }));
}"""


@pytest.mark.browser
def test_pair_in_the_popup_scan_the_page_and_badge_every_visible_image(
        browser, page_server, synthspot_serve, brightness_model_path):
    folder, base = page_server
    images = {
        "bright.png": write_image(folder / "bright.png", 235, (280, 180), texture=12),
        "dark.jpg": write_image(folder / "dark.jpg", 25, (280, 180), "JPEG", texture=12),
        "grey.png": write_image(folder / "grey.png", 128, (280, 180), texture=12),
        "large.png": write_image(folder / "large.png", 215, (400, 257), texture=20),
        "background.png": write_image(folder / "background.png", 60, (280, 180), texture=30),
    }
    write_image(folder / "small.png", 30, (100, 64))  # srcset's other candidate: must not be chosen
    write_image(folder / "fallback.png", 128, (280, 180))  # src fallback: must not be chosen over srcset
    write_image(folder / "expiring.png", 200, (280, 180))
    write_image(folder / "icon.png", 240, (32, 32))
    write_image(folder / "hidden.png", 240, (200, 200))
    (folder / "index.html").write_text(PAGE)

    page = browser.new_page()
    page.goto(f"{base}/index.html")
    page.wait_for_function("() => [...document.images].every((i) => i.complete)")

    popup = browser.new_page()
    popup.goto(POPUP)
    # Wrong port first: the popup must say plainly that SynthSpot is not running.
    popup.click("#settings summary")
    popup.fill("#port", "1")
    popup.click("#save-port")
    popup.wait_for_selector('#connection[data-state="app_not_running"]')
    assert "not running" in popup.inner_text("#status-text")
    # The bridge's real port: running, not paired; a wrong code is refused with a message.
    popup.fill("#port", str(synthspot_serve.port))
    popup.click("#save-port")
    popup.wait_for_selector('#connection:not([data-state="checking"]):not([data-state="app_not_running"])')
    assert popup.get_attribute("#connection", "data-state") == "not_paired", popup.inner_text("#connection")
    wrong = f"{(int(synthspot_serve.code) + 1) % 1_000_000:06d}"
    popup.fill("#code", wrong)
    popup.click("#pair")
    popup.wait_for_function("() => document.querySelector('#pair-message').textContent.includes('not the one')")
    popup.fill("#code", f"{synthspot_serve.code[:3]} {synthspot_serve.code[3:]}")
    popup.click("#pair")
    popup.wait_for_selector('#connection[data-state="paired"]')
    assert "test-brightness" in popup.inner_text("#status-detail")

    popup.click("#scan-page")
    popup.wait_for_function("() => document.querySelector('#scan-message').textContent.startsWith('Checking')")
    assert "Checking 6 images" in popup.inner_text("#scan-message")

    page.bring_to_front()
    page.wait_for_function(f"() => ({BADGES})().length === 6 && ({BADGES})().every((b) => b.state !== 'checking')",
                           timeout=30_000)
    badges = {badge["src"].removeprefix(base + "/"): badge for badge in page.evaluate(BADGES)}
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # srcset: the displayed candidate; icon and hidden image: no badge; the expired link: a clear failure.
    assert set(badges) == {*images, "expiring.png"}
    assert badges["expiring.png"]["state"] == "fetch_failed"
    assert "could not be fetched" in badges["expiring.png"]["text"]

    with Scanner(Detector(brightness_model_path, provider="cpu")) as scanner:
        expected = {name: scanner.scan_bytes(data, source="cli") for name, data in images.items()}
    store = Store(synthspot_serve.store_path)
    for name, result in expected.items():
        badge = badges[name]
        assert badge["state"] == "done", badge
        assert badge["sha256"] == result.sha256
        assert badge["verdict"] == result.verdict, (name, badge)
        assert abs(badge["probability"] - result.probability) < 1e-6
        assert result.verdict_label in badge["text"] and f"{round(100 * result.probability)}%" in badge["text"]
        stored = store.find(result.sha256)
        assert stored is not None and stored.source == "browser" and stored.page_url == f"{base}/index.html"
        assert stored.image_url == f"{base}/{name}"
    # The page's images cover all three bands.
    assert {r.verdict for r in expected.values()} == {"likely_ai", "uncertain", "likely_real"}
    # Each badge sits on its image's top-left corner.
    box = page.locator("#bright").bounding_box()
    assert abs(badges["bright.png"]["left"] - (box["x"] + 6)) <= 1 and abs(badges["bright.png"]["top"] - (box["y"] + 6)) <= 1
    store.close()


MENU_CHECK = """async ([srcUrl]) => {
  const [tab] = await chrome.tabs.query({ url: "http://127.0.0.1/*" });
  return checkFromMenu({ menuItemId: MENU_ID, srcUrl, frameId: 0 }, tab);
}"""


def badge_for(page, url: str, unsettled: tuple[str, ...] = ("checking",)) -> dict:
    """The badge on ``url`` once it leaves the ``unsettled`` states."""
    waiting = json.dumps(list(unsettled))
    page.wait_for_function(f"() => ({BADGES})().some((b) => b.src === {url!r} && !{waiting}.includes(b.state))")
    return next(b for b in page.evaluate(BADGES) if b["src"] == url and b["state"] not in unsettled)


@pytest.mark.browser
def test_context_menu_check_open_link_auto_scan_and_clear_failure_states(browser, page_server, synthspot_serve):
    from tests.extension.conftest import pair_over_http

    folder, base = page_server
    write_image(folder / "bright.png", 235, (280, 180), texture=12)
    write_image(folder / "dark.png", 25, (280, 180), texture=12)
    (folder / "index.html").write_text('<!doctype html><body style="margin:20px">'
                                       '<img id="bright" src="bright.png"> <img id="dark" src="dark.png"></body>')
    worker = browser.service_workers[0]
    token = pair_over_http(synthspot_serve)
    worker.evaluate("([port, token]) => chrome.storage.local.set({ bridgePort: port, token })",
                    [synthspot_serve.port, token])
    page = browser.new_page()
    page.goto(f"{base}/index.html")
    page.wait_for_function("() => [...document.images].every((i) => i.complete)")

    # "Check image with SynthSpot" on one image: only that image gets a badge.
    worker.evaluate(MENU_CHECK, [f"{base}/bright.png"])
    bright = badge_for(page, f"{base}/bright.png")
    assert bright["verdict"] == "likely_ai" and len(page.evaluate(BADGES)) == 1
    # "Open in SynthSpot" under `synthspot serve` (no window) says so instead of failing silently.
    page.locator("synthspot-badges .badge a").click()
    page.wait_for_function("""() => document.querySelector("synthspot-badges").shadowRoot
                              .querySelector(".badge a").textContent === "Open the SynthSpot app" """)

    # Not paired (the token is gone): the badge says what to do.
    worker.evaluate("() => chrome.storage.local.remove('token')")
    worker.evaluate(MENU_CHECK, [f"{base}/dark.png"])
    unpaired = badge_for(page, f"{base}/dark.png")
    assert unpaired["state"] == "not_paired" and "open the SynthSpot popup" in unpaired["text"]

    # Auto-scan switched on for the site in the popup: the next load of the page is badged by itself.
    worker.evaluate("(token) => chrome.storage.local.set({ token })", token)
    popup = browser.new_page()
    popup.goto(POPUP)
    popup.wait_for_selector('#connection[data-state="paired"]')
    assert popup.inner_text("#site") == base.removeprefix("http://")
    popup.check("#auto-scan")
    popup.close()
    page.reload()
    page.wait_for_function(f"() => ({BADGES})().filter((b) => b.state === 'done').length === 2")

    # The app stops: checks and the popup say SynthSpot is not running.
    synthspot_serve.process.send_signal(signal.SIGTERM)
    synthspot_serve.process.wait(timeout=20)
    worker.evaluate(MENU_CHECK, [f"{base}/dark.png"])
    stopped = badge_for(page, f"{base}/dark.png", unsettled=("checking", "done"))
    assert stopped["state"] == "app_not_running" and "not running" in stopped["text"]
    popup = browser.new_page()
    popup.goto(POPUP)
    popup.wait_for_selector('#connection[data-state="app_not_running"]')
