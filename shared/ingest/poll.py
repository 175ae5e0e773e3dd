"""For stores that send no events (Hetzner Object Storage): list, compare, reconcile."""

from __future__ import annotations

from collections import Counter

from shared.db import documents
from shared.ingest.pipeline import Outcome, reconcile
from shared.runtime import Runtime
from shared.storage import keys
from shared.storage.base import Storage


async def poll(runtime: Runtime, storage: Storage) -> dict[str, int]:
    """Ingest what is new or changed by ETag, remove what is gone; returns counts by action."""
    prefix = storage.uri("")
    async with runtime.db.connection() as conn:
        known = await documents.known_under(conn, prefix=prefix)
    counts: Counter[str] = Counter()
    seen: set[str] = set()
    async for obj in storage.list():
        if keys.is_internal(obj.key):
            continue  # Parley's own archives and bookkeeping are not knowledge
        uri = storage.uri(obj.key)
        seen.add(uri)
        if known.get(uri) == (obj.etag, "ready"):
            counts["unchanged"] += 1
            continue
        outcome: Outcome = await reconcile(runtime, storage, obj.key)
        counts[outcome.action] += 1
    for uri in known.keys() - seen:
        outcome = await reconcile(runtime, storage, uri.removeprefix(prefix))
        counts[outcome.action] += 1
    return dict(counts)
