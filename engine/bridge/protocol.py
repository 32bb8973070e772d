"""The bridge's authenticated channel: what each side derives and signs.

Pairing: the extension and the app each make an X25519 key pair and swap public
keys (``POST /v1/pair``). Both derive the same 32-byte key with HKDF-SHA256 and,
from the same exchange, a six-digit code the person compares in the app's
"Pair a browser" window before approving. The key itself never crosses the wire.

Every later exchange starts with a challenge: the extension sends 32 random
bytes (``POST /v1/hello``); the server answers a fresh single-use nonce and
HMAC(key, challenge, nonce), which proves it is the app the browser paired
with, before the extension sends any URL or byte. The request then carries
HMAC(key, method, path, nonce, content type, URL headers, body sha256), and the
answer HMAC(key, nonce, status, body sha256). extension/bridge.js mirrors this
file line for line; tests/extension checks the two agree.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

CLIENT_HEADER = "X-SynthSpot-Client"
NONCE_HEADER = "X-SynthSpot-Nonce"
SIGNATURE_HEADER = "X-SynthSpot-Signature"  # on requests and on answers
BODY_DIGEST_HEADER = "X-SynthSpot-Body-Sha256"
PAGE_URL_HEADER = "X-SynthSpot-Page-Url"
IMAGE_URL_HEADER = "X-SynthSpot-Image-Url"

KEY_INFO = b"synthspot bridge key v1"
CODE_INFO = b"synthspot pairing code v1"
COMMITMENT_INFO = b"synthspot pairing commitment v1\n"
CODE_DIGITS = 6
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: object, max_bytes: int = 1024) -> bytes:
    """Decode unpadded base64url; ValueError for anything else (or anything longer than ``max_bytes``)."""
    if not isinstance(text, str) or len(text) > 2 * max_bytes or not text.isascii():
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64url") from exc


def hkdf_sha256(secret: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF (what WebCrypto's "HKDF" derives)."""
    prk = hmac.new(salt, secret, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def pairing_commitment(client_public: bytes) -> bytes:
    """What a browser sends before its public key: SHA-256 of ``COMMITMENT_INFO`` and the key (the key is
    random, so this hides it)."""
    return hashlib.sha256(COMMITMENT_INFO + client_public).digest()


def derive_pairing(shared_secret: bytes, client_public: bytes, server_public: bytes) -> tuple[bytes, str]:
    """The channel key and the confirmation code both sides show, from one X25519 exchange."""
    salt = hashlib.sha256(client_public + server_public).digest()
    key = hkdf_sha256(shared_secret, salt, KEY_INFO, 32)
    code_number = int.from_bytes(hkdf_sha256(shared_secret, salt, CODE_INFO, 8), "big") % 10 ** CODE_DIGITS
    return key, f"{code_number:0{CODE_DIGITS}d}"


def _mac(key: bytes, *fields: str) -> str:
    # surrogatepass: a header byte outside UTF-8 (aiohttp keeps it as a lone surrogate) or a lone surrogate
    # from JSON gives a MAC nobody signed, refused as such, not an encoding error; valid text is plain UTF-8.
    return b64url(hmac.new(key, "\n".join(fields).encode("utf-8", "surrogatepass"), hashlib.sha256).digest())


def paired_proof(key: bytes, request_id: str, client_id: str) -> str:
    """The app's answer to an approved pairing: it holds the same key, and this is the browser's ID."""
    return _mac(key, "synthspot-paired-v1", request_id, client_id)


def server_proof(key: bytes, client_id: str, challenge: str, nonce: str) -> str:
    return _mac(key, "synthspot-server-v1", client_id, challenge, nonce)


def request_signature(key: bytes, method: str, path: str, nonce: str, content_type: str, page_url: str,
                      image_url: str, body_sha256: str) -> str:
    return _mac(key, "synthspot-request-v1", method.upper(), path, nonce, content_type, page_url, image_url,
                body_sha256)


def answer_signature(key: bytes, nonce: str, status: int, body_sha256: str) -> str:
    return _mac(key, "synthspot-answer-v1", nonce, str(status), body_sha256)


def same(expected: str, given: str | None) -> bool:
    return isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def same_bytes(expected: bytes, given: bytes) -> bool:
    return hmac.compare_digest(expected, given)
