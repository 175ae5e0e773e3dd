"""Which bot a chat caller talks to: a publishable key's own (loaded, and its origin
checked, when the key was authenticated), or for a secret key the one it names."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from shared.auth.principal import Principal
from shared.db import bots
from shared.db.pool import Conn
from shared.errors import ValidationError


async def chat_bot(
    conn: Conn, principal: Principal, key_bot: dict[str, Any] | None, bot_id: UUID | None
) -> dict[str, Any]:
    if key_bot is not None:
        return key_bot
    if bot_id is None:
        raise ValidationError("bot_id: required when chatting with a secret key")
    return await bots.get_bot(conn, scope=principal.scope, bot_id=bot_id)
