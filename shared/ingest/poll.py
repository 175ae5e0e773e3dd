"""For stores that send no events (Hetzner Object Storage): list, compare, reconcile."""

from __future__ import annotations

from collections import Counter

from shared.ingest.pipeline import Outcome, reconcile
from shared.runtime import Runtime
from shared.storage.base import Storage


async def poll(runtime: Runtime, storage: Storage) -> dict[str, int]:
    """Ingest what is new or changed by ETag, remove what is gone; returns counts by action."""
    prefix = storage.uri("")
    async with runtime.db.connection() as conn:
        cur = await conn.execute(
            "SELECT source_uri, etag, status FROM documents WHERE starts_with(source_uri, %s)",
            (prefix,),
        )
        known = {r["source_uri"]: (r["etag"], r["status"]) for r in await cur.fetchall()}
    counts: Counter[str] = Counter()
    seen: set[str] = set()
    async for obj in storage.list():
        if obj.key.startswith("archives/"):
            continue  # Parley's own chat-log archives are not knowledge
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
