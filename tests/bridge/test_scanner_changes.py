"""The bridge's scans beside the app's own work: a model changed mid-request, a folder queued ahead."""

from __future__ import annotations

import http.client
import time

import numpy as np
from PIL import Image

from engine.scanner import Scanner, ScanRequest
from tests.bridge.conftest import EXTENSION_ORIGIN, BridgeClient, png_bytes


def test_a_scan_whose_model_changes_while_its_body_arrives_is_answered_by_the_new_model(make_server, detector, store):
    """The app swaps the bridge's scanner and closes the old one when another model is chosen: a browser scan
    whose body was still arriving was answered with a bare, unsigned HTTP 500 ("the scanner is closed")."""
    old = Scanner(detector, store=store)
    server = make_server(scanner=old)
    client = BridgeClient(server)
    client.pair()
    body = png_bytes(200, noise_seed=7)
    headers = client.api.signed_headers("POST", "/v1/scan", client.api.hello(), body, "image/png", "", "")
    headers.update({"Content-Type": "image/png", "Content-Length": str(len(body)), "Origin": EXTENSION_ORIGIN,
                    "Host": f"127.0.0.1:{server.port}"})
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.putrequest("POST", "/v1/scan", skip_host=True)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    connection.send(body[:100])  # a big image on a slow machine: the body is on its way
    time.sleep(0.3)
    new = Scanner(detector, store=store)
    server.set_scanner(new)  # what the app does when another model has loaded
    old.close()
    connection.send(body[100:])
    reply = connection.getresponse()
    assert reply.status == 200, reply.read()[:200]
    assert reply.getheader("Content-Type").startswith("application/json")
    new.close()


def test_a_scan_cut_short_by_the_model_change_is_a_503_the_extension_can_name(make_server, detector, store):
    """With no scanner to run it again on (the new model failed), the answer is a JSON refusal, not a 500."""
    scanner = Scanner(detector, store=store)
    server = make_server(scanner=scanner)
    client = BridgeClient(server)
    client.pair()
    scanner.close()  # closed, still the bridge's: the request meets it as a scan in flight meets a model change
    reply = client.scan(png_bytes(90, noise_seed=3))
    assert reply.status == 503 and reply.json()["error"] == "model_changed"


def test_a_browser_check_goes_ahead_of_a_folder_the_app_is_scanning(make_server, detector, store, tmp_path):
    """A dropped or watched folder is queued whole on the app's scanner: a browser's check waited behind all of
    it, and after two minutes the extension said "SynthSpot does not answer"."""
    scanner = Scanner(detector, store=store)
    server = make_server(scanner=scanner)
    client = BridgeClient(server)
    client.pair()
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for index in range(120):
        path = folder / f"{index}.png"
        Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)).save(path, compress_level=1)
        paths.append(str(path))
    job = scanner.submit([ScanRequest(path=path, source="folder") for path in paths])
    reply = client.scan(png_bytes(100, noise_seed=2))
    done_when_answered = job.done
    job.wait()
    scanner.close()
    assert reply.status == 200
    # Only what was already being prepared or waiting for the model (a handful) goes before it.
    assert done_when_answered < 30, f"{done_when_answered} of {len(paths)} folder images were scanned first"
