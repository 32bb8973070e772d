"""The bridge's answer about a result is a versioned format of its own, not a dump of the engine's Result."""

from __future__ import annotations

import json
import re
from pathlib import Path

from engine.bridge.payload import API_VERSION, result_payload
from engine.result import CropScore, ProvenanceHint, Result
from tests.bridge.conftest import png_bytes

FIELDS = {"api", "sha256", "verdict", "verdict_label", "probability", "reasons", "width", "height", "format",
          "provenance", "model_name", "model_version", "cached", "error"}
ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def test_scan_and_result_answers_state_their_version_and_carry_exactly_the_documented_fields(paired):
    scanned = paired.scan(png_bytes(200)).json()
    assert set(scanned) == FIELDS and scanned["api"] == API_VERSION
    stored = paired.call("GET", f"/v1/results/{scanned['sha256']}").json()
    assert set(stored) == FIELDS and stored["api"] == API_VERSION == paired.call("GET", "/v1/status").json()["api"]


def test_what_the_app_knows_beyond_the_verdict_stays_in_the_app():
    result = Result(sha256="a" * 64, source="watched", path="/home/me/private/holiday.jpg", probability=0.9,
                    verdict="likely_ai", crops=[CropScore(0, 0, 32, 0.9)], artifact_map=[[0.9]],
                    provenance=[ProvenanceHint("c2pa", "C2PA: Editor", detail="signed by me@example.org")],
                    page_url="https://mail.example/inbox", image_url="https://cdn.example/x.png",
                    timings_ms={"total": 3.0}, model_name="m", model_version="2")
    payload = result_payload(result)
    assert set(payload) == FIELDS
    text = json.dumps(payload)
    for secret in ("/home/me", "mail.example", "cdn.example", "me@example.org", "artifact_map", "crops"):
        assert secret not in text
    assert payload["provenance"] == [{"kind": "c2pa", "label": "C2PA: Editor"}]


def test_the_architecture_document_lists_every_field():
    section = ARCHITECTURE.read_text(encoding="utf-8").split("## The bridge's API", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE))
    assert documented == FIELDS
    assert f"version {API_VERSION}" in section


def test_bytes_that_could_not_be_scanned_say_not_scanned_with_the_reason_apart():
    """``error`` is a code a client can switch on, whoever builds the answer; the words go in ``message``."""
    payload = result_payload(Result(sha256="b" * 64, error="cannot identify image file"))
    assert payload["error"] == "not_scanned"
    assert payload["message"] == "cannot identify image file"
    assert result_payload(Result(sha256="c" * 64, probability=0.2, verdict="likely_real"))["error"] is None
