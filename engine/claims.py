"""Claims on bytes being scanned, taken in the shared store so that two processes (the app, the CLI, the
bridge's server) scan the same image once: one claims it and scans; the others wait for its result. A
claim only saves work, so a store that fails here never stops a scan, and a claim its process leaves
behind goes stale (``Store.claim``) instead of blocking the bytes for ever."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from engine.result import Result
from engine.store import CLAIM_STALE_S, Store, claim_owner

log = logging.getLogger(__name__)

POLL_S = 0.05  # how often a scanner waiting on another process's claim looks for its result
# A wait this long is said, once per image: another scan stopped (Ctrl-Z) or slow held it without a word.
WAIT_NOTICE_S = 5.0


class Abandoned(Exception):
    """Given up while waiting on another process's claim (the job was cancelled, or the scanner closed)."""


class ClaimBook:
    """One scanner's claims on (sha256, model) in ``store``."""

    def __init__(self, store: Store | None, model_id: str, fingerprint: str = ""):
        self.store, self.model_id, self.fingerprint = store, model_id, fingerprint  # as Store.get takes them
        self._owner = claim_owner(uuid.uuid4().hex[:12])
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._all_released = False  # release_all() ran: a process about to exit takes no new claim

    def claim_or_wait(self, sha256: str, give_up: Callable[[], bool], newer_than: float = 0.0) -> Result | None:
        """Claim these bytes; while another process holds them, wait for its result (raising Abandoned once
        ``give_up()``). None: ours to scan; a Result: the one now stored for them, scanned after
        ``newer_than`` (a rescan's start: an older one is what it replaces)."""
        if not self.store:
            return None
        started, told = time.monotonic(), False
        while True:
            try:
                # Claimed and recorded under the lock release_all() takes: a claim made between its look at
                # the held ones and the process's exit outlived it (a Ctrl-C'd CLI left one behind).
                with self._lock:
                    if self._all_released:
                        raise Abandoned
                    claimed = self.store.claim(sha256, self.model_id, self._owner)
                    if claimed:
                        self._held.add(sha256)
                if claimed:
                    # It may have been finished and released between our cache look-up and the claim.
                    stored = _newer(self.store.get(sha256, self.model_id, self.fingerprint), newer_than)
                    if stored is not None:
                        self.release(sha256)
                    return stored
                stored = _newer(self.store.get(sha256, self.model_id, self.fingerprint), newer_than)
            except Abandoned:
                raise
            except Exception as exc:
                log.warning("could not claim %s in the store, scanning it anyway: %s", sha256[:12], exc)
                return None
            if stored is not None:
                return stored
            if give_up():
                raise Abandoned
            if not told and time.monotonic() - started >= WAIT_NOTICE_S:
                told = True
                self._tell_waiting(sha256)
            time.sleep(POLL_S)

    def _tell_waiting(self, sha256: str) -> None:
        holder = self.store.claim_holder(sha256, self.model_id) if self.store else None
        host, _, rest = (holder or "").partition(":")
        who = f"process {rest.partition(':')[0]} on {host}" if holder else "process"
        log.warning("waiting for another SynthSpot %s, which is scanning the same image (%s); if it is stopped "
                    "or stays silent, it is taken over after %d minutes", who, sha256[:12], CLAIM_STALE_S // 60)

    def release(self, sha256: str) -> None:
        # Under the lock, DELETE included: release_all() then waits for a release under way, which had
        # already dropped its bytes from the held ones (the process exited before its DELETE, leaving the claim).
        with self._lock:
            if sha256 not in self._held:
                return
            self._held.discard(sha256)
            if self.store is None:  # claims are taken in the store: none without one
                return
            try:
                self.store.release_claim(sha256, self.model_id, self._owner)
            except Exception as exc:  # it goes stale with this process; others then take it over
                log.warning("could not release the claim on %s: %s", sha256[:12], exc)

    def release_all(self) -> None:
        with self._lock:
            self._all_released = True
            held = list(self._held)
        for sha256 in held:
            self.release(sha256)


def _newer(result: Result | None, than: float) -> Result | None:
    return result if result is not None and result.scanned_at > than else None
