"""Request bodies of the GDPR API (the receipts are shared.gdpr.receipts)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field

from shared.http.endpoints import RequestModel

# An e-mail address a visitor left (compared without case and surrounding space).
Contact = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^\s*[^@\s]+@[^@\s]+\s*$")]


class SubjectRequest(RequestModel):
    """A visitor: ``visitor_id`` and ``visitor_token``. The shop: ``bot_id`` with
    ``visitor_id``, or ``conversation_id``, or ``contact`` (an operator adds ``tenant_id``)."""

    visitor_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    visitor_token: Annotated[str, Field(max_length=200)] | None = None
    bot_id: UUID | None = None
    conversation_id: UUID | None = None
    contact: Contact | None = None
    tenant_id: UUID | None = None
