"""The receipt of a GDPR request, as the visitor, the shop and the operator see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel


@dataclass(frozen=True)
class Asked:
    """Who asked: ``visitor``, ``tenant`` (a shop's key or user) or ``admin``; ``verified``
    is False when a visitor's token did not prove the visitor id."""

    by: str
    verified: bool = True


COUNTS = ("conversations", "messages", "cache_entries", "archive_objects")


def zero_counts() -> dict[str, int]:
    return dict.fromkeys(COUNTS, 0)


class Receipt(BaseModel):
    id: UUID
    kind: Literal["erasure", "export", "offboarding"]
    status: Literal["received", "in_progress", "completed", "failed"]
    counts: dict[str, int]
    received_at: datetime
    completed_at: datetime | None
    # Art. 12(3): one month from receipt.
    deadline: datetime
    # A large export: where to fetch it (same credentials as the request), and until when.
    download_url: str | None = None
    download_expires_at: datetime | None = None


class RequestRecord(Receipt):
    """What the shop's list shows: who asked and about what kind of subject, never who."""

    tenant_id: UUID | None
    bot_id: UUID | None
    requested_by: Literal["visitor", "tenant", "admin"]
    subject_kind: str | None
    # False: a visitor's token did not prove the visitor id; nothing was touched.
    verified: bool
    error: str | None


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    counts = {**zero_counts(), **(row["counts"] or {})}
    download = None
    if row["export_key"] is not None:
        download = f"/v1/gdpr/requests/{row['id']}/download"
    return {
        **row,
        "counts": counts,
        "download_url": download,
        "download_expires_at": row["export_expires_at"] if download else None,
    }


def receipt(row: dict[str, Any]) -> Receipt:
    return Receipt.model_validate(_fields(row))


def record(row: dict[str, Any]) -> RequestRecord:
    return RequestRecord.model_validate(_fields(row))
