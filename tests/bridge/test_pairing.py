"""Pairing needs the app's "Pair a browser" window and the person's approval there; browsers are revoked one by one."""

from __future__ import annotations

import json
import os
import stat

import pytest

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from engine.bridge import PairingState, protocol
from engine.bridge import pairing as pairing_module
from engine.bridge.client import BridgeRefused, Pairing
from tests.bridge.conftest import BridgeClient, png_bytes


def test_pairing_is_refused_while_no_pair_window_is_open(client):
    with pytest.raises(BridgeRefused) as refused:
        client.api.request_pairing("Sneaky process")
    assert refused.value.reply.status == 403 and refused.value.reply.json()["error"] == "pairing_closed"


def test_pairing_without_approval_in_the_app_fails(client, server):
    server.pairing.open_window()
    ticket = client.api.request_pairing("Chromium on Linux")
    pending = server.pairing.pending()
    assert [(r.name, r.code) for r in pending] == [("Chromium on Linux", ticket.code)]  # both sides show one code
    assert client.api.pairing_answer(ticket).status == 202  # still waiting for the person
    # The key the browser derived is worth nothing until the person approves: no browser ID, no channel.
    client.api.pairing = Pairing("guessed-id", ticket.key)
    assert client.post_json("/v1/hello", {"client": "guessed-id", "challenge": "c" * 43}).status == 401
    server.pairing.close_window()  # the person closed the window without approving
    assert client.api.pairing_answer(ticket).status == 404
    assert server.pairing.browsers() == []


def test_a_refused_request_stays_refused(client, server):
    server.pairing.open_window()
    ticket = client.api.request_pairing("Someone else")
    assert server.pairing.refuse(ticket.request_id)
    reply = client.api.pairing_answer(ticket)
    assert reply.status == 403 and reply.json()["error"] == "pairing_refused"
    assert not server.pairing.approve(ticket.request_id)


def test_a_request_the_browser_withdrew_leaves_the_window_and_frees_its_place(client, server):
    """Cancel in the popup: the app must not list (and let the person approve) a request nobody waits on."""
    server.pairing.open_window()
    tickets = [client.api.request_pairing(f"attempt {index}") for index in range(8)]  # the most that may wait
    for ticket in tickets:
        reply = client.api.withdraw_pairing(ticket)
        assert reply.status == 200 and reply.json() == {"state": "withdrawn"}
    assert server.pairing.pending() == []
    assert not server.pairing.approve(tickets[0].request_id)
    assert client.api.pairing_answer(tickets[0]).status == 404
    assert client.api.withdraw_pairing(tickets[0]).status == 404  # once
    client.api.request_pairing("the real attempt")  # eight cancelled attempts do not block the ninth


def test_a_pairing_approved_after_the_browser_gave_up_is_revoked(client, server):
    """Approved in the app just as the browser cancelled: the browser will never keep the key, so no
    paired browser is left listed that nothing can use."""
    server.pairing.open_window()
    ticket = client.api.request_pairing("Given up")
    assert server.pairing.approve(ticket.request_id)
    assert [b.name for b in server.pairing.browsers()] == ["Given up"]
    assert client.api.withdraw_pairing(ticket).status == 200
    assert server.pairing.browsers() == []
    assert PairingState(server.pairing.path).browsers() == []  # on disk too


def test_approval_pairs_the_browser_that_shows_the_code(client, server):
    server.pairing.open_window()
    intruder = BridgeClient(server).api.request_pairing("Chromium on Linux")  # same name, asked at the same time
    ticket = client.api.request_pairing("Chromium on Linux")
    codes = {r.request_id: r.code for r in server.pairing.pending()}
    assert codes[ticket.request_id] == ticket.code and codes[intruder.request_id] != ticket.code
    assert server.pairing.approve(ticket.request_id)  # the person picks the one whose code their browser shows
    pairing = client.api.wait_for_approval(ticket)
    assert client.scan(png_bytes(200)).status == 200
    assert [b.client_id for b in server.pairing.browsers()] == [pairing.client_id]
    assert client.api.pairing_answer(intruder).status == 202  # the other still waits, and gets nothing


def test_the_key_never_crosses_the_wire(client, server, monkeypatch):
    sent: list[bytes] = []
    raw = client.api.raw

    def recording(method, path, body=None, headers=None, **options):
        reply = raw(method, path, body, headers, **options)
        sent.extend([path.encode(), body or b"", json.dumps(headers or {}).encode(), reply.body,
                     str(dict(reply.headers)).encode()])
        return reply

    monkeypatch.setattr(client.api, "raw", recording)
    pairing = client.pair()
    client.scan(png_bytes(60))
    wire = b"".join(sent)
    for encoding in (pairing.key, pairing.key.hex().encode(), protocol.b64url(pairing.key).encode()):
        assert encoding not in wire


def test_each_browser_is_listed_with_its_name_and_last_use_and_revoked_alone(make_server):
    server = make_server()
    laptop, work = BridgeClient(server), BridgeClient(server)
    laptop.pair("Chromium at home")
    work.pair("Chromium at work")
    assert laptop.scan(png_bytes(70)).status == 200
    listed = {b.name: b for b in server.pairing.browsers()}
    assert set(listed) == {"Chromium at home", "Chromium at work"}
    assert listed["Chromium at home"].last_used is not None and listed["Chromium at home"].paired_at > 0
    assert server.pairing.revoke(listed["Chromium at work"].client_id)
    assert work.post_json("/v1/hello", {"client": work.pairing.client_id, "challenge": "c" * 43}).status == 401
    assert laptop.scan(png_bytes(71)).status == 200
    assert [b.name for b in server.pairing.browsers()] == ["Chromium at home"]


def test_the_browser_can_unpair_itself(paired, server):
    assert paired.call("POST", "/v1/forget").status == 200
    assert server.pairing.browsers() == []


def test_pairings_are_kept_user_only_and_survive_a_restart(paired, tmp_path):
    path = tmp_path / "bridge_browsers.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = PairingState(path)
    assert again.key_for(paired.pairing.client_id) == paired.pairing.key
    assert [b.name for b in again.browsers()] == ["Test browser"]


def _commit(client, name: str, public: bytes) -> tuple[str, bytes]:
    """Step one of a pairing: (the request's ID, the app's public key)."""
    reply = client.post_json("/v1/pair", {"name": name, "commitment": protocol.b64url(protocol.pairing_commitment(public))})
    assert reply.status == 202 and reply.json()["state"] == "committed"
    return reply.json()["request"], protocol.unb64url(reply.json()["public_key"])


def _public_key() -> bytes:
    return X25519PrivateKey.generate().public_key().public_bytes_raw()


def test_a_request_with_a_weak_public_key_is_refused(client, server):
    server.pairing.open_window()
    request_id, _ = _commit(client, "x", bytes(32))
    reply = client.post_json("/v1/pair/reveal", {"request": request_id, "public_key": protocol.b64url(bytes(32))})
    assert reply.status == 400 and reply.json()["error"] == "bad_key"  # not an old app's "bad_public_key"
    assert server.pairing.pending() == [] and client.post_json("/v1/pair/status", {"request": request_id}).status == 404
    assert client.post_json("/v1/pair", {"name": "x", "commitment": "!!"}).status == 400
    assert client.post_json("/v1/pair", {"name": "x", "commitment": protocol.b64url(bytes(31))}).status == 400


def test_the_browser_commits_to_its_key_before_it_sees_the_apps(client, server):
    """A relay between browser and app that saw the browser's key before giving its own could try a million
    keys offline until the browser shows the code the app shows it. The app answers its key to a commitment
    (the hash of the browser's key) and lists the request only once the key revealed matches it."""
    server.pairing.open_window()
    public = _public_key()
    request_id, server_public = _commit(client, "Chromium", public)
    assert len(server_public) == 32 and server.pairing.pending() == []  # no code yet: nothing to approve
    assert client.post_json("/v1/pair/status", {"request": request_id}).status == 202

    other = _public_key()  # the relay, revealing a key it chose afterwards
    mismatch = client.post_json("/v1/pair/reveal", {"request": request_id, "public_key": protocol.b64url(other)})
    assert mismatch.status == 400 and mismatch.json()["error"] == "commitment_mismatch"
    assert server.pairing.pending() == []
    late = client.post_json("/v1/pair/reveal", {"request": request_id, "public_key": protocol.b64url(public)})
    assert late.status == 404  # the request was dropped: no second guess

    request_id, _ = _commit(client, "Chromium", public)
    reveal = {"request": request_id, "public_key": protocol.b64url(public)}
    assert client.post_json("/v1/pair/reveal", reveal).status == 202
    assert [r.name for r in server.pairing.pending()] == ["Chromium"]
    assert client.post_json("/v1/pair/reveal", reveal).status == 404  # once


def test_an_extension_that_sends_its_key_at_once_is_told_to_update(client, server):
    server.pairing.open_window()
    reply = client.post_json("/v1/pair", {"name": "old", "public_key": protocol.b64url(_public_key())})
    assert reply.status == 400 and reply.json()["error"] == "update_extension"
    assert "update the browser extension" in reply.json()["message"] and server.pairing.pending() == []


def test_commitments_never_revealed_count_against_the_cap_and_expire(client, server, monkeypatch):
    server.pairing.open_window()
    for index in range(8):
        _commit(client, f"silent {index}", _public_key())
    full = client.post_json("/v1/pair", {"name": "ninth", "commitment": protocol.b64url(bytes(32))})
    assert full.status == 429 and "their browser's key" in full.json()["message"]  # none is listed in the app
    monkeypatch.setattr(pairing_module, "REVEAL_TTL_S", 0.0)  # as if ten seconds went by
    _commit(client, "after them", _public_key())


def test_a_relay_retrying_until_the_codes_match_is_stopped_and_the_person_told(client, server):
    """Toward the app a relay plays the browser: it learns each request's code when the app answers, and could
    withdraw and ask again until the code matches the one the real browser shows. One opening of the window
    takes MAX_ATTEMPTS_PER_WINDOW requests; then pairing stops, says why, and opening the window again resets it."""
    server.pairing.open_window()
    for index in range(pairing_module.MAX_ATTEMPTS_PER_WINDOW - 1):
        request_id, _ = _commit(client, f"try {index}", _public_key())
        assert client.post_json("/v1/pair/withdraw", {"request": request_id}).status == 200
    last = client.api.request_pairing("the last try")  # the one whose code may have matched
    assert server.pairing.suspended and server.pairing.pending() == []  # nothing left to approve...
    assert server.pairing.approve(last.request_id) is None  # ...not even by its ID
    stopped = client.post_json("/v1/pair", {"name": "one more", "commitment": protocol.b64url(bytes(32))})
    assert stopped.status == 403 and stopped.json()["error"] == "pairing_suspended"
    server.pairing.close_window()
    server.pairing.open_window()  # the person, about to pair
    assert not server.pairing.suspended
    client.api.request_pairing("the real browser")
    assert [r.name for r in server.pairing.pending()] == ["the real browser"]


def test_requests_waiting_for_the_person_are_capped(client, server):
    server.pairing.open_window()
    for index in range(8):
        client.api.request_pairing(f"browser {index}")
    with pytest.raises(BridgeRefused) as refused:
        client.api.request_pairing("one too many")
    assert refused.value.reply.status == 429


def test_a_browser_name_cannot_carry_terminal_escapes_or_reorder_what_follows_it(client, server):
    """``serve --pair`` prints the name beside the code to compare: an escape sequence in it (ESC [8m hides
    what follows) or a right-to-left override could hide or fake that code."""
    server.pairing.open_window()
    client.api.request_pairing('Chromium\x1b[8m\u202e" asks\x9b\u2028 to pair')
    (pending,) = server.pairing.pending()
    assert pending.name == 'Chromium [8m" asks to pair'
    assert all(ch.isprintable() for ch in pending.name)


def test_a_pairing_file_others_may_write_pairs_nothing(paired, tmp_path, caplog):
    """One planted in a shared folder (a --store there) would pair the planter's key: its browsers pair again.
    One others can only read is warned about but kept (a FAT drive shows every file as 0644)."""
    path = tmp_path / "bridge_browsers.json"
    os.chmod(path, 0o666)
    assert PairingState(path).browsers() == []
    assert "not this user's alone" in caplog.text
    os.chmod(path, 0o620)
    assert PairingState(path).browsers() == []
    os.chmod(path, 0o644)
    assert [b.name for b in PairingState(path).browsers()] == ["Test browser"]
    assert "can be read by other users" in caplog.text
    os.chmod(path, 0o600)
    assert [b.name for b in PairingState(path).browsers()] == ["Test browser"]
