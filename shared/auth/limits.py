"""Rate-limit policy: which bucket a caller's request counts against, and how many a minute.

The one place that decides it, for HTTP and WebSocket alike:

- a publishable key (a browser, visitor chat): each message (``POST /v1/chat``, a WebSocket
  message, feedback) per key and client address, at the bot's ``rate_limit_per_minute``
  (default 20), so one visitor cannot use up a site's chat; loading the widget is free;
- a secret key or a dashboard session: per credential, at ``PARLEY_API_RATE_LIMIT``; a
  server relaying many visitors through one secret key is limited as an API client.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.auth.principal import CredentialKind

DEFAULT_CHAT_PER_MINUTE = 20
PERIOD_SECONDS = 60


@dataclass(frozen=True)
class Limit:
    bucket: str
    # None: the bot's own rate_limit_per_minute, or DEFAULT_CHAT_PER_MINUTE.
    per_minute: int | None


def limit_for(
    credential: CredentialKind,
    credential_id: str,
    *,
    address: str,
    api_per_minute: int,
    visitor_message: bool = True,
) -> Limit | None:
    """The limit a request counts against; None for a publishable key's request that is
    not a message (the widget's settings, a WebSocket handshake)."""
    if credential == "publishable_key":
        return Limit(f"chat:{credential_id}:{address}", None) if visitor_message else None
    return Limit(f"api:{credential_id}", api_per_minute)


def per_minute(limit: Limit, bot_setting: int | None) -> int:
    """The number a check uses: the limit's own, else the bot's, else the default."""
    return limit.per_minute or bot_setting or DEFAULT_CHAT_PER_MINUTE
