"""What the bridge tells a browser about a result: the versioned answer of ``POST /v1/scan`` and
``GET /v1/results/{sha256}``.

It is built here field by field, never by dumping a :class:`Result`: the store's blob, the clipboard's
JSON and this answer each change on their own terms. It carries the verdict and what explains it, never
where else the app has seen the bytes (a local file path, another page's URL), per-crop scores or the
heatmap. docs/architecture.md lists the fields.

Versioning: ``API_VERSION`` names the routes and this format, and every result answer states it (``"api"``,
as ``GET /v1/status`` does). A field may be added within a version: clients ignore the fields they do not
know. Renaming or removing a field, or changing its meaning or type, is a new version.
"""

from __future__ import annotations

from engine.result import Result

API_VERSION = 2


def result_payload(result: Result) -> dict:
    payload = {
        "api": API_VERSION,
        "sha256": result.sha256,  # of the bytes sent: the key for /v1/results and /v1/open
        "verdict": result.verdict,  # likely_ai, uncertain, likely_real, or error
        "verdict_label": result.verdict_label,  # the same in words, for a badge
        "probability": result.probability,  # of AI generation, 0..1; null when not scanned
        "reasons": list(result.reasons),  # why "uncertain", in words
        "width": result.width,
        "height": result.height,
        "format": result.format,  # as decoded: JPEG, PNG, WEBP, ...
        "provenance": [{"kind": hint.kind, "label": hint.label} for hint in result.provenance],
        "model_name": result.model_name,
        "model_version": result.model_version,
        "cached": result.cached,  # answered from the store (these bytes were scanned before by this model)
        "error": None,  # null when scanned; "not_scanned" when the bytes could not be, the reason in "message"
    }
    if not result.ok:
        payload.update(error="not_scanned", message=result.error)
    return payload
