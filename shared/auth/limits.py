"""Rate-limit policy: which bucket a caller's request counts against, and how many a minute.

The one place that decides it, for HTTP and WebSocket alike:

- a publishable key (a browser, visitor chat): each message (``POST /v1/chat``, a WebSocket
  message, feedback, a handoff or GDPR request) per visitor — the id the widget sends in
  ``X-Parley-Visitor-Id`` (or a WebSocket message's ``visitor_id``), a visitor without one
  yet per key and address — at the bot's ``rate_limit_per_minute`` (default 20), so visitors
  behind one NAT each have their own allowance; and per key and client address under a
  ceiling ``ADDRESS_CEILING`` times higher, which claiming many visitor ids cannot pass.
  Loading the widget is free;
- a secret key or a dashboard session: per credential, at ``PARLEY_API_RATE_LIMIT``; a
  server relaying many visitors through one secret key is limited as an API client.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.auth.principal import CredentialKind

DEFAULT_CHAT_PER_MINUTE = 20
PERIOD_SECONDS = 60
# One address's messages, all its visitors together, against one visitor's allowance.
ADDRESS_CEILING = 10
MAX_VISITOR_ID = 200


@dataclass(frozen=True)
class Limit:
    bucket: str
    # None: the bot's own rate_limit_per_minute, or DEFAULT_CHAT_PER_MINUTE.
    per_minute: int | None
    # Counted too (when ``bucket`` lets the request in), at ADDRESS_CEILING x the rate.
    ceiling: str | None = None


def limit_for(
    credential: CredentialKind,
    credential_id: str,
    *,
    address: str,
    api_per_minute: int,
    visitor_message: bool = True,
    visitor: str | None = None,
) -> Limit | None:
    """The limit a request counts against; None for a publishable key's request that is
    not a message (the widget's settings, a WebSocket handshake). ``visitor`` is the
    visitor id the browser claims: it only chooses the bucket, the ceiling is per address."""
    if credential == "publishable_key":
        if not visitor_message:
            return None
        ceiling = f"chat:{credential_id}:{address}"
        if visitor:
            return Limit(f"chat:{credential_id}:v:{visitor[:MAX_VISITOR_ID]}", None, ceiling)
        return Limit(f"chat:{credential_id}:new:{address}", None, ceiling)
    return Limit(f"api:{credential_id}", api_per_minute)
