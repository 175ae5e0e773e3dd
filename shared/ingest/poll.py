"""For stores that send no events (Hetzner Object Storage): list, compare, reconcile.

Also the durable retry of ingestion and how a bulk upload (thousands of files at once) is
taken in. Objects are reconciled ``CONCURRENCY`` (16) at a time: while one document is
parsed or written, another's chunks are embedded, and the local model embeds the chunks of
documents waiting together in one batch (parley bench ingest shows the share of time the
model works: 10,000 small documents, three runs each, 54.2 documents/s with 8 at a time and
56.7 with 16). Each reconcile holds one pooled connection, so no more of them run at once
than the pool less ``RESERVED_CONNECTIONS``.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from shared.db import documents
from shared.ingest.pipeline import Outcome, reconcile
from shared.runtime import Runtime
from shared.storage import keys
from shared.storage.base import Storage

CONCURRENCY = 16
# Connections a poll always leaves to the rest of its process (the chat path in `parley
# serve`, the scheduler's other jobs): a reconcile holds its connection while its chunks are
# embedded. With the default pool (20) the poll takes 16 and leaves 4.
RESERVED_CONNECTIONS = 2


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
    """Reconcile every key, ``CONCURRENCY`` at a time (fewer with a small pool); the first
    failure stops the rest."""
    pending = iter(todo)

    async def worker() -> None:
        for key in pending:  # one iterator: each key is taken by one worker
            outcome: Outcome = await reconcile(runtime, storage, key)
            counts[outcome.action] += 1

    at_once = max(1, min(CONCURRENCY, runtime.db.max_size - RESERVED_CONNECTIONS, len(todo)))
    workers = [asyncio.create_task(worker()) for _ in range(at_once)]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
