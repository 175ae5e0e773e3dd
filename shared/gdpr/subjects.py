"""Who a GDPR request is about, and the keyed hashes that name them without their data.

A subject is one of: a bot's visitor (their visitor id), one conversation, or a contact
(an e-mail address a visitor left, tenant-wide). Hashes are MACs under the tenant's data
key, so they are stable, useless outside Parley, and die with the tenant's key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from shared.crypto import TenantCipher
from shared.db import gdpr
from shared.db.pool import Conn

SubjectKind = Literal["visitor", "conversation", "contact"]


def normalize_contact(contact: str) -> str:
    """E-mail addresses compare case-insensitively and without surrounding space."""
    return contact.strip().lower()


def visitor_hash(cipher: TenantCipher, *, bot_id: UUID, visitor_id: str) -> bytes:
    return cipher.mac(f"gdpr:visitor:{bot_id}:{visitor_id}")


def contact_hash(cipher: TenantCipher, contact: str) -> bytes:
    return cipher.mac(f"gdpr:contact:{normalize_contact(contact)}")


def conversation_hash(cipher: TenantCipher, conversation_id: UUID) -> bytes:
    return cipher.mac(f"gdpr:conversation:{conversation_id}")


@dataclass(frozen=True)
class Subject:
    kind: SubjectKind
    tenant_id: UUID
    value: str  # the visitor id, the conversation id, or the normalised contact
    bot_id: UUID | None = None  # a visitor's bot (visitor ids are per bot)

    def hash(self, cipher: TenantCipher) -> bytes:
        if self.kind == "visitor":
            assert self.bot_id is not None
            return visitor_hash(cipher, bot_id=self.bot_id, visitor_id=self.value)
        if self.kind == "conversation":
            return conversation_hash(cipher, UUID(self.value))
        return contact_hash(cipher, self.value)

    def seal(self, cipher: TenantCipher) -> bytes:
        """The subject, encrypted, for finishing an interrupted request."""
        bot = str(self.bot_id) if self.bot_id else None
        return cipher.encrypt(json.dumps({"kind": self.kind, "value": self.value, "bot": bot}))

    @classmethod
    def unseal(cls, cipher: TenantCipher, blob: bytes) -> Subject:
        data = json.loads(cipher.decrypt(blob))
        bot = UUID(data["bot"]) if data["bot"] else None
        return cls(data["kind"], cipher.tenant_id, data["value"], bot)


async def conversations_of(
    conn: Conn, cipher: TenantCipher, subject: Subject
) -> list[dict[str, Any]]:
    """The subject's conversations in Postgres (contact still encrypted)."""
    return await gdpr.subject_conversations(
        conn,
        tenant_id=subject.tenant_id,
        kind=subject.kind,
        value=subject.value,
        bot_id=subject.bot_id,
        subject_hash=subject.hash(cipher),
    )
