"""Where a browser request comes from, and whether a bot's publishable key may be used there."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit


def request_origin(headers: Mapping[str, str]) -> str | None:
    """The page's origin: the Origin header, or for a same-origin GET (where browsers omit
    it) the origin of the Referer. A browser on another site always sends Origin."""
    origin = headers.get("origin")
    if origin and origin != "null":
        return origin
    referer = urlsplit(headers.get("referer") or "")
    if referer.scheme in ("http", "https") and referer.netloc:
        return f"{referer.scheme}://{referer.netloc}"
    return None


def origin_allowed(bot: Mapping[str, Any], origin: str | None) -> bool:
    """Allowed origins are stored lower-case without a trailing slash."""
    return origin is not None and origin.lower().rstrip("/") in bot["allowed_origins"]
