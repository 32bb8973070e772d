"""Pairing: a short code the app shows, exchanged once for a long random token.

Only hashes of tokens are kept, in a small JSON file beside the results store,
so a copy of that file cannot be replayed against the bridge. The code is six
digits, single use, expires after a few minutes and is replaced after a few
wrong guesses, so guessing it (1 in a million per try) goes nowhere.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

from engine.store import default_data_dir

TOKENS_FILE = "bridge_tokens.json"
CODE_DIGITS = 6
CODE_TTL_S = 600.0
MAX_WRONG_CODES = 5


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class PairingState:
    """The current pairing code and the hashes of tokens handed out. Thread-safe."""

    def __init__(self, path: str | Path | None = None, code_ttl_s: float = CODE_TTL_S,
                 max_wrong_codes: int = MAX_WRONG_CODES, on_code_changed: Callable[[str], None] | None = None):
        self.path = Path(path) if path else default_data_dir() / TOKENS_FILE
        self.code_ttl_s = code_ttl_s
        self.max_wrong_codes = max_wrong_codes
        self.on_code_changed = on_code_changed
        self._lock = threading.Lock()
        self._hashes: dict[str, dict] = self._load()
        self._code = ""
        self._code_expires = 0.0
        self._wrong = 0

    # --- the code the app shows ---------------------------------------------

    @property
    def code(self) -> str:
        """The code to show now; a new one once the old one expired."""
        with self._lock:
            changed = self._ensure_code()
            code = self._code
        if changed:
            self._announce(code)
        return code

    @property
    def code_expires_in(self) -> float:
        with self._lock:
            return max(0.0, self._code_expires - time.monotonic())

    def rotate_code(self) -> str:
        with self._lock:
            self._new_code()
            code = self._code
        self._announce(code)
        return code

    def pair(self, code: str, label: str = "") -> str | None:
        """A new token when ``code`` is the current code, else None (and the code moves on after too many misses)."""
        with self._lock:
            self._ensure_code()
            if not hmac.compare_digest(code.strip().replace(" ", "").encode(), self._code.encode()):
                self._wrong += 1
                if self._wrong < self.max_wrong_codes:
                    return None
                self._new_code()
                new_code = self._code
                token = None
            else:
                token = secrets.token_urlsafe(32)
                self._hashes[hash_token(token)] = {"created": time.time(), "label": label[:80]}
                self._save()
                self._new_code()  # single use
                new_code = self._code
        self._announce(new_code)
        return token

    # --- tokens ---------------------------------------------------------------

    def is_valid(self, token: str | None) -> bool:
        if not token:
            return False
        digest = hash_token(token)
        with self._lock:
            return any(hmac.compare_digest(digest, known) for known in self._hashes)

    @property
    def paired(self) -> bool:
        with self._lock:
            return bool(self._hashes)

    def revoke(self) -> int:
        """Forget every token (the extension must pair again); returns how many were revoked."""
        with self._lock:
            count = len(self._hashes)
            self._hashes = {}
            self._save()
            self._new_code()
            code = self._code
        self._announce(code)
        return count

    # --- internals ------------------------------------------------------------

    def _ensure_code(self) -> bool:
        if self._code and time.monotonic() < self._code_expires:
            return False
        self._new_code()
        return True

    def _new_code(self) -> None:
        self._code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        self._code_expires = time.monotonic() + self.code_ttl_s
        self._wrong = 0

    def _announce(self, code: str) -> None:
        if self.on_code_changed:
            self.on_code_changed(code)

    def _load(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {str(k): dict(v) for k, v in data.get("token_sha256", {}).items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, AttributeError, TypeError):
            # A damaged file pairs nothing: the extension simply pairs again.
            return {}

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"version": 1, "token_sha256": self._hashes}, indent=1)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".bridge_tokens.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(payload)
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
