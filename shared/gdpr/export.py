"""A subject's data as one machine-readable document (GDPR Art. 15 and 20).

Conversations from Postgres and from archive objects, decrypted, each with its messages
(who said it, when, the answer's source and the documents it cited, feedback given), and
the contact the visitor left, if any.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from shared.crypto import TenantCipher
from shared.db import gdpr
from shared.db.pool import Conn
from shared.gdpr import archived
from shared.gdpr.subjects import Subject, conversations_of
from shared.runtime import Runtime

FORMAT = "parley.gdpr.export/1"


def _message(cipher: TenantCipher, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "role": row["role"],
        "text": cipher.try_decrypt(row["content_enc"]),
        "created_at": row["created_at"].isoformat(),
        "source": row["source"],
        "sources": row["sources"],
        "feedback": row["feedback"],
        "feedback_comment": cipher.try_decrypt(row["feedback_comment_enc"]),
        "operator": row["operator_name"],
    }


def _archived(conversation: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": conversation["id"],
        "bot_id": conversation["bot_id"],
        "visitor_id": conversation["visitor_id"],
        "channel": conversation.get("channel"),
        "started_at": conversation["started_at"],
        "last_message_at": conversation["last_message_at"],
        "contact": None,
        "name": None,
        "stored_in": "archive",
        "messages": [
            {
                "role": m["role"],
                "text": m.get("text"),
                "created_at": m["created_at"],
                "source": m.get("source"),
                "sources": m.get("sources") or [],
                "feedback": m.get("feedback"),
                "feedback_comment": m.get("feedback_comment"),
                "operator": m.get("operator"),
            }
            for m in conversation.get("messages") or []
        ],
    }


def _document(subject: Subject, conversations: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "generated_at": datetime.now(UTC).isoformat(),
        "subject": {
            "kind": subject.kind,
            "bot_id": str(subject.bot_id) if subject.bot_id else None,
            "value": subject.value,
        },
        "conversations": conversations,
    }


def empty(subject: Subject) -> dict[str, Any]:
    """What an export of a subject Parley holds nothing about looks like."""
    return _document(subject, [])


async def collect(
    runtime: Runtime, conn: Conn, cipher: TenantCipher, subject: Subject
) -> tuple[dict[str, Any], dict[str, int]]:
    """The export document's data part, and what it holds (the receipt's counts)."""
    rows = await conversations_of(conn, cipher, subject)
    by_conversation: dict[UUID, list[dict[str, Any]]] = {r["id"]: [] for r in rows}
    for m in await gdpr.messages_for_export(conn, conversation_ids=list(by_conversation)):
        by_conversation[m["conversation_id"]].append(_message(cipher, m))
    conversations = [
        {
            "id": str(r["id"]),
            "bot_id": str(r["bot_id"]),
            "visitor_id": r["visitor_id"],
            "channel": r["channel"],
            "started_at": r["started_at"].isoformat(),
            "last_message_at": r["last_message_at"].isoformat(),
            "contact": cipher.try_decrypt(r["contact_enc"]),
            "name": cipher.try_decrypt(r["visitor_name_enc"]),
            "stored_in": "database",
            "messages": by_conversation[r["id"]],
        }
        for r in rows
    ]
    storage = runtime.get_storage()
    objects = await archived.holding(conn, storage, cipher, subject)
    for conversation in await archived.read_conversations(storage, cipher, objects):
        conversations.append(_archived(conversation))
    conversations.sort(key=lambda c: c["started_at"])
    counts = {
        "conversations": len(conversations),
        "messages": sum(len(c["messages"]) for c in conversations),
        "cache_entries": 0,
        "archive_objects": len(objects),
    }
    return _document(subject, conversations), counts
