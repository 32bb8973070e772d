"""What the bridge keeps of a browser's URLs (what it tells a browser about a result: payload.py).

Page and image URLs are only labels for the history, but their query strings
and fragments often carry secrets (signed links: ``X-Amz-Signature=...``,
session tokens, e-mail addresses), and ``user:password@`` is one: by default
the bridge keeps scheme, host and path only.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

MAX_URL_LABEL = 2048
KEEP_QUERIES_ENV = "SYNTHSPOT_KEEP_URL_QUERIES"


def url_label(value: str | None, keep_queries: bool = False) -> str:
    """A URL as the extension sent it (percent-encoded), cut down to what the history may keep."""
    text = unquote(value or "")[:MAX_URL_LABEL]
    if keep_queries or not text:
        return text
    scheme = text.split(":", 1)[0].lower() if ":" in text else ""
    if scheme == "data":  # data:image/png;base64,... : the media type says enough
        return "data:" + text[5:].split(",", 1)[0].split(";", 1)[0][:100]
    if scheme == "blob":  # blob:https://site/uuid: the uuid is the page's own handle
        return "blob:" + url_label(text[5:]).rsplit("/", 1)[0]
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return ""
    if ":" in host:  # IPv6 literal
        netloc = f"[{host}]" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
