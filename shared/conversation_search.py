"""Searching a bot's conversations by what was said, although every message is encrypted.

Texts are decrypted in memory, never indexed in clear: the search reads the newest
``SCAN`` conversations that pass the other filters and keeps those with a message
containing the words (case-insensitive), then pages over them.
"""

from __future__ import annotations

from typing import Any

from shared.crypto import TenantCipher
from shared.db import conversations
from shared.db.pool import Conn

SCAN = 2000


async def matching(
    conn: Conn,
    cipher: TenantCipher,
    candidates: list[dict[str, Any]],
    text: str,
    *,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    """The page of ``candidates`` (newest first) with a message containing ``text``."""
    needle = text.casefold()
    hits: set[Any] = set()
    rows = await conversations.message_texts(conn, conversation_ids=[c["id"] for c in candidates])
    for row in rows:
        if row["conversation_id"] not in hits:
            said = cipher.try_decrypt(row["content_enc"]) or ""
            if needle in said.casefold():
                hits.add(row["conversation_id"])
    found = [c for c in candidates if c["id"] in hits]
    return found[offset : offset + limit]
