"""The unpacked extension in a real Chromium, against `synthspot serve` and a page served from 127.0.0.1."""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from PIL import Image

from engine.bridge import protocol
from engine.bridge.extension_id import UNPACKED_EXTENSION_ID
from engine.model import Detector
from engine.scanner import Scanner
from engine.store import Store
from tests.extension.conftest import ServeProcess, badges, pair_extension, wait_for_badges

SCREENSHOT = Path("/work/screens/extension_badges.png")
GALLERY_SCREENSHOT = Path("/work/screens/extension_gallery.png")
CONFIRM_SCREENSHOT = Path("/work/screens/extension_pairing_confirm.png")
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
    worker = browser.service_workers[0]
    page = browser.new_page()
    page.goto(f"{base}/index.html")
    page.wait_for_function("() => [...document.images].every((i) => i.complete)")

    popup = browser.new_page()
    popup.goto(POPUP)
    # A dark system theme gets a dark popup, its text still readable; a light one the light popup.
    colours = "() => [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color]"
    popup.emulate_media(color_scheme="dark")
    assert popup.evaluate(colours) == ["rgb(31, 41, 55)", "rgb(229, 231, 235)"]
    popup.emulate_media(color_scheme="light")
    assert popup.evaluate(colours)[1] == "rgb(17, 24, 39)"
    # Wrong port first: the popup must say plainly that SynthSpot is not running.
    popup.click("#settings summary")
    popup.fill("#port", "1")
    popup.click("#save-port")
    popup.wait_for_selector('#connection[data-state="app_not_running"]')
    assert "not running" in popup.inner_text("#status-text")
    # A port no program can have: said, and nothing changes.
    popup.fill("#port", "99999")
    popup.press("#port", "Enter")  # Enter saves, as in a form
    assert "1 to 65535" in popup.inner_text("#port-message")
    assert popup.get_attribute("#port", "aria-invalid") == "true"  # the field itself says it is wrong
    assert worker.evaluate("async () => (await chrome.storage.local.get('bridgePort')).bridgePort") == 1
    # Another program on the port (this page's web server): not SynthSpot, not "pairing is not open".
    popup.fill("#port", base.rsplit(":", 1)[1])
    popup.click("#save-port")
    popup.wait_for_selector('#connection[data-state="impostor"]')
    assert popup.get_attribute("#port", "aria-invalid") is None
    assert "Something other than SynthSpot answers on this port" in popup.inner_text("#status-detail")
    # The bridge's real port: running, not paired; the popup asks for a name and shows the code to compare.
    popup.fill("#port", str(synthspot_serve.port))
    popup.click("#save-port")
    popup.wait_for_selector('#connection[data-state="not_paired"]')
    assert popup.input_value("#browser-name") and popup.is_hidden("#unpair")  # a default name, e.g. "Chromium on Linux"
    popup.fill("#browser-name", "Test Chromium")
    # Waiting can be cancelled: the request leaves the app's window too (approving it there would pair a
    # browser that never keeps the key), and nothing changes here afterwards.
    popup.click("#pair")
    popup.wait_for_selector('#connection[data-state="waiting"]')
    synthspot_serve.wait_for(r'Browser "Test Chromium" asks to pair')
    popup.click("#cancel-pairing")
    popup.wait_for_selector('#connection[data-state="not_paired"]')
    assert popup.inner_text("#pair-message") == "Pairing cancelled."
    synthspot_serve.wait_for(r'Browser "Test Chromium" stopped asking', timeout=5)
    assert popup.inner_text("#status-text") == "Not paired"  # not "yet": it was tried
    # Cancel went away under the mouse: the news has the focus, but no keyboard ring for a mouse user.
    assert popup.evaluate("() => document.activeElement.id") == "status-text"
    assert popup.evaluate("() => getComputedStyle(document.querySelector('#status-text')).outlineStyle") == "none"
    popup.wait_for_timeout(1500)  # two of the worker's polling rounds
    assert popup.inner_text("#pair-message") == "Pairing cancelled."
    assert worker.evaluate("async () => (await chrome.storage.local.get('pairingAttempt')).pairingAttempt") is None
    popup.click("#pair")
    popup.wait_for_selector('#connection[data-state="waiting"]')
    name, code = synthspot_serve.answer_next_request(approve=False)  # refused on the terminal
    assert name == "Test Chromium" and popup.inner_text("#pair-code").replace(" ", "") == code
    assert popup.text_content("#pair-code-spoken") == "Code " + " ".join(code)  # read digit by digit
    assert popup.get_attribute("#pair-code", "aria-hidden") == "true"  # not also as two numbers
    popup.wait_for_selector('#connection[data-state="not_paired"]')
    popup.wait_for_function("() => document.querySelector('#pair-message').textContent.includes('refused')")
    popup.click("#pair")  # again, and approved this time
    popup.wait_for_selector('#connection[data-state="waiting"]')
    name, code = synthspot_serve.answer_next_request(approve=True)
    assert popup.inner_text("#pair-code").replace(" ", "") == code
    # Approved on the port: kept only once the person says the approval was theirs, in SynthSpot's window.
    popup.wait_for_selector('#connection[data-state="confirm"]')
    assert popup.inner_text("#confirm-code").replace(" ", "") == code
    assert worker.evaluate("() => SynthSpotBridge.loadPairing()") is None
    popup.click("#confirm-pairing")
    popup.wait_for_selector('#connection[data-state="paired"]')
    assert "test-brightness" in popup.inner_text("#status-detail")
    assert "Test Chromium" in popup.inner_text("#status-text")
    assert popup.is_visible("#unpair")  # Settings is open since the port was set

    popup.click("#scan-page")
    popup.wait_for_function("() => document.querySelector('#scan-message').dataset.state === 'finished'",
                            timeout=30_000)
    message = popup.inner_text("#scan-message")
    assert message.startswith("Finished: checked 6 images on 127.0.0.1"), message
    assert "1 could not be checked" in message
    assert message.endswith("Images the page loads later are checked as they appear.")  # still watched

    page.bring_to_front()
    found = {b["src"].removeprefix(base + "/"): b for b in badges(worker, f"{base}/*")}
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # srcset: the displayed candidate; icon and hidden image: no badge; the expired link: a clear failure.
    assert set(found) == {*images, "expiring.png"}
    assert found["expiring.png"]["state"] == "fetch_failed"
    assert "could not be fetched" in found["expiring.png"]["text"]

    with Scanner(Detector(brightness_model_path, provider="cpu")) as scanner:
        expected = {name: scanner.scan_bytes(data, source="cli") for name, data in images.items()}
    store = Store(synthspot_serve.store_path)
    for name, result in expected.items():
        badge = found[name]
        assert badge["state"] == "done", badge
        assert badge["sha256"] == result.sha256
        assert badge["verdict"] == result.verdict, (name, badge)
        assert abs(badge["probability"] - result.probability) < 1e-6
        assert f"AI {round(100 * result.probability)}%" in badge["text"]  # says what the number is
        assert result.verdict_label[0].lower() + result.verdict_label[1:] in badge["text"]  # "likely AI"
        assert badge["title"].startswith(f"AI score: {round(100 * result.probability)}%")
        assert f"Verdict: {result.verdict_label}" in badge["title"]
        means = {"likely_ai": "A strong hint, not proof", "uncertain": "cannot tell either way",
                 "likely_real": "not proof of a photo"}
        assert means[result.verdict] in badge["title"]  # what the verdict is worth, as the app says
        stored = store.find(result.sha256)
        assert stored is not None and stored.source == "browser" and stored.page_url == f"{base}/index.html"
        assert stored.image_url == f"{base}/{name}"
    # The page's images cover all three bands.
    assert {r.verdict for r in expected.values()} == {"likely_ai", "uncertain", "likely_real"}
    # Each badge sits on its image's top-left corner.
    box = page.locator("#bright").bounding_box()
    assert abs(found["bright.png"]["left"] - (box["x"] + 6)) <= 1 and abs(found["bright.png"]["top"] - (box["y"] + 6)) <= 1
    store.close()
    # Unpairing cannot be undone from the popup: the first click asks, the second unpairs.
    popup.bring_to_front()
    popup.wait_for_selector('#connection[data-state="paired"]')
    popup.focus("#unpair")
    popup.keyboard.press("Enter")
    assert popup.inner_text("#unpair").startswith("Click again to unpair")
    assert "again within 15 seconds" in popup.inner_text("#unpair-message")  # said, not only relabelled
    assert popup.get_attribute("#connection", "data-state") == "paired"
    popup.keyboard.press("Enter")
    popup.wait_for_selector('#connection[data-state="not_paired"]')
    assert popup.is_hidden("#unpair") and popup.inner_text("#unpair-message") == ""  # the app forgot it too
    # The button went away under the keyboard: focus is on the news, not back at the top of the popup.
    assert popup.evaluate("() => document.activeElement.id") == "status-text"
    assert popup.evaluate("() => getComputedStyle(document.querySelector('#status-text')).outlineStyle") == "solid"  # and the ring shows where it is


MENU_CHECK = """async ([srcUrl]) => {
  const [tab] = await chrome.tabs.query({ url: "http://127.0.0.1/*" });
  return checkFromMenu({ menuItemId: MENU_ID, srcUrl, frameId: 0 }, tab);
}"""

# The toolbar button's text and title on the test page's tab: set (both given), then read back.
TOOLBAR_MARK = """async ([text, title]) => {
  const [tab] = await chrome.tabs.query({ url: "http://127.0.0.1/*" });
  if (text !== null) {
    await chrome.action.setBadgeText({ tabId: tab.id, text });
    await chrome.action.setTitle({ tabId: tab.id, title });
  }
  return [await chrome.action.getBadgeText({ tabId: tab.id }), await chrome.action.getTitle({ tabId: tab.id })];
}"""

# Take the pairing out of the extension's store (and put it back), to see the "not paired" state.
HIDE_PAIRING = """async () => {
  globalThis.__hiddenPairing = await SynthSpotBridge.loadPairing();
  const db = await new Promise((ok) => { const r = indexedDB.open("synthspot", 1); r.onsuccess = () => ok(r.result); });
  await new Promise((ok) => { const t = db.transaction("pairing", "readwrite"); t.objectStore("pairing").delete("bridge");
    t.oncomplete = ok; });
  db.close();
}"""
RESTORE_PAIRING = """async () => {
  const db = await new Promise((ok) => { const r = indexedDB.open("synthspot", 1); r.onsuccess = () => ok(r.result); });
  await new Promise((ok) => { const t = db.transaction("pairing", "readwrite");
    t.objectStore("pairing").put(globalThis.__hiddenPairing, "bridge"); t.oncomplete = ok; });
  db.close();
}"""


def settled(url: str, count: int = 1, unsettled: tuple[str, ...] = ("checking",)):
    return lambda found: sum(b["src"] == url and b["state"] not in unsettled for b in found) >= count


def badge_on(found: list[dict], url: str) -> dict:
    return next(b for b in found if b["src"] == url)


def paired_page(browser, page_server, serve, names: tuple[str, str], body: str):
    """A paired extension and a page of ``body``, with a bright and a dark image named ``names`` served."""
    folder, _base = page_server
    write_image(folder / f"{names[0]}.png", 235, (280, 180), texture=12)
    write_image(folder / f"{names[1]}.png", 25, (280, 180), texture=12)
    return paired_page_of(browser, page_server, serve, body)


def paired_page_of(browser, page_server, serve, body: str):
    """A paired extension and a page of ``body`` (its images already in the page server's folder), loaded."""
    folder, base = page_server
    (folder / "index.html").write_text(f'<!doctype html><body style="margin:20px">{body}</body>')
    worker = browser.service_workers[0]
    pair_extension(worker, serve)
    page = browser.new_page()
    page.goto(f"{base}/index.html")
    page.wait_for_function("() => [...document.images].every((i) => i.complete)")
    return worker, page, base


@pytest.mark.browser
def test_context_menu_check_open_link_auto_scan_and_clear_failure_states(browser, page_server, synthspot_serve):
    worker, page, base = paired_page(browser, page_server, synthspot_serve, ("bright", "dark"),
                                     '<img id="bright" src="bright.png"> <img id="dark" src="dark.png">')
    pages = f"{base}/*"

    # "Check image with SynthSpot" on one image: only that image gets a badge, and the "!" an earlier
    # failure on this tab left on the toolbar button goes.
    worker.evaluate(TOOLBAR_MARK, ["!", "SynthSpot cannot check images on this page: gone"])
    worker.evaluate(MENU_CHECK, [f"{base}/bright.png"])
    found = wait_for_badges(worker, pages, settled(f"{base}/bright.png"))
    assert badge_on(found, f"{base}/bright.png")["verdict"] == "likely_ai" and len(found) == 1
    assert worker.evaluate(TOOLBAR_MARK, [None, None]) == ["", "SynthSpot"]
    # "Check linked image" is offered on photo.JPG?w=800 and photo.Jpeg too (match patterns are case-sensitive).
    patterns = worker.evaluate("IMAGE_LINK_PATTERNS")
    assert {"*://*/*.JPG?*", "*://*/*.Jpeg", "*://*/*.webp?*"} <= set(patterns)
    # "Open in SynthSpot" under `synthspot serve` (no window) says so, on the person's real click.
    link = badge_on(found, f"{base}/bright.png")["openLink"]
    page.mouse.click(link["x"], link["y"])
    wait_for_badges(worker, pages, lambda f: "Open the SynthSpot app" in badge_on(f, f"{base}/bright.png")["text"])

    # Not paired (the pairing is gone): the badge says what to do.
    worker.evaluate(HIDE_PAIRING)
    worker.evaluate(MENU_CHECK, [f"{base}/dark.png"])
    found = wait_for_badges(worker, pages, settled(f"{base}/dark.png"))
    unpaired = badge_on(found, f"{base}/dark.png")
    assert unpaired["state"] == "not_paired" and "open the SynthSpot popup" in unpaired["text"]
    worker.evaluate(RESTORE_PAIRING)

    # Auto-scan switched on for the site in the popup: the next load of the page is badged by itself.
    popup = browser.new_page()
    popup.goto(POPUP)
    popup.wait_for_selector('#connection[data-state="paired"]')
    assert popup.inner_text("#site") == base.removeprefix("http://")
    popup.check("#auto-scan")
    popup.close()
    page.reload()
    wait_for_badges(worker, pages, lambda f: sum(b["state"] == "done" for b in f) == 2)

    # The app stops: checks and the popup say SynthSpot is not running.
    synthspot_serve.stop()
    worker.evaluate(MENU_CHECK, [f"{base}/dark.png"])
    found = wait_for_badges(worker, pages, settled(f"{base}/dark.png", unsettled=("checking", "done")))
    stopped = badge_on(found, f"{base}/dark.png")
    assert stopped["state"] == "app_not_running" and "not running" in stopped["text"]
    popup = browser.new_page()
    popup.goto(POPUP)
    popup.wait_for_selector('#connection[data-state="app_not_running"]')
    # Auto-scan is on for the site, but with the app gone a new load badges nothing (the popup said why).
    page.reload()
    page.wait_for_function("() => [...document.images].every((i) => i.complete)")
    time.sleep(2)
    assert badges(worker, pages) == []


@pytest.mark.browser
def test_a_menu_check_of_an_icon_a_broken_image_or_an_avatar_svg_answers_where_it_can_be_seen(
        browser, page_server, synthspot_serve):
    """Icons, avatars and broken images are what people right-click: a badge too small to show (or a
    broken image's alt text) left them with no answer at all."""
    page_server[0].joinpath("face.avatar").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="200" '
                                                      'height="200"><rect width="200" height="200"/></svg>')
    worker, page, base = paired_page(browser, page_server, synthspot_serve, ("bright", "dark"),
                                     '<img src="bright.png" width="24" height="24"> '
                                     '<img src="missing.png" alt="a broken picture"> '
                                     '<img src="face.avatar" width="200" height="200">')
    pages = f"{base}/*"
    for name in ("bright.png", "missing.png", "face.avatar"):
        worker.evaluate(MENU_CHECK, [f"{base}/{name}"])
    found = wait_for_badges(worker, pages, lambda f: all(settled(f"{base}/{name}")(f)
                                                         for name in ("bright.png", "missing.png", "face.avatar")))
    icon, broken, avatar = (badge_on(found, f"{base}/{name}") for name in ("bright.png", "missing.png", "face.avatar"))
    assert icon["visible"] and icon["verdict"] == "likely_ai" and icon["dismissButton"], icon  # a corner toast
    assert broken["visible"] and broken["state"] == "fetch_failed" and "404" in broken["title"], broken
    assert avatar["state"] == "unsupported_format" and "SVG" in avatar["text"], avatar  # not "not readable"
    # An image the app refuses to decode is not called unreadable when it is only too large: the badge says it
    # could not be checked, its tooltip why (a 108 MP PNG of one colour is a few hundred kB).
    Image.new("L", (12000, 9000), 128).save(page_server[0] / "poster.png")
    worker.evaluate(MENU_CHECK, [f"{base}/poster.png"])
    found = wait_for_badges(worker, pages, settled(f"{base}/poster.png"))
    poster = badge_on(found, f"{base}/poster.png")
    assert poster["state"] == "not_scanned" and "Could not be checked" in poster["text"], poster
    assert "108 MP" in poster["title"] and "100 MP" in poster["title"], poster
    # A page-made (blob:) image over the bridge's 40 MB: said at once, not copied into a message too big to
    # send ("SynthSpot was updated: reload the page" over 64 MB of base64).
    huge = page.evaluate("""() => URL.createObjectURL(new Blob([new Uint8Array(53 * 1024 * 1024)],
                                                                { type: "image/png" }))""")
    worker.evaluate(MENU_CHECK, [huge])
    found = wait_for_badges(worker, pages, settled(huge))
    assert badge_on(found, huge)["state"] == "too_large" and "40 MB" in badge_on(found, huge)["title"]


def scan_from_popup(browser):
    """The popup in a tab of its own, paired: "Scan this page" clicked and its summary waited for."""
    popup = browser.new_page()
    popup.goto(POPUP)
    popup.wait_for_selector('#connection[data-state="paired"]')
    popup.click("#scan-page")
    popup.wait_for_function("() => document.querySelector('#scan-message').dataset.state === 'finished'",
                            timeout=60_000)
    return popup


FRAME_VIEWPORT_TOP = """() => { const f = document.getElementById('frame');
  return f.getBoundingClientRect().top + f.clientTop; }"""


@pytest.mark.browser
def test_a_frame_scrolled_half_out_of_the_page_keeps_its_images_badge_on_what_shows(
        browser, page_server, synthspot_serve):
    folder, base = page_server
    write_image(folder / "framed.png", 20, (280, 360), texture=18)
    (folder / "frame.html").write_text('<!doctype html><body style="margin:12px"><img src="framed.png" '
                                       'width="280" height="360"></body>')
    worker, page, _base = paired_page_of(browser, page_server, synthspot_serve,
                                         '<div style="height: 400px"></div><iframe id="frame" src="frame.html" '
                                         'width="320" height="1400" style="border: 1px solid #999"></iframe>'
                                         '<div style="height: 1200px"></div>')
    page.set_viewport_size({"width": 800, "height": 600})
    page.wait_for_function("() => document.querySelector('#frame').contentDocument.images[0].complete")
    scan_from_popup(browser)
    page.bring_to_front()
    pages = f"{base}/*"

    # The page scrolled until the frame's top 150 px (the image's top 138) are above the window: the badge
    # moves down onto the part of the image that shows, as it does for an image of the page itself. The
    # frame is taller than the window: scrolled on, the share of it in view stays the same.
    frame_at = page.evaluate(FRAME_VIEWPORT_TOP)  # unscrolled: where the frame's viewport starts on the page
    for scrolled_out in (0, 150, 300):
        page.evaluate(f"() => scrollTo(0, {frame_at} + {scrolled_out})")
        page.wait_for_timeout(400)
        frame_top = page.evaluate(FRAME_VIEWPORT_TOP)
        assert abs(frame_top + scrolled_out) <= 1
        [badge] = badges(worker, pages)
        expected_top = max(12, -frame_top) + 6  # in the frame's own coordinates
        assert badge["visible"] and abs(badge["top"] - expected_top) <= 4, (scrolled_out, badge, expected_top)
    # Scrolled until only a sliver of the image shows: no room for the badge, as on the page.
    page.evaluate(f"() => scrollTo(0, {frame_at} + 12 + 360 - 20)")
    page.wait_for_timeout(400)
    [badge] = badges(worker, pages)
    assert not badge["visible"], badge


# The context menu used on a page no extension may script (the worker's own call, as the menu's).
MENU_CHECK_ON_BROWSER_PAGE = """async () => {
  const tab = await chrome.tabs.create({ url: "chrome://version/", active: true });
  await new Promise((done) => setTimeout(done, 500));
  await checkFromMenu({ menuItemId: MENU_ID, srcUrl: "chrome://version/logo.png", frameId: 0 }, tab);
}"""


@pytest.mark.browser
def test_the_popup_says_why_a_menu_check_failed_and_why_auto_scan_is_off(browser, page_server, synthspot_serve):
    worker, page, _base = paired_page(browser, page_server, synthspot_serve, ("bright", "dark"),
                                      '<img id="bright" src="bright.png">')
    page.close()  # only a browser page is left to act on
    worker.evaluate(MENU_CHECK_ON_BROWSER_PAGE)

    popup = browser.new_page()
    popup.goto(POPUP)
    popup.wait_for_selector('#connection[data-state="paired"]')
    popup.wait_for_selector("#menu-failure:not([hidden])")
    # opened as a tab with no web page to scan: the line says which tab it is about
    assert popup.inner_text("#menu-failure").startswith("On the tab “")
    assert "”: SynthSpot cannot check images on this page:" in popup.inner_text("#menu-failure")
    assert popup.is_disabled("#auto-scan")
    note = popup.inner_text("#auto-scan-note")
    assert popup.is_visible("#auto-scan-note") and "browser page" in note
    # A screen reader hears why along with the switch.
    assert popup.get_attribute("#auto-scan", "aria-describedby") == "auto-scan-note"


@pytest.mark.browser
def test_opened_as_a_tab_the_failure_line_names_its_tab_when_the_scan_acts_on_another(browser, page_server,
                                                                                      synthspot_serve):
    worker, page, base = paired_page(browser, page_server, synthspot_serve, ("bright", "dark"),
                                     '<img id="bright" src="bright.png">')
    worker.evaluate(MENU_CHECK_ON_BROWSER_PAGE)  # fails on a browser page, looked at after the web page
    popup = browser.new_page()
    popup.goto(POPUP)
    popup.wait_for_selector('#connection[data-state="paired"]')
    popup.wait_for_selector("#menu-failure:not([hidden])")
    host = base.split("//", 1)[1]
    popup.wait_for_function(f"() => document.getElementById('site').textContent === {host!r}")  # the web page
    line = popup.inner_text("#menu-failure")
    assert line.startswith("On the tab “") and "cannot check images on this page" in line
    assert host not in line  # it is not about the page that "Scan this page" acts on
    popup.close()

    # A failure on the web page itself, the one the popup acts on: no need to name it.
    for tab in browser.pages:
        if tab.url.startswith("chrome://"):
            tab.close()
    worker.evaluate(TOOLBAR_MARK, ["!", "SynthSpot cannot check images on this page: gone"])
    page.bring_to_front()
    popup = browser.new_page()
    popup.goto(POPUP)
    popup.wait_for_selector("#menu-failure:not([hidden])")
    assert popup.inner_text("#menu-failure") == "SynthSpot cannot check images on this page: gone"


@pytest.mark.browser
def test_a_corner_toast_does_not_stop_the_other_badges_following_their_images(browser, page_server, synthspot_serve):
    # A menu check of an image the page no longer shows puts its verdict in a corner toast; the badge
    # code then read the toast's missing element, threw, and every badge stayed where it was on scroll.
    worker, page, base = paired_page(browser, page_server, synthspot_serve, ("bright", "dark"),
                                     '<img id="bright" src="bright.png"><div style="height:3000px"></div>')
    pages = f"{base}/*"
    worker.evaluate(MENU_CHECK, [f"{base}/dark.png"])  # not on the page: a toast
    worker.evaluate(MENU_CHECK, [f"{base}/bright.png"])
    found = wait_for_badges(worker, pages, lambda f: settled(f"{base}/dark.png")(f) and settled(f"{base}/bright.png")(f))
    assert len(found) == 2
    page.mouse.wheel(0, 12)  # the image stays whole in view: its badge belongs 6 px inside its corner
    page.wait_for_timeout(300)
    box = page.locator("#bright").bounding_box()
    assert 0 < box["y"] < 20
    bright = badge_on(badges(worker, pages), f"{base}/bright.png")
    assert bright["visible"] and abs(bright["top"] - (box["y"] + 6)) <= 1 and abs(bright["left"] - (box["x"] + 6)) <= 1


class SiteHandler(http.server.BaseHTTPRequestHandler):
    """Another site ("the bank", on localhost): private images need its session cookie; every request is logged."""

    requests: list[dict] = []
    folder: Path

    def do_GET(self):  # noqa: N802
        SiteHandler.requests.append({"path": self.path, "cookie": self.headers.get("Cookie", ""),
                                     "site": self.headers.get("Sec-Fetch-Site", "")})
        private = self.path.startswith("/private/")
        if private and "session=s3cret" not in self.headers.get("Cookie", ""):
            self.send_error(404)
            return
        data = (SiteHandler.folder / self.path.rsplit("/", 1)[-1]).read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


HOSTILE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Free wallpapers</title>
<style>
 synthspot-badges { display: none !important; scale: 0 !important; translate: -5000px 0 !important;
   rotate: 90deg !important; }  /* tries to hide the verdicts, or throw them off the screen */
 #css-private { width: 280px; height: 180px; background: url("{bank}/private/statement.png"); }
</style></head><body>
<img id="private" src="{bank}/private/inbox-42.png" width="280" height="180">
<div id="css-private"></div>
<img id="public" src="{bank}/public.png" width="280" height="180">
<script>
  // Everything a page might try to learn or fake about the verdicts.
  window.probe = () => {
    const host = document.querySelector("synthspot-badges");
    const text = document.documentElement.outerHTML;
    return {
      host: Boolean(host), shadowRoot: host ? host.shadowRoot !== null : null,
      display: host ? getComputedStyle(host).display : null,
      leaks: ["sha256", "likely", "checking", "fetched", "404", "data-"].filter((w) => host && host.outerHTML.includes(w)),
      hexes: (text.match(/[0-9a-f]{64}/g) || []).length,
    };
  };
  window.forgeClicks = () => {
    const host = document.querySelector("synthspot-badges");
    for (let i = 0; i < 5; i += 1) {
      host.click();
      for (const [x, y] of [[20, 20], [60, 20], [150, 20], [200, 20]]) {
        const target = document.elementFromPoint(x, y);
        if (target) target.dispatchEvent(new MouseEvent("click", { bubbles: true, composed: true, clientX: x, clientY: y }));
      }
    }
  };
</script></body></html>"""


@pytest.fixture
def bank_site(tmp_path):
    folder = tmp_path / "bank"
    folder.mkdir()
    SiteHandler.folder, SiteHandler.requests = folder, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SiteHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.browser
def test_a_page_that_tries_to_read_cross_site_results_gets_nothing(browser, page_server, bank_site, synthspot_serve):
    folder, base = page_server
    bank_folder, bank = bank_site
    for name, value in (("inbox-42.png", 230), ("statement.png", 40), ("public.png", 200)):
        write_image(bank_folder / name, value, (280, 180), texture=10)
    (folder / "index.html").write_text(HOSTILE_PAGE.replace("{bank}", bank))
    # The person is signed in at the bank; the cookie is SameSite=Strict, so the page's own loads go without it.
    browser.add_cookies([{"name": "session", "value": "s3cret", "domain": "localhost", "path": "/",
                          "sameSite": "Strict", "httpOnly": True}])
    worker = browser.service_workers[0]
    pair_extension(worker, synthspot_serve)
    page = browser.new_page()
    page.goto(f"{base}/index.html")
    page.wait_for_function("() => [...document.images].every((i) => i.complete)")
    assert page.evaluate("() => document.querySelector('#private').naturalWidth") == 0  # the page got a 404

    popup = scan_from_popup(browser)
    assert popup.inner_text("#scan-message").startswith("Finished: checked 1 image on 127.0.0.1")
    page.bring_to_front()
    found = wait_for_badges(worker, f"{base}/*", settled(f"{bank}/public.png"))
    # Only the image the page itself loaded and shows was fetched, and without the bank's cookie.
    assert [b["src"] for b in found] == [f"{bank}/public.png"] and found[0]["state"] == "done"
    assert not any(r["cookie"] for r in SiteHandler.requests), SiteHandler.requests
    extension_fetches = [r for r in SiteHandler.requests if r["site"] == "none"]
    assert [r["path"] for r in extension_fetches] == ["/public.png"]

    # The page learns nothing from the DOM, cannot hide the layer with CSS, and cannot click "Open".
    probe = page.evaluate("() => probe()")
    assert probe == {"host": True, "shadowRoot": False, "display": "block", "leaks": [], "hexes": 0}, probe
    on_image = badges(worker, f"{base}/*")[0]  # where the image is, not scaled away or thrown off screen
    public = page.evaluate("() => { const r = document.getElementById('public').getBoundingClientRect();"
                           " return [r.left, r.top, r.right, r.bottom]; }")
    assert on_image["visible"] and public[0] <= on_image["left"] < public[2] and public[1] <= on_image["top"] < public[3]
    page.evaluate("() => forgeClicks()")
    time.sleep(0.5)
    assert "Open in SynthSpot" in badges(worker, f"{base}/*")[0]["text"]  # the link never fired

    # The person's own context-menu click on one image may use the site's cookies.
    worker.evaluate(MENU_CHECK, [f"{bank}/public.png"])
    time.sleep(0.5)
    wait_for_badges(worker, f"{base}/*", lambda f: all(b["state"] == "done" for b in f))
    assert SiteHandler.requests[-1]["cookie"] == "session=s3cret" and SiteHandler.requests[-1]["path"] == "/public.png"
    store = Store(synthspot_serve.store_path)
    assert not [r for r in store.history() if "private" in r.image_url or "statement" in r.image_url]
    store.close()


class FakeBridge(http.server.BaseHTTPRequestHandler):
    """Takes SynthSpot's port once the app is gone and answers like the old bridge did ("paired", "Likely real")."""

    seen: list[bytes] = []
    refuse = False

    def _answer(self, status: int, value: dict) -> None:
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _record(self, body: bytes = b"") -> None:
        FakeBridge.seen.append(self.requestline.encode() + b"\n" + bytes(self.headers) + body)

    def do_GET(self):  # noqa: N802
        self._record()
        self._answer(401 if FakeBridge.refuse else 200, {"app": "SynthSpot", "api": 2, "paired": True,
                                                         "version": "9", "browser_name": "x"})

    def do_POST(self):  # noqa: N802
        self._record(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        if FakeBridge.refuse:
            self._answer(401, {"error": "not_paired"})
        else:
            self._answer(200, {"nonce": "AAAA", "proof": "forged", "sha256": "0" * 64, "verdict": "likely_real",
                               "verdict_label": "Likely real", "probability": 0.01})

    def log_message(self, *args):
        pass


@pytest.mark.browser
def test_a_fake_bridge_on_the_port_receives_no_key_and_no_url(browser, page_server, synthspot_serve,
                                                              brightness_model_path):
    folder, base = page_server
    write_image(folder / "secret-holiday.png", 230, (280, 180), texture=12)
    (folder / "index.html").write_text('<!doctype html><body><img src="secret-holiday.png"></body>')
    worker = browser.service_workers[0]
    pair_extension(worker, synthspot_serve)
    port = synthspot_serve.port
    key = json.loads((synthspot_serve.store_path.parent / "bridge_browsers.json").read_text())["browsers"]
    synthspot_serve.stop()  # the app quits; another program takes its port
    fake = http.server.ThreadingHTTPServer(("127.0.0.1", port), FakeBridge)
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    FakeBridge.seen, FakeBridge.refuse = [], False
    try:
        page = browser.new_page()
        page.goto(f"{base}/index.html?account=alice")
        page.wait_for_function("() => [...document.images].every((i) => i.complete)")
        worker.evaluate(MENU_CHECK, [f"{base}/secret-holiday.png"])
        found = wait_for_badges(worker, f"{base}/*", settled(f"{base}/secret-holiday.png"))
        assert found[0]["state"] == "impostor" and "nothing sent" in found[0]["text"]
        popup = browser.new_page()
        popup.goto(POPUP)
        popup.wait_for_selector('#connection[data-state="impostor"]')
        # Now it answers 401 to everything: the extension keeps its pairing all the same.
        FakeBridge.refuse = True
        popup.click("#retry")
        popup.wait_for_selector('#connection[data-state="not_paired"]')
        assert "does not know this browser" in popup.inner_text("#pair-message")
        assert popup.inner_text("#status-text") == "Not paired"  # not "Not paired yet": it was
    finally:
        fake.shutdown()
        fake.server_close()
    seen = b"".join(FakeBridge.seen)
    assert b"/v1/hello" in seen and b"/v1/scan" not in seen
    (browser_entry,) = key.values()
    for secret in (b"secret-holiday", b"alice", b"127.0.0.1:" + str(page_server[1].rsplit(":", 1)[1]).encode(),
                   browser_entry["key"].encode(), b"\x89PNG", b"X-SynthSpot-Token"):
        assert secret not in seen, secret
    # The real app comes back on its port: the same pairing still works, nothing to redo.
    real = ServeProcess(brightness_model_path, synthspot_serve.store_path, port=port, pair=False)
    try:
        popup.click("#settings summary")
        popup.click("#save-port")
        popup.wait_for_selector('#connection[data-state="paired"]')
        worker.evaluate(MENU_CHECK, [f"{base}/secret-holiday.png"])
        found = wait_for_badges(worker, f"{base}/*", settled(f"{base}/secret-holiday.png", unsettled=("checking", "impostor")))
        assert found[0]["state"] == "done"
    finally:
        real.stop()


GALLERY = """<!doctype html><html><head><meta charset="utf-8"><title>Gallery</title>
<style>
 body { margin: 40px 60px; font: 14px sans-serif; background: #f5f5f4; }
 h2 { font-size: 15px; margin: 18px 0 6px; }
 #strip { width: 620px; height: 206px; overflow-x: auto; overflow-y: hidden; white-space: nowrap; border: 3px solid #999; }
 #strip img { margin-right: 8px; }
 #carousel { width: 300px; height: 200px; overflow: hidden; border: 1px solid #999; }
 #track { display: flex; transition: transform .2s; }
 #thumbs img { margin: 0 6px 6px 0; border-radius: 4px; }
 #rotated { transform: rotate(6deg) scale(.9); }
 #fixed { position: fixed; right: 24px; bottom: 24px; box-shadow: 0 2px 8px #0006; }
</style></head><body>
<h1>Test gallery</h1>
<h2>Scroll container</h2>
<div id="strip"><img id="s1" src="s1.png" width="280" height="180"><img id="s2" src="s2.png" width="280" height="180"><img id="s3" src="s3.png" width="280" height="180"><img id="s4" src="s4.png" width="280" height="180"></div>
<h2>Carousel</h2>
<div id="carousel"><div id="track"><img id="c1" src="c1.png" width="300" height="200"><img id="c2" src="c2.png" width="300" height="200"><img id="c3" src="c3.png" width="300" height="200"></div></div>
<h2>80 px thumbnails</h2>
<div id="thumbs">THUMBS</div>
<img id="mid" src="mid.png" width="200" height="150">
<span id="widget"></span>
<script>
  document.getElementById("widget").attachShadow({ mode: "open" }).innerHTML =
    '<img src="shadowed.png" width="280" height="180">';  // a web component's image
</script>
<h2>Transformed, framed, lazy and vector</h2>
<img id="rotated" src="rotated.png" width="280" height="180">
<iframe id="frame" src="frame.html" width="320" height="210" style="border: 1px solid #999"></iframe>
<img id="lazy" src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///ywAAAAAAQABAAACAUwAOw==" data-src="lazy.png" width="280" height="180">
<img id="lazy-blur" src="placeholder.png" data-src="lazy2.png" width="280" height="180">
<img id="vector" src="logo.svg" width="200" height="120">
<img id="fixed" src="fixed.png" width="160" height="110">
<div style="height: 600px"></div>
<script>
  window.swapLazy = () => { for (const img of document.querySelectorAll("[data-src]")) img.src = img.dataset.src; };
  // Where a badge should sit: 6 px inside the top-left of the part of the element that shows.
  window.expectedCorner = (id) => {
    const element = document.getElementById(id);
    const box = element.getBoundingClientRect();
    let [left, top, right, bottom] = [Math.max(box.left, 0), Math.max(box.top, 0),
                                      Math.min(box.right, innerWidth), Math.min(box.bottom, innerHeight)];
    for (let node = element.parentElement; node !== document.documentElement; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.overflowX === "visible" && style.overflowY === "visible") continue;
      const edge = node.getBoundingClientRect();
      left = Math.max(left, edge.left + node.clientLeft); top = Math.max(top, edge.top + node.clientTop);
      right = Math.min(right, edge.left + node.clientLeft + node.clientWidth);
      bottom = Math.min(bottom, edge.top + node.clientTop + node.clientHeight);
    }
    return right - left < 32 || bottom - top < 32 ? null : { left: left + 6, top: top + 6 };
  };
</script></body></html>"""

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="120"><rect width="200" height="120" '
       'fill="#6366f1"/><text x="20" y="70" font-size="28" fill="white">LOGO</text></svg>')


@pytest.mark.browser
def test_a_gallery_with_scroll_containers_a_carousel_and_thumbnails(browser, page_server, synthspot_serve):
    folder, base = page_server
    values = {"s1": 235, "s2": 25, "s3": 128, "s4": 220, "c1": 30, "c2": 240, "c3": 130, "rotated": 60,
              "fixed": 225, "lazy": 245, "lazy2": 35, "framed": 20, "mid": 240, "shadowed": 15}
    for name, value in values.items():
        write_image(folder / f"{name}.png", value, (280, 180), texture=18)
    write_image(folder / "placeholder.png", 128, (48, 48), texture=10)  # a lazy loader's blurred preview
    for index in range(6):
        write_image(folder / f"t{index}.png", (20, 240, 128, 230, 35, 200)[index], (160, 160), texture=25)
    thumbs = "".join(f'<img id="t{i}" src="t{i}.png" width="80" height="80">' for i in range(6))
    (folder / "index.html").write_text(GALLERY.replace("THUMBS", thumbs))
    (folder / "frame.html").write_text('<!doctype html><body style="margin:12px"><img id="f1" src="framed.png" '
                                       'width="280" height="180"></body>')
    (folder / "logo.svg").write_text(SVG)
    worker = browser.service_workers[0]
    pair_extension(worker, synthspot_serve)
    page = browser.new_page()
    page.set_viewport_size({"width": 1100, "height": 1000})
    page.goto(f"{base}/index.html")
    page.wait_for_function("() => [...document.images].every((i) => i.complete)")
    page.wait_for_function("() => document.querySelector('#frame').contentDocument.images[0].complete")
    page.wait_for_function("() => document.querySelector('#widget').shadowRoot.querySelector('img').complete")
    extent = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")

    popup = scan_from_popup(browser)
    # 4 in the strip, 3 slides, 6 thumbnails, the rotated, fixed, 200 px, shadow-DOM and SVG images, 1 in the frame;
    # not the placeholders.
    summary = popup.inner_text("#scan-message")
    assert summary.startswith("Finished: checked 19 images on 127.0.0.1") and "1 not checked (SVG)" in summary, summary
    page.bring_to_front()
    pages = f"{base}/*"

    def by_name() -> dict:
        return {b["src"].rsplit("/", 1)[-1].split(".")[0]: b for b in badges(worker, pages)}

    def on_its_image(name: str, found: dict) -> None:
        expected = page.evaluate(f"() => expectedCorner({name!r})")
        badge = found[name]
        if expected is None:
            assert not badge["visible"], (name, badge)
        else:
            assert badge["visible"] and abs(badge["left"] - expected["left"]) <= 1.5 \
                and abs(badge["top"] - expected["top"]) <= 1.5, (name, badge, expected)

    found = by_name()
    assert found["logo"]["state"] == "unsupported_format" and "SVG: this format is not checked" in found["logo"]["text"]
    assert found["framed"]["frameId"] != 0 and found["framed"]["state"] == "done"
    assert "data:" not in " ".join(b["src"] for b in found.values())  # the lazy loader's placeholder is not checked
    assert "placeholder" not in found  # nor a 48 px one of its own URL, blown up to 280 px
    for index in range(6):
        thumb = found[f"t{index}"]
        assert thumb["compact"] and thumb["width"] <= 24 and thumb["state"] == "done", thumb
        assert thumb["focusable"]  # its link is hidden: the icon itself takes Tab, and opens up when focused
    assert not found["s1"]["compact"] and found["s1"]["text"].count("AI ") == 1 and found["s1"]["openLink"]
    assert not found["s1"]["focusable"]  # a full badge's own link takes Tab
    # 200 px: above the size for an icon, but narrower than the full badge, which it would cut with its link
    assert found["mid"]["compact"] and found["mid"]["visible"] and found["mid"]["state"] == "done", found["mid"]
    assert found["shadowed"]["visible"] and found["shadowed"]["verdict"] == "likely_real"  # inside a shadow root
    for name in ("s1", "s2", "s3", "s4", "c1", "c2", "c3", "rotated", "fixed", "t0", "t5"):
        on_its_image(name, found)
    assert found["s1"]["visible"] and not found["s4"]["visible"]  # s4 is scrolled out of the strip
    assert found["c1"]["visible"] and not found["c2"]["visible"] and not found["c3"]["visible"]
    assert page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]") == extent
    page.screenshot(path=str(GALLERY_SCREENSHOT))

    # Badges move with their images: the strip scrolls, the carousel slides, the window scrolls.
    page.evaluate("() => { document.querySelector('#strip').scrollLeft = 600; "
                  "document.querySelector('#track').style.transform = 'translateX(-300px)'; }")
    page.wait_for_timeout(400)
    page.mouse.wheel(0, 180)
    page.wait_for_timeout(300)
    found = by_name()
    assert not found["s1"]["visible"] and found["s4"]["visible"]
    assert not found["c1"]["visible"] and found["c2"]["visible"]
    for name in ("s1", "s2", "s3", "s4", "c1", "c2", "c3", "fixed", "rotated"):
        on_its_image(name, found)

    # The lazy loader swaps the real image in: it is checked once it has loaded.
    page.evaluate("() => swapLazy()")
    found = wait_for_badges(worker, pages, lambda f: settled(f"{base}/lazy.png")(f) and settled(f"{base}/lazy2.png")(f))
    assert next(b for b in found if b["src"] == f"{base}/lazy.png")["state"] == "done"
    assert next(b for b in found if b["src"] == f"{base}/lazy2.png")["state"] == "done"

    # A 20 px sliver of an image left at the top of the window: no room for the icon, which would spill
    # onto the text below; 60 px: the icon, on the sliver.
    for sliver, shown in ((20, False), (60, True)):
        page.evaluate(f"() => scrollBy(0, document.getElementById('mid').getBoundingClientRect().bottom - {sliver})")
        page.wait_for_timeout(300)
        found = by_name()
        assert found["mid"]["visible"] is shown, (sliver, found["mid"])
        on_its_image("mid", found)


# The popup's Scan, straight through the service worker: every frame scanned, the summary when done.
SCAN_TAB = """async () => {
  const [tab] = await chrome.tabs.query({ url: "http://127.0.0.1/*" });
  await scanTab(tab.id);
  return scanFinished(tab.id);
}"""

LINK_MENU_CHECK = """async ([linkUrl]) => {
  const [tab] = await chrome.tabs.query({ url: "http://127.0.0.1/*" });
  return checkFromMenu({ menuItemId: LINK_MENU_ID, linkUrl, frameId: 0 }, tab);
}"""


@pytest.mark.browser
def test_badges_follow_what_the_page_shows_and_corner_toasts_stack(browser, page_server, synthspot_serve):
    worker, page, base = paired_page(browser, page_server, synthspot_serve, ("bright", "dark"),
                                     '<img id="bright" src="bright.png"> <img id="dark" src="dark.png">'
                                     '<p><a id="full" href="bright.png">the full-size photo</a></p>'
                                     '<dialog id="lightbox"><img id="big" src="dark.png?big"></dialog>')
    pages = f"{base}/*"
    # One image checked from the menu, then a lightbox's Next puts another picture in the same element:
    # the old verdict goes (only the person may ask about the new picture).
    worker.evaluate(MENU_CHECK, [f"{base}/bright.png"])
    found = wait_for_badges(worker, pages, settled(f"{base}/bright.png"))
    # What a screen reader hears: whose verdict, which, and on which image (the details on request).
    label = badge_on(found, f"{base}/bright.png")["label"]
    assert label.startswith("SynthSpot: likely AI, AI score ") and label.endswith(", image “bright.png”"), label
    # The badge's "Open in SynthSpot" is reached with Tab (after the page's own link) and works with Enter.
    for _ in range(4):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.tagName") == "SYNTHSPOT-BADGES":
            break
    page.keyboard.press("Enter")
    found = wait_for_badges(worker, pages, lambda f: "Open the SynthSpot app" in badge_on(f, f"{base}/bright.png")["text"])
    # Why it could not open, shown where the keyboard is (a tooltip never shows on focus).
    assert "without a window" in badge_on(found, f"{base}/bright.png")["details"]
    page.evaluate("() => { document.getElementById('bright').src = 'dark.png'; }")
    wait_for_badges(worker, pages, lambda found: not found)

    # A page scan, then the page fades one image out (a carousel): its badge hides with it.
    page.evaluate("() => { document.getElementById('bright').src = 'bright.png'; }")
    page.wait_for_function("() => document.getElementById('bright').complete")
    worker.evaluate(SCAN_TAB)
    wait_for_badges(worker, pages, lambda f: sum(b["state"] == "done" and b["visible"] for b in f) == 2)
    page.evaluate("() => { document.getElementById('dark').style.opacity = '0'; }")
    found = wait_for_badges(worker, pages, lambda f: not badge_on(f, f"{base}/dark.png")["visible"])
    assert badge_on(found, f"{base}/bright.png")["visible"]

    # A lightbox in a modal <dialog> (the browser's top layer): its image's badge is drawn above it, and the
    # badges of the page behind it, inert and dimmed, step aside until it closes.
    page.evaluate("() => document.getElementById('lightbox').showModal()")
    page.wait_for_function("() => document.getElementById('big').complete")
    worker.evaluate(MENU_CHECK, [f"{base}/dark.png?big"])
    found = wait_for_badges(worker, pages, lambda f: settled(f"{base}/dark.png?big")(f)
                            and badge_on(f, f"{base}/dark.png?big")["visible"]
                            and not badge_on(f, f"{base}/bright.png")["visible"])
    big = badge_on(found, f"{base}/dark.png?big")
    # Drawn above the dialog (the page's pixels there are the badge's green, not the dark picture's grey).
    shot = Image.open(io.BytesIO(page.screenshot(clip={"x": big["left"] + big["width"] / 2, "y": big["top"] + 3,
                                                       "width": 1, "height": 1})))
    red, green, _blue = shot.convert("RGB").getpixel((0, 0))
    assert green > red + 50, (red, green)
    # ...and not inert: inside the lightbox, Tab reaches its "Open in SynthSpot".
    for _ in range(4):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.tagName") == "SYNTHSPOT-BADGES":
            break
    assert page.evaluate("() => document.activeElement.tagName") == "SYNTHSPOT-BADGES"
    # A page that re-renders the lightbox's content (a framework) takes the layer out with it: it comes back.
    page.evaluate("() => { const box = document.getElementById('lightbox'); box.replaceChildren(box.querySelector('img')); }")
    page.wait_for_function("() => document.querySelector('#lightbox synthspot-badges') !== null")
    page.evaluate("() => document.getElementById('lightbox').close()")
    wait_for_badges(worker, pages, lambda f: badge_on(f, f"{base}/bright.png")["visible"])

    # "Check linked image" on a link to a picture; pictures the page does not show get corner toasts,
    # one under the other.
    worker.evaluate(LINK_MENU_CHECK, [f"{base}/dark.png?linked"])
    worker.evaluate(MENU_CHECK, [f"{base}/bright.png?gone"])
    found = wait_for_badges(worker, pages, lambda f: settled(f"{base}/dark.png?linked")(f)
                            and settled(f"{base}/bright.png?gone")(f))
    first, second = badge_on(found, f"{base}/dark.png?linked"), badge_on(found, f"{base}/bright.png?gone")
    assert first["verdict"] == "likely_real" and second["verdict"] == "likely_ai"
    assert second["top"] >= first["top"] + first["height"], (first, second)
    # A toast stays until the person dismisses it (its ×): it covered the page's corner for good.
    page.mouse.click(first["dismissButton"]["x"], first["dismissButton"]["y"])
    found = wait_for_badges(worker, pages, lambda f: not any(b["src"] == f"{base}/dark.png?linked" for b in f))
    assert badge_on(found, f"{base}/bright.png?gone")["top"] <= first["top"] + 1  # the next one moves up


@pytest.mark.browser
def test_a_big_page_gets_a_verdict_on_every_image_not_busy_errors(browser, page_server, synthspot_serve):
    """300 images ask the app for 600 answers, past its rate limit: the extension waits as asked and
    retries, and scanning again never trades a verdict for "busy"."""
    folder, base = page_server
    for index in range(300):
        write_image(folder / f"p{index}.png", 40 + index % 180, (72, 72), texture=3 + index % 7)
    tags = "".join(f'<img src="p{index}.png" width="72" height="72">' for index in range(300))
    worker, _page, base = paired_page_of(browser, page_server, synthspot_serve, tags)
    for _ in range(2):
        summary = worker.evaluate(SCAN_TAB)
        assert summary["checked"] == 300 and summary["failed"] == 0, summary
        found = badges(worker, f"{base}/*")
        assert len(found) == 300 and all(b["state"] == "done" for b in found), \
            {b["state"] for b in found if b["state"] != "done"}
    # A third scan, started and left running (the popup closed): reopened, the popup says it is still
    # checking, then gives the summary.
    worker.evaluate("async () => { const [tab] = await chrome.tabs.query({ url: 'http://127.0.0.1/*' });"
                    " await scanTab(tab.id); }")
    popup = browser.new_page()
    popup.goto(POPUP)
    popup.wait_for_function("() => document.querySelector('#scan-message').textContent.startsWith('Still checking')")
    popup.wait_for_function("() => document.querySelector('#scan-message').dataset.state === 'finished'",
                            timeout=60_000)
    assert popup.inner_text("#scan-message").startswith("Finished: checked 300 images")


@pytest.mark.browser
def test_a_badge_steps_below_a_fixed_header_instead_of_covering_it(browser, page_server, synthspot_serve):
    header = '<header style="position:fixed;top:0;left:0;right:0;height:80px;background:#223">Site</header>'
    worker, page, base = paired_page(browser, page_server, synthspot_serve, ("bright", "dark"),
                                     header + '<img id="bright" src="bright.png" style="margin-top:40px">'
                                     '<div style="height:2000px"></div>')
    worker.evaluate(MENU_CHECK, [f"{base}/bright.png"])
    found = wait_for_badges(worker, f"{base}/*", lambda f: settled(f"{base}/bright.png")(f)
                            and badge_on(f, f"{base}/bright.png")["visible"])
    assert badge_on(found, f"{base}/bright.png")["top"] >= 80  # below the header, on the image's visible part
    page.mouse.wheel(0, 120)  # scrolled further under the header: the badge follows the part still shown
    wait_for_badges(worker, f"{base}/*", lambda f: (lambda b: not b["visible"] or b["top"] >= 80)(
        badge_on(f, f"{base}/bright.png")))


@pytest.mark.browser
def test_a_fixed_overlay_taller_than_a_header_does_not_send_the_badge_off_its_image(browser, page_server,
                                                                                   synthspot_serve):
    """Only a bar is a header: a transparent overlay over the whole page had the badge step below it, off the
    page, and the page's own fake badge could stand in its place."""
    overlay = '<div style="position:fixed;inset:0;z-index:2147483647;background:transparent"></div>'
    worker, page, base = paired_page(browser, page_server, synthspot_serve, ("bright", "dark"),
                                     '<img id="bright" src="bright.png">' + overlay)
    worker.evaluate(MENU_CHECK, [f"{base}/bright.png"])
    found = wait_for_badges(worker, f"{base}/*", lambda f: settled(f"{base}/bright.png")(f)
                            and badge_on(f, f"{base}/bright.png")["visible"])
    first = badge_on(found, f"{base}/bright.png")
    time.sleep(0.6)  # the cover test runs 4 times a second
    (badge,) = wait_for_badges(worker, f"{base}/*", settled(f"{base}/bright.png"))
    assert badge["visible"] and badge["top"] == first["top"] < 100, (first, badge)


@pytest.mark.browser
def test_a_page_greyed_by_a_filter_keeps_its_badges_in_colour_and_on_their_images(browser, page_server, synthspot_serve):
    # Mourning-day sites grey the whole page with a filter on <html>; that filter would also grey the
    # badges and make <html>, not the viewport, the place a fixed layer is drawn against.
    worker, page, base = paired_page(browser, page_server, synthspot_serve, ("bright", "dark"),
                                     '<style>html { filter: grayscale(1) }</style><div style="height:700px"></div>'
                                     '<img id="dark" src="dark.png"><div style="height:2000px"></div>')
    page.mouse.wheel(0, 600)
    page.wait_for_function("() => window.scrollY >= 600")
    worker.evaluate(MENU_CHECK, [f"{base}/dark.png"])
    found = wait_for_badges(worker, f"{base}/*", lambda f: settled(f"{base}/dark.png")(f)
                            and badge_on(f, f"{base}/dark.png")["visible"])
    badge = badge_on(found, f"{base}/dark.png")
    image = page.evaluate("() => { const r = document.getElementById('dark').getBoundingClientRect();"
                          " return { top: r.top, bottom: r.bottom }; }")
    assert image["top"] <= badge["top"] < image["bottom"], (badge, image)
    shot = Image.open(io.BytesIO(page.screenshot(clip={"x": badge["left"] + badge["width"] / 2, "y": badge["top"] + 3,
                                                       "width": 1, "height": 1})))
    red, green, _blue = shot.convert("RGB").getpixel((0, 0))
    assert green > red + 50, (red, green)  # likely real's green, not grey
    # A page script that takes the layer out of the top layer (hides it, strips its popover) does not keep it out.
    for attack in ("hidePopover()", "removeAttribute('popover')"):
        page.evaluate(f"() => document.querySelector('synthspot-badges').{attack}")
        page.wait_for_function("() => document.querySelector('synthspot-badges').matches(':popover-open')")


@pytest.mark.browser
def test_one_page_scan_checks_a_bounded_number_of_images_loaded_after_it(browser, page_server, synthspot_serve):
    """After the person's scan, images the page loads are checked as they arrive (lazy loaders), but only so
    many: a page cannot turn one click into an endless stream of images of its choosing sent to the app
    (a security review saw 33 rows from one click and counting)."""
    folder, _base = page_server
    write_image(folder / "first.png", 200, (72, 72), texture=5)
    for index in range(110):
        write_image(folder / f"later{index}.png", 30 + index, (72, 72), texture=3 + index % 7)
    worker, page, base = paired_page_of(browser, page_server, synthspot_serve,
                                        '<img src="first.png" width="72" height="72">')
    assert worker.evaluate(SCAN_TAB)["checked"] == 1
    page.evaluate("""() => { for (let i = 0; i < 110; i++) {
        const image = new Image(72, 72); image.src = `later${i}.png`; document.body.append(image); } }""")
    later = lambda found: [b for b in found if "/later" in b["src"] and b["state"] == "done"]  # noqa: E731
    wait_for_badges(worker, f"{base}/*", lambda found: len(later(found)) >= 100, timeout=90)
    page.wait_for_function("() => [...document.images].every((i) => i.complete)")
    time.sleep(2)  # what would be checked beyond the budget has had its time
    found = badges(worker, f"{base}/*")
    assert len(later(found)) == 100 and len([b for b in found if "/later" in b["src"]]) == 100
    assert worker.evaluate(SCAN_TAB)["checked"] == 111  # scanning again checks every image shown


@pytest.mark.browser
def test_a_popover_the_page_opens_later_does_not_cover_the_badges(browser, page_server, synthspot_serve):
    """A page's own popover joins the top layer above the badges' and could show a fake verdict over a real
    one (a security review did: a green "likely real" over the red badge); the badges go back on top."""
    worker, page, base = paired_page(browser, page_server, synthspot_serve, ("cover-a", "cover-b"),
                                     '<img src="cover-a.png" width="280" height="180">')
    assert worker.evaluate(SCAN_TAB)["checked"] == 1
    (badge,) = wait_for_badges(worker, f"{base}/*", settled(f"{base}/cover-a.png"))
    x, y = badge["left"] + badge["width"] / 2, badge["top"] + badge["height"] / 2
    on_top = "([x, y]) => document.elementFromPoint(x, y).tagName"
    assert page.evaluate(on_top, [x, y]) == "SYNTHSPOT-BADGES"
    page.evaluate("""() => { const fake = document.createElement("div"); fake.popover = "manual";
        fake.style.cssText = "inset:0;width:100vw;height:100vh;margin:0;background:#2a2";
        fake.textContent = "AI 2% likely real"; document.body.append(fake); fake.showPopover(); }""")
    page.wait_for_function("([x, y]) => document.elementFromPoint(x, y).tagName === 'SYNTHSPOT-BADGES'", arg=[x, y],
                           timeout=5000)


def approved_in_popup(browser, serve):
    """A popup that asked to pair, its request approved on serve's terminal: it now asks the person."""
    popup = browser.new_page()
    popup.goto(POPUP)
    popup.wait_for_selector('#connection[data-state="not_paired"]')
    popup.fill("#browser-name", "Test Chromium")
    popup.click("#pair")
    popup.wait_for_selector('#connection[data-state="waiting"]')
    serve.answer_next_request(approve=True)
    popup.wait_for_selector('#connection[data-state="confirm"]')
    return popup


@pytest.mark.browser
def test_an_approval_the_person_did_not_give_is_not_kept(browser, synthspot_serve):
    """Whatever answers on the port can approve a pairing (a program started there while SynthSpot is not
    running, a security review showed): the popup asks whether the person approved that code in SynthSpot,
    and "No" keeps nothing and has the approving side drop it too."""
    worker = browser.service_workers[0]
    worker.evaluate("(port) => chrome.storage.local.set({ bridgePort: port })", synthspot_serve.port)
    popup = approved_in_popup(browser, synthspot_serve)  # as a program approving itself would
    assert worker.evaluate("() => SynthSpotBridge.loadPairing()") is None  # nothing usable yet
    popup.screenshot(path=str(CONFIRM_SCREENSHOT))
    popup.click("#reject-pairing")
    popup.wait_for_selector('#connection[data-state="not_paired"]')
    assert "did not come from your SynthSpot window" in popup.inner_text("#pair-message")
    assert worker.evaluate("() => SynthSpotBridge.loadPairing()") is None
    pairings = synthspot_serve.store_path.parent / "bridge_browsers.json"
    deadline = time.monotonic() + 10
    while json.loads(pairings.read_text())["browsers"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert json.loads(pairings.read_text())["browsers"] == {}  # withdrawn: revoked on the approving side


@pytest.mark.browser
def test_a_browser_the_app_forgot_pairs_again_through_the_popup(browser, synthspot_serve, brightness_model_path):
    """The app lost this browser (revoked, a new history): the extension still holds its old pairing, and the
    popup's approval question must come first, not the old pairing's "not recognised" (a reread found the
    question never shown, so re-pairing went round in a circle)."""
    worker = browser.service_workers[0]
    pair_extension(worker, synthspot_serve)
    port, store_path = synthspot_serve.port, synthspot_serve.store_path
    synthspot_serve.stop()
    (store_path.parent / "bridge_browsers.json").unlink()  # the app forgets every browser
    again = ServeProcess(brightness_model_path, store_path, port=port, pair=True)
    try:
        popup = approved_in_popup(browser, again)
        popup.click("#confirm-pairing")
        popup.wait_for_selector('#connection[data-state="paired"]')
    finally:
        again.stop()


@pytest.mark.browser
def test_a_page_that_spends_the_raises_first_still_cannot_cover_the_badges(browser, page_server, synthspot_serve):
    """A lifetime budget of re-raises let a page open and close 200 cheap popovers, then cover the badges for
    good (a reread); the budget is per second."""
    worker, page, base = paired_page(browser, page_server, synthspot_serve, ("spend-a", "spend-b"),
                                     '<img src="spend-a.png" width="280" height="180">')
    assert worker.evaluate(SCAN_TAB)["checked"] == 1
    (badge,) = wait_for_badges(worker, f"{base}/*", settled(f"{base}/spend-a.png"))
    x, y = badge["left"] + badge["width"] / 2, badge["top"] + badge["height"] / 2
    page.evaluate("""async () => { const cheap = document.createElement("div"); cheap.popover = "manual";
        document.body.append(cheap);
        const turn = () => new Promise((r) => setTimeout(r, 0));  // toggle events of one turn are coalesced
        for (let i = 0; i < 250; i++) { cheap.showPopover(); await turn(); cheap.hidePopover(); await turn(); } }""")
    time.sleep(1.2)  # a second later: raises are allowed again
    page.evaluate("""() => { const fake = document.createElement("div"); fake.popover = "manual";
        fake.style.cssText = "inset:0;width:100vw;height:100vh;margin:0;background:#2a2";
        document.body.append(fake); fake.showPopover(); }""")
    on_top = "([x, y]) => document.elementFromPoint(x, y).tagName === 'SYNTHSPOT-BADGES'"
    page.wait_for_function(on_top, arg=[x, y], timeout=5000)
    # And it stays there: the full-page popover is no header bar to step below (the cover test runs 4 times a
    # second; it had moved the badge off the page, and the page's fake one showed in its place).
    time.sleep(0.6)
    assert page.evaluate(on_top, [x, y])


class RelayBridge(FakeBridge):
    """Sits on the port as a relay between browser and app would, answering pairing with a key of its own and
    keeping every body in the order it came."""

    bodies: list[tuple[str, dict]] = []
    private = X25519PrivateKey.generate()
    refuse_reveal = False

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        RelayBridge.bodies.append((self.path, body))
        if self.path == "/v1/pair":
            public = RelayBridge.private.public_key().public_bytes_raw()
            self._answer(202, {"request": "relayed", "public_key": protocol.b64url(public), "state": "committed"})
        elif self.path == "/v1/pair/reveal" and RelayBridge.refuse_reveal:
            self._answer(429, {"error": "rate_limited", "message": "busy"})
        else:
            self._answer(202 if self.path == "/v1/pair/reveal" else 200, {"state": "pending"})


@contextlib.contextmanager
def relay_on_the_port(worker, refuse_reveal: bool = False):
    """A RelayBridge on a free port that the extension is pointed at; its bodies start empty."""
    relay = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RelayBridge)
    threading.Thread(target=relay.serve_forever, daemon=True).start()
    RelayBridge.bodies, RelayBridge.refuse_reveal = [], refuse_reveal
    try:
        worker.evaluate("(port) => chrome.storage.local.set({ bridgePort: port })", relay.server_address[1])
        yield relay
    finally:
        RelayBridge.refuse_reveal = False
        relay.shutdown()
        relay.server_close()


@pytest.mark.browser
def test_the_extension_commits_to_its_key_before_it_sees_the_apps(browser):
    """A relay that saw the browser's public key before giving its own could try keys until the code the
    browser shows matches the one the app shows it (a security review's finding). The extension's first
    message holds only the SHA-256 of its key; the key follows once the other side's key has come, and the
    code is derived from that key."""
    worker = browser.service_workers[0]
    with relay_on_the_port(worker):
        attempt = worker.evaluate("async () => { const a = await SynthSpotBridge.requestPairing('Test Chromium');"
                                  " return { request: a.request, code: a.code }; }")
    (first_path, first), (second_path, second) = RelayBridge.bodies
    assert first_path == "/v1/pair" and set(first) == {"name", "commitment"}
    assert second_path == "/v1/pair/reveal" and second["request"] == "relayed"
    revealed = protocol.unb64url(second["public_key"])
    assert protocol.b64url(protocol.pairing_commitment(revealed)) == first["commitment"]
    relay_public = RelayBridge.private.public_key().public_bytes_raw()
    shared = RelayBridge.private.exchange(X25519PublicKey.from_public_bytes(revealed))
    assert attempt == {"request": "relayed", "code": protocol.derive_pairing(shared, revealed, relay_public)[1]}


@pytest.mark.browser
def test_a_pairing_whose_key_is_refused_gives_its_place_back(browser):
    """A reveal the app refuses (busy, say) leaves the request waiting there for its key: the extension
    withdraws it, so repeated tries do not fill the app's few places for waiting requests."""
    worker = browser.service_workers[0]
    with relay_on_the_port(worker, refuse_reveal=True):
        failure = worker.evaluate("async () => { try { await SynthSpotBridge.requestPairing('x'); return null; }"
                                  " catch (error) { return error.state; } }")
    assert failure == "rate_limited"
    assert [path for path, _body in RelayBridge.bodies] == ["/v1/pair", "/v1/pair/reveal", "/v1/pair/withdraw"]
    assert RelayBridge.bodies[-1][1] == {"request": "relayed"}
