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
        etag, status = known.get(uri, (None, None))
        # Ready, or failed on this very content (a parse error: trying again cannot help;
        # the owner's retry can): unchanged. A storage failure kept the old ETag, so the
        # object is tried again here — the scheduler's poll is ingestion's durable retry.
        if etag == obj.etag and status in ("ready", "failed"):
            counts["unchanged"] += 1
            continue
        outcome: Outcome = await reconcile(runtime, storage, obj.key)
        counts[outcome.action] += 1
    for uri in known.keys() - seen:
        outcome = await reconcile(runtime, storage, uri.removeprefix(prefix))
        counts[outcome.action] += 1
    return dict(counts)
