"""Load: the full 200 concurrent scans, and every kind of malformed request (bench/bridge_load.py sends 1,000)."""

from __future__ import annotations

import asyncio
import logging

from bench.bridge_load import concurrent_scans, malformed_flood, malformed_requests
from tests.bridge.conftest import BridgeClient


def test_200_concurrent_scans_are_all_answered_and_stored(paired, server, store):
    load = asyncio.run(concurrent_scans(server, paired.token, 200))
    assert load.answered_ok == load.matching_sha256 == load.stored_as_browser == 200
    assert store.count() == 200


def test_malformed_requests_each_get_a_4xx_and_the_server_keeps_serving(make_server, caplog):
    caplog.set_level(logging.DEBUG)
    server = make_server(body_timeout_s=1.0)
    client = BridgeClient(server)
    token = client.pair()
    kinds = len(malformed_requests(server.port, token))
    flood = asyncio.run(malformed_flood(server, token, 5 * kinds))
    statuses = {kind: status for kind, status in flood}
    assert len(statuses) == kinds and sum(flood.values()) == 5 * kinds
    assert all(status.startswith("4") for status in statuses.values()), flood
    assert statuses["scan: body stops arriving"] == "408"
    assert statuses["scan: truncated image"] == "422"
    assert statuses["garbage instead of HTTP"] == "400"
    assert asyncio.run(concurrent_scans(server, token, 3)).answered_ok == 3
    # aiohttp's parser errors quote the offending bytes; the token in those requests must not reach the logs.
    assert token not in "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
