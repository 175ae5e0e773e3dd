"""For stores that send no events (Hetzner Object Storage): list, compare, reconcile.

Also the durable retry of ingestion and how a bulk upload (thousands of files at once) is
taken in. Objects are reconciled ``CONCURRENCY`` (8) at a time: while one document is parsed
or written, another's chunks are embedded, and the local model embeds the chunks of
documents waiting together in one batch (parley bench ingest shows the share of time the
model works). Each reconcile holds one pooled connection, so the rest of the pool stays
for the chat path.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from shared.db import documents
from shared.ingest.pipeline import Outcome, reconcile
from shared.runtime import Runtime
from shared.storage import keys
from shared.storage.base import Storage

CONCURRENCY = 8


async def poll(runtime: Runtime, storage: Storage) -> dict[str, int]:
    """Ingest what is new or changed by ETag, remove what is gone; returns counts by action."""
    prefix = storage.uri("")
    async with runtime.db.connection() as conn:
        known = await documents.known_under(conn, prefix=prefix)
    counts: Counter[str] = Counter()
    seen: set[str] = set()
    todo: list[str] = []
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
        todo.append(obj.key)
    todo += [uri.removeprefix(prefix) for uri in known.keys() - seen]
    await _reconcile_all(runtime, storage, todo, counts)
    return dict(counts)


async def _reconcile_all(
    runtime: Runtime, storage: Storage, todo: list[str], counts: Counter[str]
) -> None:
    """Reconcile every key, ``CONCURRENCY`` at a time; the first failure stops the rest."""
    pending = iter(todo)

    async def worker() -> None:
        for key in pending:  # one iterator: each key is taken by one worker
            outcome: Outcome = await reconcile(runtime, storage, key)
            counts[outcome.action] += 1

    workers = [asyncio.create_task(worker()) for _ in range(min(CONCURRENCY, len(todo)))]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
