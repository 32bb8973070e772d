"""Load: the full 200 concurrent scans, 1 MP round trips, and every kind of malformed request (the bench sends 1,000)."""

from __future__ import annotations

import asyncio
import logging

from bench.bridge_load import concurrent_scans, malformed_flood, malformed_requests, round_trips
from tests.bridge.conftest import BridgeClient


def test_200_concurrent_scans_are_all_answered_signed_and_stored(paired, server, store):
    load = asyncio.run(concurrent_scans(server, paired.api, 200))
    assert load.answered_ok == load.matching_sha256 == load.stored_as_browser == 200
    assert store.count() == 200


def test_one_megapixel_round_trips_side_by_side_with_the_engine(paired, server):
    trips = asyncio.run(round_trips(server, paired.api, 3))
    assert len(trips.engine_ms) == len(trips.bridge_ms) == 3 and trips.jpeg_bytes > 50_000


def test_malformed_requests_each_get_a_4xx_and_the_server_keeps_serving(make_server, caplog):
    caplog.set_level(logging.DEBUG)
    server = make_server(body_timeout_s=1.0)
    client = BridgeClient(server)
    pairing = client.pair()
    kinds = len(malformed_requests(server.port, client.api))
    flood = asyncio.run(malformed_flood(server, client.api, 3 * kinds))
    statuses = {kind: status for kind, status in flood}
    assert len(statuses) == kinds and sum(flood.values()) == 3 * kinds
    assert all(status.startswith("4") for status in statuses.values()), flood
    assert len(flood) == kinds, flood  # each kind always gets the same answer
    assert statuses["scan: body stops arriving"] == "408"
    assert statuses["scan: truncated image"] == "422"
    assert statuses["garbage instead of HTTP"] == "400"
    assert statuses["pair: deeply nested JSON"] == "400"
    assert statuses["pair: chunked body over the cap"] == "413"
    assert statuses["scan: bad signature"] == "401" and statuses["scan: body not the one signed"] == "400"
    assert asyncio.run(concurrent_scans(server, client.api, 3)).answered_ok == 3
    # aiohttp's parser errors quote the offending bytes; no key or browser ID may reach the logs.
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert pairing.client_id not in logged and pairing.key.hex() not in logged
