"""Pairing: only while the app's "Pair a browser" window is open (or ``synthspot serve --pair`` runs),
and only once the person approves the browser there.

A browser asks with its name and a commitment to an X25519 public key (its
hash); the app answers its own public key; only then does the browser reveal
its key, which must match the commitment, and both sides derive the channel key
and a six-digit code (``protocol.derive_pairing``). The window lists each
request with its name and code, and the person approves the one whose code their
browser shows, so a process that asks at the same moment cannot slip in. The
commitment keeps a relay between browser and app from choosing its key toward
the browser after seeing the browser's: otherwise it could try a million keys
offline until the browser shows the code the app shows it. Toward the app the
relay plays the browser and learns each request's code as it is answered, so it
could still withdraw and retry until the codes match: one opening of the window
takes at most ``MAX_ATTEMPTS_PER_WINDOW`` requests, then pairing stops with a
warning until the person opens the window again. Approved browsers are kept
with their name, key, pairing time and last use in a user-only JSON file beside
the results store; each can be revoked on its own.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
import threading
import time
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from engine.bridge import protocol
from engine.store import default_data_dir

log = logging.getLogger(__name__)

PAIRING_FILE = "bridge_browsers.json"
REQUEST_TTL_S = 600.0  # an unanswered request, or an answer the browser never collected, is dropped then
REVEAL_TTL_S = 10.0  # a browser reveals its key at once; a commitment never followed up is dropped then
# Requests one opening of the window accepts: a person needs one or a few; a relay trying codes needs about
# a million (each try a request), so its odds stay near 20 in a million per opening.
MAX_ATTEMPTS_PER_WINDOW = 20
MAX_PENDING = 8  # requests waiting for the person at once; more are refused until some are answered
MAX_NAME = 80
LAST_USE_SAVE_S = 60.0  # "last used" is written to disk at most this often per browser




def _private_to_this_user(path: Path) -> bool:
    """Whether the pairing file is this user's and nobody else's to write: one planted in a shared folder (a
    --store there) would pair the planter's key. Readable by others is only warned about: a portable store
    on a FAT drive shows every file as 0644 or 0755 whatever was asked, and refusing it would unpair its
    browsers at every start."""
    info = path.stat()  # FileNotFoundError: nothing paired yet
    if not hasattr(os, "getuid"):  # Windows: the user's profile folder's ACLs decide
        return True
    if info.st_mode & 0o044:
        log.warning("%s can be read by other users: its channel keys are theirs to read too", path)
    return info.st_uid == os.getuid() and not info.st_mode & 0o022

def printable_name(name: str) -> str:
    """A browser's name as it may be shown: no control characters (a terminal escape in it could hide or fake
    the code that ``serve --pair`` prints beside it), no bidirectional overrides (which reorder what follows),
    whitespace collapsed, at most ``MAX_NAME`` characters."""
    kept = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
                   for ch in str(name) if unicodedata.category(ch) != "Cf")
    return " ".join(kept.split())[:MAX_NAME] or "Unnamed browser"


# What the app's window and `serve --pair` say once an opening of the window took its most requests.
SUSPENDED_WARNING = (f"Pairing stopped: {MAX_ATTEMPTS_PER_WINDOW} pairing requests came while it was open, more than "
                     "a person makes. Something on this computer may be trying to pair without you.")


class PairingClosed(Exception):
    """No "Pair a browser" window is open."""


class TooManyRequests(Exception):
    """Several requests already wait for the person's answer (or for their browser's key)."""


class PairingSuspended(Exception):
    """This opening of the window took ``MAX_ATTEMPTS_PER_WINDOW`` requests: more than a person makes."""


class UnknownRequest(Exception):
    """No request by that ID waits for its key (it expired, was withdrawn, or its key came already)."""


class CommitmentMismatch(ValueError):
    """The key revealed is not the one the request committed to; the request is dropped."""


@dataclass
class PairedBrowser:
    client_id: str
    name: str
    key: bytes = field(repr=False)
    paired_at: float
    last_used: float | None = None


@dataclass
class PairingRequest:
    request_id: str
    name: str
    code: str
    key: bytes = field(repr=False)
    created: float  # time.monotonic()
    state: str = "pending"  # committed (its key not yet revealed, not shown), pending, approved, refused
    client_id: str = ""
    commitment: bytes = field(default=b"", repr=False)
    private: X25519PrivateKey | None = field(default=None, repr=False)  # the app's half, until the reveal


class PairingState:
    """The pairing window, the requests waiting in it and the paired browsers. Thread-safe;
    ``on_change`` is called (from whichever thread made the change) after each change."""

    def __init__(self, path: str | Path | None = None, on_change: Callable[[], None] | None = None):
        self.path = Path(path) if path else default_data_dir() / PAIRING_FILE
        self.on_change = on_change
        self._lock = threading.Lock()
        self._browsers: dict[str, PairedBrowser] = self._load()
        self._requests: dict[str, PairingRequest] = {}
        self._window_until = 0.0  # time.monotonic(); 0: closed
        self._attempts = 0  # requests in this opening of the window
        self._saved_use: dict[str, float] = {}

    # --- the window (the app, or serve --pair) ----------------------------------

    def open_window(self, seconds: float | None = None) -> None:
        """Accept pairing requests until ``close_window`` (or for ``seconds``)."""
        with self._lock:
            self._window_until = float("inf") if seconds is None else time.monotonic() + seconds
            self._attempts = 0
        self._changed()

    def close_window(self) -> None:
        with self._lock:
            self._window_until = 0.0
            self._expire()
        self._changed()

    @property
    def window_open(self) -> bool:
        with self._lock:
            return self._is_open()

    @property
    def suspended(self) -> bool:
        """Whether this opening of the window stopped taking requests (``MAX_ATTEMPTS_PER_WINDOW``)."""
        with self._lock:
            return self._is_open() and self._attempts >= MAX_ATTEMPTS_PER_WINDOW

    # --- the browser's side (the bridge's thread) -----------------------------

    def request(self, name: str, commitment: bytes) -> tuple[str, bytes]:
        """A new request committed to a key not yet shown (its ID and the app's public key); PairingClosed,
        PairingSuspended, TooManyRequests or ValueError. It waits for ``reveal`` before the window lists it."""
        with self._lock:
            self._check_accepting()
        if len(commitment) != 32:
            raise ValueError("a commitment is a 32-byte SHA-256")
        private = X25519PrivateKey.generate()
        request_id = protocol.b64url(secrets.token_bytes(16))
        with self._lock:
            self._check_accepting()
            self._requests[request_id] = PairingRequest(request_id, printable_name(name), "", b"", time.monotonic(),
                                                        "committed", commitment=commitment, private=private)
            self._attempts += 1
            now_suspended = self._attempts == MAX_ATTEMPTS_PER_WINDOW
        if now_suspended:
            log.warning("pairing stopped: %d requests in one opening of the window", MAX_ATTEMPTS_PER_WINDOW)
            self._changed()  # the window says so
        return request_id, private.public_key().public_bytes_raw()

    def reveal(self, request_id: str, client_public: bytes) -> None:
        """The browser's key for its committed request: checked against the commitment, then the code is
        derived and the window lists the request. UnknownRequest, CommitmentMismatch (the request is dropped)
        or ValueError (a weak key)."""
        with self._lock:
            self._expire()
            found = self._requests.get(request_id)
            if found is None or found.state != "committed" or found.private is None:
                raise UnknownRequest()
            if not protocol.same_bytes(protocol.pairing_commitment(client_public), found.commitment):
                del self._requests[request_id]
                raise CommitmentMismatch("the key revealed is not the one committed to")
            private, found.private = found.private, None
        try:
            shared = private.exchange(X25519PublicKey.from_public_bytes(client_public))  # ValueError: weak key
        except ValueError:
            with self._lock:
                self._requests.pop(request_id, None)
            raise
        key, code = protocol.derive_pairing(shared, client_public, private.public_key().public_bytes_raw())
        with self._lock:
            if self._requests.get(request_id) is not found:  # withdrawn or expired meanwhile
                raise UnknownRequest()
            found.key, found.code, found.state = key, code, "pending"
        self._changed()

    def withdraw(self, request_id: str) -> bool:
        """The browser stopped waiting (Cancel in its popup, or a new attempt): the request leaves the
        window, so nobody approves a browser that is no longer there; a pairing approved meanwhile,
        whose key that browser will not keep, is revoked."""
        with self._lock:
            found = self._requests.pop(request_id, None)
            if found is None:
                return False
            if found.state == "approved" and self._browsers.pop(found.client_id, None) is not None:
                self._save()
        self._changed()
        return True

    def answer(self, request_id: str) -> PairingRequest | None:
        with self._lock:
            self._expire()
            found = self._requests.get(request_id)
            return replace(found) if found else None

    # --- the person's side (the app) --------------------------------------------

    def pending(self) -> list[PairingRequest]:
        """Requests waiting for the person; none once this opening of the window stopped taking them (the
        last ones may be a relay's lucky try: nothing is approved until the window is opened again)."""
        with self._lock:
            self._expire()
            if self._attempts >= MAX_ATTEMPTS_PER_WINDOW:
                return []
            return [replace(r) for r in self._requests.values() if r.state == "pending"]

    def approve(self, request_id: str) -> PairedBrowser | None:
        with self._lock:
            self._expire()
            found = self._requests.get(request_id)
            stopped = self._attempts >= MAX_ATTEMPTS_PER_WINDOW
            if found is None or found.state != "pending" or not self._is_open() or stopped:
                return None
            browser = PairedBrowser(protocol.b64url(secrets.token_bytes(16)), found.name, found.key, time.time())
            self._browsers[browser.client_id] = browser
            found.state, found.client_id = "approved", browser.client_id
            self._save()
        self._changed()
        return replace(browser)

    def refuse(self, request_id: str) -> bool:
        with self._lock:
            found = self._requests.get(request_id)
            if found is None or found.state != "pending":
                return False
            found.state = "refused"
        self._changed()
        return True

    def browsers(self) -> list[PairedBrowser]:
        with self._lock:
            return sorted((replace(b) for b in self._browsers.values()), key=lambda b: b.paired_at)

    def revoke(self, client_id: str) -> bool:
        with self._lock:
            if self._browsers.pop(client_id, None) is None:
                return False
            self._save()
        self._changed()
        return True

    def revoke_all(self) -> int:
        with self._lock:
            count = len(self._browsers)
            self._browsers = {}
            self._save()
        self._changed()
        return count

    # --- the channel (auth) ---------------------------------------------------

    def key_for(self, client_id: str | None) -> bytes | None:
        with self._lock:
            browser = self._browsers.get(client_id or "")
            return browser.key if browser else None

    def name_of(self, client_id: str) -> str:
        with self._lock:
            browser = self._browsers.get(client_id)
            return browser.name if browser else ""

    def touch(self, client_id: str) -> None:
        """Note a use; written to disk at most every LAST_USE_SAVE_S per browser."""
        now = time.time()
        with self._lock:
            browser = self._browsers.get(client_id)
            if browser is None:
                return
            browser.last_used = now
            if now - self._saved_use.get(client_id, 0.0) < LAST_USE_SAVE_S:
                return
            self._saved_use[client_id] = now
            self._save()
        self._changed()

    # --- internals (under the lock) -------------------------------------------

    def _check_accepting(self) -> None:
        self._expire()
        if not self._is_open():
            raise PairingClosed()
        if self._attempts >= MAX_ATTEMPTS_PER_WINDOW:
            raise PairingSuspended()
        if sum(r.state in ("committed", "pending") for r in self._requests.values()) >= MAX_PENDING:
            raise TooManyRequests()

    def _is_open(self) -> bool:
        return time.monotonic() < self._window_until

    def _expire(self) -> None:
        now, is_open = time.monotonic(), self._is_open()
        self._requests = {rid: r for rid, r in self._requests.items()
                          if now - r.created < (REVEAL_TTL_S if r.state == "committed" else REQUEST_TTL_S)
                          and (is_open or r.state == "approved")}

    def _changed(self) -> None:
        if self.on_change:
            self.on_change()

    def _load(self) -> dict[str, PairedBrowser]:
        try:
            if not _private_to_this_user(self.path):
                log.warning("%s is not this user's alone (another owner, or others may write it): its "
                            "pairings are not trusted, and browsers pair again", self.path)
                return {}
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {cid: PairedBrowser(cid, str(b["name"]), protocol.unb64url(b["key"]), float(b["paired_at"]),
                                       b.get("last_used"))
                    for cid, b in data.get("browsers", {}).items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, AttributeError, TypeError, KeyError):
            return {}  # a damaged file pairs nothing: the browsers simply pair again

    def _save(self) -> None:
        # User-only: the file holds the channel keys. The folder is the results store's (0700 when new).
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        payload = json.dumps({"version": 2, "browsers": {
            b.client_id: {"name": b.name, "key": protocol.b64url(b.key), "paired_at": b.paired_at,
                          "last_used": b.last_used} for b in self._browsers.values()}}, indent=1)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".bridge_browsers.")  # created 0600
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(payload)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
