"""Which bot a chat caller talks to, from where, and how often."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from shared import ratelimit
from shared.auth.principal import Principal
from shared.db import bots
from shared.db.pool import Conn
from shared.errors import ForbiddenError, ValidationError

DEFAULT_CHAT_LIMIT = 20  # messages per minute per key and visitor address
MAX_MESSAGE_CHARS = 2000


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


async def chat_bot(
    conn: Conn, principal: Principal, *, bot_id: UUID | None, origin: str | None
) -> dict[str, Any]:
    """The bot this caller may chat with; publishable keys only from allowed origins."""
    if principal.credential == "publishable_key":
        assert principal.bot_id is not None
        bot = await bots.get_bot(conn, scope=principal.tenant_id, bot_id=principal.bot_id)
        if origin is None or origin.lower().rstrip("/") not in bot["allowed_origins"]:
            raise ForbiddenError(
                "This site is not allowed to use this chat key.", code="origin_not_allowed"
            )
        return bot
    if bot_id is None:
        raise ValidationError("bot_id: required when chatting with a secret key")
    return await bots.get_bot(conn, scope=principal.scope, bot_id=bot_id)


async def check_chat_rate(
    conn: Conn, principal: Principal, bot: dict[str, Any], address: str
) -> None:
    limit = bot["rate_limit_per_minute"] or DEFAULT_CHAT_LIMIT
    await ratelimit.check(conn, bucket=f"chat:{principal.key_id}:{address}", limit=limit, period=60)
