"""Bring one stored object into the knowledge base, exactly once in effect.

Events are hints, the bucket is the truth: for any key, :func:`reconcile` looks at what
is stored now and makes the index match — ingest it if new or changed (by ETag), delete
it if gone, do nothing if unchanged. Work on one key holds a transaction-level advisory
lock, so duplicate, out-of-order or concurrent events for that key all end in the same,
right state: one document with its current chunks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, TypeVar
from uuid import UUID

from shared import metrics
from shared.db import bots, chunks, documents, faqs
from shared.db.pool import Conn
from shared.errors import DatabaseUnavailableError
from shared.ingest.parse import MIME, Parsed, ParseError, parse
from shared.logging import get_logger
from shared.rag.index import embed_pending
from shared.runtime import Runtime
from shared.storage import keys
from shared.storage.base import Storage, StorageError

log = get_logger("parley.ingest")
T = TypeVar("T")
RETRIES = 4
BACKOFF = 0.2


@dataclass(frozen=True)
class Outcome:
    key: str
    action: str  # ingested, unchanged, removed, absent, failed, ignored
    document_id: UUID | None = None
    chunks: int = 0
    faqs: int = 0
    error: str | None = None
    retries: int = 0


class _Retries:
    def __init__(self) -> None:
        self.count = 0

    async def run(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """Retry transient storage errors with exponential back-off."""
        for attempt in range(RETRIES):
            try:
                return await call()
            except StorageError as exc:
                if not exc.transient or attempt == RETRIES - 1:
                    raise
                self.count += 1
                log.warning("transient storage error; retrying", what=what, attempt=attempt + 1)
                await asyncio.sleep(BACKOFF * 2**attempt)
        raise AssertionError("unreachable")


async def _target(conn: Conn, key: str) -> dict[str, Any] | None:
    slugs = keys.bot_of(key)
    if slugs is None:
        return None
    return await bots.bot_by_slugs(conn, tenant_slug=slugs[0], bot_slug=slugs[1])


async def reconcile(runtime: Runtime, storage: Storage, key: str) -> Outcome:
    """Make the index match what is stored at ``key`` now; retried on database outages."""
    if keys.is_internal(key):
        return Outcome(key, "ignored")  # Parley's own archives and bookkeeping
    with metrics.INGESTING.track_inprogress():
        outcome = await _reconcile_retrying(runtime, storage, key)
    metrics.INGESTED.labels(outcome.action).inc()
    return outcome


async def _reconcile_retrying(runtime: Runtime, storage: Storage, key: str) -> Outcome:
    retries = _Retries()
    for attempt in range(RETRIES):
        try:
            return await _reconcile(runtime, storage, key, retries)
        except DatabaseUnavailableError:
            if attempt == RETRIES - 1:
                raise
            retries.count += 1
            await asyncio.sleep(BACKOFF * 2**attempt)
        except StorageError as exc:
            return await _record_failure(runtime, storage, key, str(exc), retries.count)
    raise AssertionError("unreachable")


async def _reconcile(runtime: Runtime, storage: Storage, key: str, retries: _Retries) -> Outcome:
    uri = storage.uri(key)
    meta = await retries.run("head", lambda: storage.head(key))
    async with runtime.db.connection() as conn, conn.transaction():
        await documents.lock_source(conn, source_uri=uri)
        doc = await documents.by_source(conn, source_uri=uri)
        if meta is None:
            if doc is None:
                return Outcome(key, "absent", retries=retries.count)
            await documents.remove(conn, document_id=doc["id"])
            if doc["bot_id"]:
                await bots.bump_kb_version(conn, tenant_id=doc["tenant_id"], bot_id=doc["bot_id"])
            log.info("document removed", document_id=str(doc["id"]))
            return Outcome(key, "removed", doc["id"], retries=retries.count)
        if doc is not None and doc["etag"] == meta.etag and doc["status"] == "ready":
            return Outcome(key, "unchanged", doc["id"], retries=retries.count)

        target = await _target(conn, key)
        title = PurePosixPath(key).name
        mime = MIME.get(PurePosixPath(key).suffix.lower())
        document_id = await documents.begin_ingest(
            conn,
            tenant_id=target["tenant_id"] if target else None,
            bot_id=target["id"] if target else None,
            source_uri=uri,
            etag=meta.etag,
            title=title,
            mime=mime,
            size=meta.size,
            # A key that maps to no bot can only be a failed document (see _fail below).
            status="processing" if target else "failed",
        )
        if target is None:
            return await _fail(
                conn,
                document_id,
                key,
                retries,
                "the key maps to no bot: expected <tenant-slug>/<bot-slug>/<file>",
            )
        if meta.size > runtime.settings.max_upload_bytes:
            return await _fail(
                conn,
                document_id,
                key,
                retries,
                f"the file is larger than {runtime.settings.max_upload_bytes} bytes",
            )
        data, fetched = await retries.run("get", lambda: storage.get(key))
        try:
            parsed = await asyncio.to_thread(parse, key, data)
        except ParseError as exc:
            return await _fail(conn, document_id, key, retries, str(exc))
        count_chunks, count_faqs = await _index(runtime, conn, target, document_id, parsed)
        await documents.mark_ready(
            conn,
            document_id=document_id,
            etag=fetched.etag,
            title=parsed.title[:300],
            kind=parsed.kind,
            chunk_count=count_chunks,
        )
        await bots.bump_kb_version(conn, tenant_id=target["tenant_id"], bot_id=target["id"])
    log.info(
        "document ingested",
        document_id=str(document_id),
        chunks=count_chunks,
        faqs=count_faqs,
        retries=retries.count,
    )
    return Outcome(key, "ingested", document_id, count_chunks, count_faqs, retries=retries.count)


async def _index(
    runtime: Runtime, conn: Conn, target: dict[str, Any], document_id: UUID, parsed: Parsed
) -> tuple[int, int]:
    """Replace the document's chunks, or its FAQs for a FAQ file; embeddings included."""
    generated = await faqs.delete_from_document(conn, document_id=document_id)
    embedder = runtime.embedder_for(target)
    if parsed.faqs:
        await chunks.replace_chunks(conn, document_id=document_id, bot_id=target["id"], chunks=[])
        await faqs.create_faqs(
            conn,
            tenant_id=target["tenant_id"],
            bot_id=target["id"],
            entries=parsed.faqs,
            document_id=document_id,
            generated=generated,  # the same question keeps its paraphrases, not bought again
        )
        await embed_pending(conn, embedder, bot_id=target["id"])
        return 0, len(parsed.faqs)
    vectors = await embedder.embed_documents([f"{c.heading}\n{c.text}" for c in parsed.chunks])
    count = await chunks.replace_chunks(
        conn, document_id=document_id, bot_id=target["id"], chunks=parsed.chunks, vectors=vectors
    )
    return count, 0


async def _fail(conn: Conn, document_id: UUID, key: str, retries: _Retries, reason: str) -> Outcome:
    await documents.mark_failed(conn, document_id=document_id, reason=reason)
    log.warning("document failed", document_id=str(document_id), reason=reason)
    return Outcome(key, "failed", document_id, error=reason, retries=retries.count)


async def _record_failure(
    runtime: Runtime, storage: Storage, key: str, reason: str, retries: int
) -> Outcome:
    """A failure that rolled the work back (storage kept failing): keep it visible."""
    uri = storage.uri(key)
    async with runtime.db.connection() as conn:
        target = await _target(conn, key)
        document_id = await documents.record_failure(
            conn,
            tenant_id=target["tenant_id"] if target else None,
            bot_id=target["id"] if target else None,
            source_uri=uri,
            title=PurePosixPath(key).name,
            reason=reason,
        )
    log.warning("document failed", key_name=PurePosixPath(key).name, reason=reason)
    return Outcome(key, "failed", document_id, error=reason, retries=retries)
