"""A bot's documents: upload (stored, then ingested), list with status, retry, delete."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from functions.admin.routes.scope import scoped_bot
from functions.admin.schemas import Ok, Page
from shared.auth.access import TENANT_USER
from shared.db import bots, documents, tenants
from shared.errors import NotFoundError, PayloadTooLargeError, ValidationError
from shared.http.context import get_runtime
from shared.http.endpoints import Endpoint
from shared.http.params import page_of, paging, path_uuid, respond
from shared.ingest.parse import MIME
from shared.ingest.pipeline import reconcile
from shared.runtime import Runtime
from shared.storage import keys


class Document(BaseModel):
    id: UUID
    bot_id: UUID | None
    source_uri: str
    title: str
    mime: str | None
    kind: str
    status: str
    error: str | None
    attempts: int
    chunk_count: int
    size_bytes: int | None
    created_at: datetime
    updated_at: datetime
    indexed_at: datetime | None


async def _bot(request: Request) -> dict[str, Any]:
    async with get_runtime(request).db.connection() as conn:
        return await scoped_bot(conn, request)


async def _document(runtime: Runtime, bot: dict[str, Any], doc_id: UUID) -> dict[str, Any]:
    async with runtime.db.connection() as conn:
        return await documents.get_document(
            conn, tenant_id=bot["tenant_id"], bot_id=bot["id"], document_id=doc_id
        )


def _key_of(runtime: Runtime, uri: str) -> str | None:
    prefix = runtime.get_storage().uri("")
    return uri.removeprefix(prefix) if uri.startswith(prefix) else None


async def list_documents(request: Request) -> Response:
    bot = await _bot(request)
    limit, offset = paging(request)
    async with get_runtime(request).db.connection() as conn:
        rows = await documents.list_documents(
            conn, tenant_id=bot["tenant_id"], bot_id=bot["id"], limit=limit, offset=offset
        )
    return page_of(Document, rows, limit, offset)


MAX_NAME = 200  # characters of a stored file name, its extension kept


def _safe_name(name: str) -> str:
    name = re.sub(r"[^\w.\- ]+", "_", name.rsplit("/", 1)[-1]).strip(" .")
    suffix = PurePosixPath(name).suffix
    if not name or suffix.lower() not in MIME:
        raise ValidationError(
            f"filename: use one of {', '.join(sorted(MIME))}", code="unsupported_file_type"
        )
    return name[: MAX_NAME - len(suffix)].rstrip(" .") + suffix if len(name) > MAX_NAME else name


async def upload_document(request: Request) -> Response:
    runtime = get_runtime(request)
    bot = await _bot(request)
    limit = runtime.settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 10_000:
        raise PayloadTooLargeError(f"The file is larger than {limit} bytes.")
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=5) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise ValidationError("file: send the document as the form field 'file'")
            name, data = upload.filename, await upload.read()
    else:
        name = request.query_params.get("filename", "")
        data = await request.body()
    if len(data) > limit:
        raise PayloadTooLargeError(f"The file is larger than {limit} bytes.")
    name = _safe_name(name)
    async with runtime.db.connection() as conn:
        tenant_slug = await tenants.tenant_slug(conn, tenant_id=bot["tenant_id"])
    key = keys.upload_key(tenant_slug, bot["slug"], name)
    storage = runtime.get_storage()
    await storage.put(key, data, MIME[PurePosixPath(name).suffix.lower()])
    outcome = await reconcile(runtime, storage, key)
    assert outcome.document_id is not None
    return respond(Document.model_validate(await _document(runtime, bot, outcome.document_id)), 201)


async def retry_document(request: Request) -> Response:
    runtime = get_runtime(request)
    bot = await _bot(request)
    doc = await _document(runtime, bot, path_uuid(request, "doc_id"))
    key = _key_of(runtime, doc["source_uri"])
    if key is None:
        raise ValidationError("This document does not come from storage; upload it again.")
    outcome = await reconcile(runtime, runtime.get_storage(), key)
    if outcome.action in ("removed", "absent"):
        raise NotFoundError("document", doc["id"])
    return respond(Document.model_validate(await _document(runtime, bot, doc["id"])))


async def delete_document(request: Request) -> Response:
    runtime = get_runtime(request)
    bot = await _bot(request)
    doc = await _document(runtime, bot, path_uuid(request, "doc_id"))
    key = _key_of(runtime, doc["source_uri"])
    if key is not None:
        await runtime.get_storage().delete(key)
        await reconcile(runtime, runtime.get_storage(), key)
    else:
        async with runtime.db.connection() as conn, conn.transaction():
            await documents.delete_document(conn, tenant_id=bot["tenant_id"], document_id=doc["id"])
            await bots.bump_kb_version(conn, tenant_id=bot["tenant_id"], bot_id=bot["id"])
    return respond(Ok())


ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/admin/bots/{bot_id}/documents",
        list_documents,
        "List a bot's documents with their ingestion status",
        TENANT_USER,
        response=Page[Document],
        tag="documents",
    ),
    Endpoint(
        "POST",
        "/v1/admin/bots/{bot_id}/documents",
        upload_document,
        "Upload a document (multipart field 'file', or a raw body with ?filename=)",
        TENANT_USER,
        response=Document,
        status_code=201,
        tag="documents",
    ),
    Endpoint(
        "POST",
        "/v1/admin/bots/{bot_id}/documents/{doc_id}/retry",
        retry_document,
        "Ingest a document again",
        TENANT_USER,
        response=Document,
        tag="documents",
    ),
    Endpoint(
        "DELETE",
        "/v1/admin/bots/{bot_id}/documents/{doc_id}",
        delete_document,
        "Delete a document from storage and the index",
        TENANT_USER,
        response=Ok,
        tag="documents",
    ),
]
