"""Whether a URL is one a client can follow: http(s), parsing, naming a host."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit


def web_address(url: str) -> SplitResult | None:
    """The parts of ``url`` if it is an http(s) address that parses and names a host; None
    for anything else ("http://[oops", a port that is not a number, "https://:443/")."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not one)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts
