"""GDPR requests from receipt to completion: erasure, export, resuming, expiring downloads.

Every request is recorded first (kind, keyed hash of the subject, deadline), with the
subject sealed under the tenant's key so that ``parley gdpr run`` can finish a request a
crash interrupted; the sealed copy is dropped when the request completes. A visitor whose
token did not prove the visitor id gets the same answer as a visitor Parley knows nothing
about: a completed request that touched nothing (recorded as not verified).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from shared.crypto import TenantCipher
from shared.db import gdpr
from shared.gdpr import erasure, export, tombstones
from shared.gdpr.offboarding import offboard
from shared.gdpr.receipts import Asked, receipt, zero_counts
from shared.gdpr.subjects import Subject
from shared.logging import get_logger
from shared.runtime import Runtime
from shared.storage import keys

log = get_logger("parley.gdpr")

# An export up to this size is the response itself; a larger one waits in storage.
INLINE_EXPORT_BYTES = 256 * 1024
EXPORT_TTL = timedelta(days=7)


async def _open(
    runtime: Runtime, kind: str, subject: Subject, asked: Asked
) -> tuple[TenantCipher, dict[str, Any]]:
    async with runtime.db.connection() as conn:
        cipher = await runtime.cipher(conn, subject.tenant_id)
        row = await gdpr.create_request(
            conn,
            tenant_id=subject.tenant_id,
            bot_id=subject.bot_id,
            kind=kind,
            subject_kind=subject.kind,
            subject_hash=subject.hash(cipher),
            subject_sealed=subject.seal(cipher) if asked.verified else None,
            requested_by=asked.by,
            verified=asked.verified,
        )
    return cipher, row


async def _complete(
    runtime: Runtime, request_id: UUID, counts: dict[str, int], **extra: Any
) -> dict[str, Any]:
    async with runtime.db.connection() as conn:
        return await gdpr.complete_request(conn, request_id=request_id, counts=counts, **extra)


async def erase(
    runtime: Runtime,
    subject: Subject,
    asked: Asked,
    *,
    after_archive_write: erasure.AfterWrite | None = None,
) -> dict[str, Any]:
    """Record and carry out an erasure; the request's row (still in progress when an
    attempt failed: ``resume`` finishes it)."""
    cipher, row = await _open(runtime, "erasure", subject, asked)
    if not asked.verified:
        return await _complete(runtime, row["id"], zero_counts())
    return await _finish_erasure(runtime, cipher, row, subject, after_archive_write)


async def _finish_erasure(
    runtime: Runtime,
    cipher: TenantCipher,
    row: dict[str, Any],
    subject: Subject,
    after_archive_write: erasure.AfterWrite | None = None,
) -> dict[str, Any]:
    counts = {**zero_counts(), **(row["counts"] or {})}
    try:
        async with runtime.db.connection() as conn:
            found = await erasure.find(runtime, conn, cipher, subject)
        await erasure.erase(
            runtime,
            cipher,
            found,
            counts,
            request_id=row["id"],
            after_archive_write=after_archive_write,
        )
        await tombstones.record(
            runtime.get_storage(),
            request_id=row["id"],
            tenant_id=subject.tenant_id,
            kind=subject.kind,
            subject_hash=subject.hash(cipher),
            erased_at=datetime.now(UTC),
        )
    except Exception as exc:  # the request stays in progress; only the error's type is kept
        error = type(exc).__name__
        log.warning("gdpr erasure interrupted", request_id=str(row["id"]), error=error)
        async with runtime.db.connection() as conn:
            await gdpr.note_error(conn, request_id=row["id"], error=error)
            current = await gdpr.get_request(conn, request_id=row["id"])
        assert current is not None
        return current
    done = await _complete(runtime, row["id"], counts)
    log.info("gdpr erasure completed", request_id=str(row["id"]), **counts)
    return done


async def export_data(
    runtime: Runtime, subject: Subject, asked: Asked
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Record and carry out an export: the request's row, and the document when it is small
    enough to answer inline (else it waits in storage for ``EXPORT_TTL``)."""
    cipher, row = await _open(runtime, "export", subject, asked)
    if asked.verified:
        async with runtime.db.connection() as conn:
            data, counts = await export.collect(runtime, conn, cipher, subject)
    else:
        data, counts = export.empty(subject), zero_counts()
    body = json.dumps(data, ensure_ascii=False, default=str).encode()
    if len(body) <= INLINE_EXPORT_BYTES:
        done = await _complete(runtime, row["id"], counts)
        return done, {"request": receipt(done).model_dump(mode="json"), **data}
    key = keys.export_key(subject.tenant_id, row["id"])
    await runtime.get_storage().put(key, cipher.seal(body), "application/octet-stream")
    expires = datetime.now(UTC) + EXPORT_TTL
    done = await _complete(runtime, row["id"], counts, export_key=key, export_expires_at=expires)
    return done, None


async def read_export(runtime: Runtime, row: dict[str, Any]) -> dict[str, Any]:
    """A waiting export, decrypted."""
    async with runtime.db.connection() as conn:
        cipher = await runtime.cipher(conn, row["tenant_id"])
    blob, _ = await runtime.get_storage().get(row["export_key"])
    data: dict[str, Any] = json.loads(cipher.unseal(blob))
    return {"request": receipt(row).model_dump(mode="json"), **data}


async def resume(runtime: Runtime, *, idle_seconds: float = 300) -> list[dict[str, Any]]:
    """Finish every request a crash or an error left unfinished; their rows."""
    async with runtime.db.connection() as conn:
        pending = await gdpr.unfinished_requests(conn, idle_seconds=idle_seconds)
    finished = []
    for row in pending:
        if row["kind"] == "offboarding":
            tenant_id = UUID(bytes=bytes(row["subject_sealed"]))
            asked = Asked(row["requested_by"])
            finished.append(await offboard(runtime, tenant_id, asked, row=row))
        elif row["kind"] == "erasure":
            async with runtime.db.connection() as conn:
                cipher = await runtime.cipher(conn, row["tenant_id"])
            subject = Subject.unseal(cipher, bytes(row["subject_sealed"]))
            finished.append(await _finish_erasure(runtime, cipher, row, subject))
        else:  # an export cut short handed nothing out: the requester asks again
            async with runtime.db.connection() as conn:
                await gdpr.abandon_request(conn, request_id=row["id"], error="interrupted")
    return finished


async def purge_exports(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Delete the exports whose download time is over; how many."""
    async with runtime.db.connection() as conn:
        expired = await gdpr.expired_exports(conn, now=now or datetime.now(UTC))
    for row in expired:
        await runtime.get_storage().delete(row["export_key"])
        async with runtime.db.connection() as conn:
            await gdpr.forget_export(conn, request_id=row["id"])
    return len(expired)
