"""The extension when things go wrong around a check: the app forgot the browser, a huge link, a reload."""

from __future__ import annotations

import time

import pytest

from tests.extension.conftest import PageHandler, ServeProcess, badges, pair_extension, wait_for_badges
from tests.extension.test_browser import POPUP, paired_page_of, scan_from_popup, write_image

pytestmark = pytest.mark.browser


def three_images(folder) -> str:
    """Three images of different brightness in the page server's folder; the page body that shows them."""
    for index in range(3):
        write_image(folder / f"p{index}.png", 60 + 60 * index, (280, 180), texture=12)
    return "".join(f'<img src="p{index}.png" width="280" height="180">' for index in range(3))


def test_auto_scan_stays_quiet_once_the_app_has_forgotten_this_browser(browser, page_server, synthspot_serve,
                                                                      brightness_model_path):
    """After the app's pairings were reset, every auto-scanned page got "Not paired with this SynthSpot" on every
    image, though auto-scan is quiet while this browser is not paired (the popup says why)."""
    folder, base = page_server
    (folder / "index.html").write_text(three_images(folder))
    worker = browser.service_workers[0]
    pair_extension(worker, synthspot_serve)
    worker.evaluate("(origin) => chrome.storage.local.set({ autoScanSites: [origin] })", base)
    page = browser.new_page()
    page.goto(f"{base}/index.html")
    wait_for_badges(worker, f"{base}/*", lambda found: len(found) == 3 and all(
        badge["state"] == "done" for badge in found))  # auto-scan works
    page.close()
    port, store_path = synthspot_serve.port, synthspot_serve.store_path
    synthspot_serve.stop()
    (store_path.parent / "bridge_browsers.json").unlink()  # the app forgets every browser
    again = ServeProcess(brightness_model_path, store_path, port=port, pair=False)
    try:
        page = browser.new_page()
        page.goto(f"{base}/index.html")
        page.wait_for_function("() => [...document.images].every((image) => image.complete)")
        time.sleep(4)
        assert badges(worker, f"{base}/*") == []
    finally:
        again.stop()


def test_a_huge_linked_image_is_refused_before_it_is_downloaded(browser, page_server, synthspot_serve, monkeypatch):
    """"Check link with SynthSpot" on a 160 MB file downloaded all of it (minutes on a real line, the memory
    held) before saying it was too large; with or without a Content-Length."""
    size, sent = 160 * 1024 * 1024, {"declared.jpg": 0, "undeclared.jpg": 0}
    plain_get = PageHandler.do_GET

    def huge_get(handler):
        name = handler.path.lstrip("/")
        if name not in sent:
            return plain_get(handler)
        handler.send_response(200)
        handler.send_header("Content-Type", "image/jpeg")
        if name == "declared.jpg":
            handler.send_header("Content-Length", str(size))
        handler.end_headers()
        chunk = b"\0" * (1 << 20)
        try:
            for _ in range(size >> 20):
                handler.wfile.write(chunk)
                sent[name] += len(chunk)
        except OSError:
            pass  # the extension hung up: what it should do

    monkeypatch.setattr(PageHandler, "do_GET", huge_get)
    worker, _page, base = paired_page_of(browser, page_server, synthspot_serve,
                                         '<a href="declared.jpg">full size</a> <a href="undeclared.jpg">full size</a>')
    for name in sent:
        worker.evaluate("""async ([linkUrl]) => {
          const [tab] = await chrome.tabs.query({ url: "http://127.0.0.1/*" });
          return checkFromMenu({ menuItemId: LINK_MENU_ID, linkUrl, frameId: 0 }, tab); }""", [f"{base}/{name}"])
    found = wait_for_badges(worker, f"{base}/*", lambda found: len(found) == 2 and all(
        badge["state"] != "checking" for badge in found))
    assert all("too large" in badge["text"].lower() for badge in found), found
    time.sleep(0.5)
    assert sent["declared.jpg"] < 8 << 20 and sent["undeclared.jpg"] < 80 << 20, sent


def test_a_page_reloaded_during_its_scan_is_said_so_not_summed_as_nothing(browser, page_server, synthspot_serve,
                                                                           monkeypatch):
    """The popup said "Finished: checked 0 images on …: ." when the page reloaded while its images were checked."""
    body = three_images(page_server[0])
    plain_get, slow = PageHandler.do_GET, {"on": False}

    def slow_get(handler):
        if slow["on"] and handler.path.startswith("/p"):
            time.sleep(4)  # a slow image host: the extension's own download takes a while
        plain_get(handler)

    monkeypatch.setattr(PageHandler, "do_GET", slow_get)
    _worker, page, _base = paired_page_of(browser, page_server, synthspot_serve, body)
    popup = browser.new_page()
    popup.goto(POPUP)
    popup.wait_for_selector('#connection[data-state="paired"]')
    slow["on"] = True
    popup.click("#scan-page")
    time.sleep(1.5)
    slow["on"] = False
    page.reload()
    popup.wait_for_selector('#scan-message[data-state="finished"]', timeout=30_000)
    message = popup.inner_text("#scan-message")
    assert message.startswith("The page was reloaded or left before the scan finished"), message


def test_an_image_from_a_host_that_refuses_hotlinks_is_checked(browser, page_server, synthspot_serve, tmp_path):
    """Image hosts that answer only requests from their own sites' pages (a Referer check) refused the
    extension's download, page scan and "Check image" alike, though the page showed the image."""
    import functools
    import http.server
    import threading

    base = page_server[1]
    cdn_folder = tmp_path / "cdn"
    cdn_folder.mkdir()
    write_image(cdn_folder / "art.png", 230, (280, 180), texture=12)
    referers: list[str | None] = []

    class HotlinkProtected(PageHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            referers.append(self.headers.get("Referer"))
            if self.headers.get("Referer") != f"{base}/" and not (self.headers.get("Referer") or "").startswith(
                    f"{base}/index.html"):
                self.send_error(403, "hotlinking not allowed")
                return
            super().do_GET()

    cdn = http.server.ThreadingHTTPServer(("127.0.0.2", 0), functools.partial(HotlinkProtected,
                                                                           directory=str(cdn_folder)))
    threading.Thread(target=cdn.serve_forever, daemon=True).start()
    try:
        image_url = f"http://127.0.0.2:{cdn.server_address[1]}/art.png"
        worker, page, _base = paired_page_of(browser, page_server, synthspot_serve,
                                             f'<img src="{image_url}" width="280" height="180">')
        assert page.evaluate("() => document.images[0].naturalWidth") > 0  # the page itself is sent the image
        worker.evaluate("""async ([srcUrl]) => {
          const [tab] = await chrome.tabs.query({ url: "http://127.0.0.1/*" });
          return checkFromMenu({ menuItemId: MENU_ID, srcUrl, frameId: 0 }, tab); }""", [image_url])
        found = wait_for_badges(worker, f"{base}/*", lambda found: len(found) == 1 and found[0]["state"] != "checking")
        assert found[0]["state"] == "done", found[0]["title"]
        assert referers[-1] == f"{base}/"  # the page's origin, not its address
        rules = worker.evaluate("() => chrome.declarativeNetRequest.getSessionRules()")
        assert rules == []  # the header was for that one download
    finally:
        cdn.shutdown()
        cdn.server_close()


def test_unpairing_while_the_app_is_closed_says_the_app_still_lists_this_browser(browser, synthspot_serve):
    """The popup unpaired and said nothing: the app, closed, kept the browser and its key, listed as paired."""
    worker = browser.service_workers[0]
    pair_extension(worker, synthspot_serve, name="Laptop Chromium")
    synthspot_serve.stop()
    popup = browser.new_page()
    popup.goto(POPUP)
    popup.wait_for_selector('#connection[data-state="app_not_running"]')
    popup.click("#settings summary")
    popup.click("#unpair")
    popup.click("#unpair")  # asked, then confirmed
    popup.wait_for_function("() => document.querySelector('#unpair').hidden")
    message = popup.inner_text("#unpair-message")
    assert "still lists this browser" in message and "Revoke" in message, message
    assert worker.evaluate("() => SynthSpotBridge.loadPairing()") is None  # forgotten here all the same


def test_an_image_whose_blob_address_the_page_revoked_is_checked_from_its_pixels(browser, page_server,
                                                                                 synthspot_serve):
    """Pages revoke a blob: address once its image has loaded (the usual way): the image stayed on screen and the
    badge said "Image could not be fetched"."""
    write_image(page_server[0] / "dark.png", 30, (280, 180), texture=12)
    worker, page, base = paired_page_of(browser, page_server, synthspot_serve, """<img id="revoked" width="280" height="180">
<script>
fetch("dark.png").then((r) => r.blob()).then((b) => {
  const address = URL.createObjectURL(b), image = document.getElementById("revoked");
  image.onload = () => URL.revokeObjectURL(address);
  image.src = address;
});
</script>""")
    page.wait_for_function("() => document.images[0].complete && document.images[0].naturalWidth > 0")
    scan_from_popup(browser)
    found = wait_for_badges(worker, f"{base}/*", lambda found: len(found) == 1 and found[0]["state"] != "checking")
    assert found[0]["state"] == "done" and found[0]["src"].startswith("blob:"), found[0]["title"]
