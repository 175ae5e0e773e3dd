"""The layout of the bucket, in one place.

- ``<tenant-slug>/<bot-slug>/<any path>``: a bot's documents (dropped in by an operator, or
  uploaded through the admin API under ``uploads/``);
- ``archives/<tenant-slug>/<bot-slug>/<day>/part-NNNN.jsonl.gz.enc``: Parley's own chat-log
  archives, never knowledge;
- ``_parley/…``: Parley's own bookkeeping (GDPR exports waiting for download, erasure
  tombstones, tenant key-encryption keys), never knowledge, and never a tenant's prefix
  (a slug cannot start with ``_``).
"""

from __future__ import annotations

from datetime import date
from pathlib import PurePosixPath
from uuid import UUID

ARCHIVES = "archives/"
INTERNAL = "_parley/"
TOMBSTONES = f"{INTERNAL}gdpr/tombstones/"


def document_key(tenant_slug: str, bot_slug: str, path: str) -> str:
    return f"{tenant_slug}/{bot_slug}/{path}"


def upload_key(tenant_slug: str, bot_slug: str, filename: str) -> str:
    return document_key(tenant_slug, bot_slug, f"uploads/{filename}")


def archive_prefix(tenant_slug: str, bot_slug: str, day: date) -> str:
    return f"{ARCHIVES}{tenant_slug}/{bot_slug}/{day.isoformat()}/"


def is_internal(key: str) -> bool:
    """Parley's own objects (archives, bookkeeping): never ingested as documents."""
    return key.startswith((ARCHIVES, INTERNAL))


def export_key(tenant_id: UUID, request_id: UUID) -> str:
    return f"{INTERNAL}gdpr/exports/{tenant_id}/{request_id}.json.enc"


def tombstone_key(tenant_id: UUID, request_id: UUID) -> str:
    return f"{TOMBSTONES}{tenant_id}/{request_id}.json"


def kek_prefix(tenant_id: UUID) -> str:
    """Where a tenant's key-encryption keys live (shared.tenant_keys)."""
    return f"{INTERNAL}keys/{tenant_id}/"


def tenant_prefixes(tenant_slug: str, tenant_id: UUID) -> list[str]:
    """Everything stored for one tenant: documents, archives, waiting exports."""
    return [f"{tenant_slug}/", f"{ARCHIVES}{tenant_slug}/", f"{INTERNAL}gdpr/exports/{tenant_id}/"]


def bot_of(key: str) -> tuple[str, str] | None:
    """(tenant slug, bot slug) of a document key, or None when it has no such prefix."""
    parts = PurePosixPath(key).parts
    if len(parts) < 3:
        return None
    return parts[0], parts[1]
