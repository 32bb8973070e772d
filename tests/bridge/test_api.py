"""The bridge's API against a real server on 127.0.0.1: status, scans, stored results, the app's callbacks."""

from __future__ import annotations

from tests.bridge.conftest import BridgeClient, png_bytes


def test_status_without_a_signature_says_only_that_synthspot_runs(client, server):
    reply = client.call("GET", "/v1/status", signed=False)
    assert reply.status == 200
    assert reply.json() == {"app": "SynthSpot", "version": reply.json()["version"], "api": 2,
                            "pairing_open": False, "paired": False}
    server.pairing.open_window()
    assert client.call("GET", "/v1/status", signed=False).json()["pairing_open"] is True
    assert client.call("HEAD", "/v1/status", signed=False).status == 200  # as GET, not "not paired"


def test_an_unknown_address_or_method_is_said_as_such_not_not_paired(client, paired):
    for who in (client, paired):
        for method, path in (("GET", "/"), ("GET", "/v1/unknown"), ("POST", "/v1/unknown")):
            reply = who.call(method, path, b"{}" if method == "POST" else None, "application/json", signed=False)
            assert (reply.status, reply.json()["error"]) == (404, "not_found"), (method, path)
        reply = who.call("GET", "/v1/scan", signed=False)
        assert (reply.status, reply.json()["error"], reply.headers["Allow"]) == (405, "method_not_allowed", "POST")
    unsigned = client.call("POST", "/v1/scan", png_bytes(200), "image/png", signed=False)
    assert (unsigned.status, unsigned.json()["error"]) == (401, "not_paired")  # a real address still asks


def test_signed_status_names_the_model_and_the_browser(paired, detector):
    status = paired.call("GET", "/v1/status").json()
    assert status["paired"] is True and status["browser_name"] == "Test browser"
    assert status["model"]["name"] == detector.metadata.name and status["provider"] == "cpu"
    assert status["can_open_in_app"] is False


def test_scan_answers_the_engines_result_and_lands_in_history_as_browser(paired, scanner, store):
    bright, dark = png_bytes(240), png_bytes(20)
    reply = paired.scan(bright, page_url="https://example.org/gallery", image_url="https://cdn.example.org/ä.png")
    assert reply.status == 200
    result = reply.json()
    assert result["verdict"] == "likely_ai" and result["verdict_label"] == "Likely AI"
    dark_result = paired.scan(dark).json()
    assert dark_result["verdict"] == "likely_real"
    # The same bytes scanned by the engine directly give the same numbers.
    direct = scanner.scan_bytes(dark, source="cli")
    assert direct.sha256 == dark_result["sha256"] and abs(direct.probability - dark_result["probability"]) < 1e-9
    stored = store.find(result["sha256"])
    assert stored.source == "browser" and stored.page_url == "https://example.org/gallery"
    assert stored.image_url == "https://cdn.example.org/ä.png"
    assert {r.sha256 for r in store.history()} == {result["sha256"], dark_result["sha256"]}


def test_results_by_sha256(paired):
    scanned = paired.scan(png_bytes(128)).json()
    reply = paired.call("GET", f"/v1/results/{scanned['sha256']}")
    assert reply.status == 200 and reply.json()["probability"] == scanned["probability"]
    assert scanned["cached"] is False and reply.json()["cached"] is True
    assert paired.call("GET", "/v1/results/" + "f" * 64).status == 404
    assert paired.call("GET", "/v1/results/not-a-hash").status == 400


def test_bytes_that_are_not_an_image_get_a_422_with_the_reason(paired):
    garbage = paired.scan(b"\x00\x01garbage" * 100)
    assert garbage.status == 422 and "not an image" in garbage.json()["message"]
    truncated = paired.scan(png_bytes(200, size=(400, 300), noise_seed=1)[:300])
    assert truncated.status == 422 and truncated.json()["verdict"] == "error"


def test_wrong_content_types_and_empty_bodies_are_4xx(paired):
    assert paired.scan(png_bytes(100), content_type="text/plain").status == 415
    assert paired.call("POST", "/v1/scan", b"", "image/png").status == 400
    assert paired.post_json("/v1/hello", "not an object").status == 400
    assert paired.call("POST", "/v1/pair", b"{not json", "application/json", signed=False).status == 400
    assert paired.call("POST", "/v1/pair", b"code=1", "application/x-www-form-urlencoded", signed=False).status == 415


def test_the_app_hears_about_scans_and_open_requests(make_server):
    scanned, opened = [], []
    server = make_server(on_scan=scanned.append, on_open=opened.append)
    client = BridgeClient(server)
    client.pair()
    sha = client.scan(png_bytes(90)).json()["sha256"]
    assert [r.sha256 for r in scanned] == [sha]
    assert client.call("POST", f"/v1/open/{sha}").status == 200
    assert opened == [sha]


def test_headless_open_says_there_is_no_window(paired):
    reply = paired.call("POST", "/v1/open/" + "a" * 64)
    assert reply.status == 409 and reply.json()["error"] == "no_app_window"


def test_without_a_model_scans_are_refused_clearly(make_server):
    server = make_server(scanner=None)
    client = BridgeClient(server)
    client.pair()
    assert client.call("GET", "/v1/status").json()["model"] is None
    reply = client.scan(png_bytes(100))
    assert reply.status == 503 and reply.json()["error"] == "no_model"


def test_a_stopped_bridge_can_start_again_and_keeps_its_pairings(paired, server):
    server.stop()
    assert not server.running
    server.start()
    assert server.running and paired.call("GET", "/v1/status").json()["paired"] is True
