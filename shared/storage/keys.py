"""The layout of the bucket, in one place.

- ``<tenant-slug>/<bot-slug>/<any path>``: a bot's documents (dropped in by an operator, or
  uploaded through the admin API under ``uploads/``);
- ``archives/<tenant-slug>/<bot-slug>/<day>/part-NNNN.jsonl.gz.enc``: Parley's own chat-log
  archives, never knowledge.
"""

from __future__ import annotations

from datetime import date
from pathlib import PurePosixPath

ARCHIVES = "archives/"


def document_key(tenant_slug: str, bot_slug: str, path: str) -> str:
    return f"{tenant_slug}/{bot_slug}/{path}"


def upload_key(tenant_slug: str, bot_slug: str, filename: str) -> str:
    return document_key(tenant_slug, bot_slug, f"uploads/{filename}")


def archive_prefix(tenant_slug: str, bot_slug: str, day: date) -> str:
    return f"{ARCHIVES}{tenant_slug}/{bot_slug}/{day.isoformat()}/"


def is_archive(key: str) -> bool:
    return key.startswith(ARCHIVES)


def bot_of(key: str) -> tuple[str, str] | None:
    """(tenant slug, bot slug) of a document key, or None when it has no such prefix."""
    parts = PurePosixPath(key).parts
    if len(parts) < 3:
        return None
    return parts[0], parts[1]
