"""A bot's FAQs: create, edit, delete, list with search and paging, and bulk import.

Every change bumps the bot's knowledge-base version, which invalidates cached answers.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from functions.admin.routes.scope import scoped_bot
from functions.admin.schemas import (
    Faq,
    FaqCreate,
    FaqUpdate,
    ImportResult,
    Ok,
    Page,
    Preview,
    PreviewRequest,
)
from shared.auth.access import TENANT_USER
from shared.chat.preview import preview
from shared.db import bots, faqs
from shared.db.pool import Conn
from shared.errors import PayloadTooLargeError
from shared.faq_import import parse_faq_file
from shared.http.context import get_runtime
from shared.http.endpoints import Endpoint, read_json
from shared.http.params import page_of, paging, path_uuid, query_text, respond
from shared.rag.index import embed_pending
from shared.runtime import Runtime


async def knowledge_changed(conn: Conn, runtime: Runtime, bot: dict[str, Any]) -> None:
    """Embed the new phrasings and bump the KB version (invalidating cached answers)."""
    await embed_pending(conn, runtime.embedder_for(bot), bot_id=bot["id"])
    await bots.bump_kb_version(conn, tenant_id=bot["tenant_id"], bot_id=bot["id"])


async def list_faqs(request: Request) -> Response:
    limit, offset = paging(request)
    query = query_text(request, "q")
    async with get_runtime(request).db.connection() as conn:
        bot = await scoped_bot(conn, request)
        rows = await faqs.list_faqs(
            conn,
            tenant_id=bot["tenant_id"],
            bot_id=bot["id"],
            query=query,
            limit=limit,
            offset=offset,
        )
    return page_of(Faq, rows, limit, offset)


async def create_faq(request: Request) -> Response:
    runtime = get_runtime(request)
    body = await read_json(request, FaqCreate, max_bytes=runtime.settings.max_body_bytes)
    async with runtime.db.connection() as conn, conn.transaction():
        bot = await scoped_bot(conn, request)
        faq_id = await faqs.create_faq(
            conn,
            tenant_id=bot["tenant_id"],
            bot_id=bot["id"],
            question=body.question,
            alternatives=body.alternatives,
            answer=body.answer,
        )
        assert faq_id is not None
        if not body.enabled:
            await faqs.update_faq(
                conn,
                tenant_id=bot["tenant_id"],
                bot_id=bot["id"],
                faq_id=faq_id,
                changes={"enabled": False},
            )
        await knowledge_changed(conn, runtime, bot)
        row = await faqs.get_faq(conn, tenant_id=bot["tenant_id"], bot_id=bot["id"], faq_id=faq_id)
    return respond(Faq.model_validate(row), 201)


async def update_faq(request: Request) -> Response:
    runtime = get_runtime(request)
    body = await read_json(request, FaqUpdate, max_bytes=runtime.settings.max_body_bytes)
    async with runtime.db.connection() as conn, conn.transaction():
        bot = await scoped_bot(conn, request)
        row = await faqs.update_faq(
            conn,
            tenant_id=bot["tenant_id"],
            bot_id=bot["id"],
            faq_id=path_uuid(request, "faq_id"),
            changes=body.model_dump(exclude_unset=True),
        )
        await knowledge_changed(conn, runtime, bot)
    return respond(Faq.model_validate(row))


async def delete_faq(request: Request) -> Response:
    runtime = get_runtime(request)
    async with runtime.db.connection() as conn, conn.transaction():
        bot = await scoped_bot(conn, request)
        await faqs.delete_faq(
            conn, tenant_id=bot["tenant_id"], bot_id=bot["id"], faq_id=path_uuid(request, "faq_id")
        )
        await knowledge_changed(conn, runtime, bot)
    return respond(Ok())


async def import_faqs(request: Request) -> Response:
    """JSONL or CSV; validated whole first, then all imported in one transaction or none."""
    runtime = get_runtime(request)
    limit = runtime.settings.max_upload_bytes
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise PayloadTooLargeError(f"The file is larger than {limit} bytes.")
    entries = parse_faq_file(bytes(raw), request.headers.get("content-type", ""))
    async with runtime.db.connection() as conn, conn.transaction():
        bot = await scoped_bot(conn, request)
        await faqs.create_faqs(conn, tenant_id=bot["tenant_id"], bot_id=bot["id"], entries=entries)
        await knowledge_changed(conn, runtime, bot)
    return respond(ImportResult(imported=len(entries)), 201)


async def preview_question(request: Request) -> Response:
    """What the bot would do with a question (FAQ, documents or not answered); stores nothing."""
    runtime = get_runtime(request)
    body = await read_json(request, PreviewRequest, max_bytes=runtime.settings.max_body_bytes)
    async with runtime.db.connection() as conn:
        bot = await scoped_bot(conn, request)
        chain = runtime.get_chain()
        has_llm = bool(chain.remote(chain.names(bot["llm_chain"], over_budget=False)))
        result = await preview(conn, runtime.embedder_for(bot), bot, body.question, has_llm=has_llm)
    return respond(Preview.model_validate(result))


ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/admin/bots/{bot_id}/faqs",
        list_faqs,
        "List a bot's FAQs (q: search, limit, offset)",
        TENANT_USER,
        response=Page[Faq],
        tag="faqs",
    ),
    Endpoint(
        "POST",
        "/v1/admin/bots/{bot_id}/faqs",
        create_faq,
        "Add a FAQ",
        TENANT_USER,
        body=FaqCreate,
        response=Faq,
        status_code=201,
        tag="faqs",
    ),
    Endpoint(
        "PATCH",
        "/v1/admin/bots/{bot_id}/faqs/{faq_id}",
        update_faq,
        "Edit a FAQ",
        TENANT_USER,
        body=FaqUpdate,
        response=Faq,
        tag="faqs",
    ),
    Endpoint(
        "DELETE",
        "/v1/admin/bots/{bot_id}/faqs/{faq_id}",
        delete_faq,
        "Delete a FAQ",
        TENANT_USER,
        response=Ok,
        tag="faqs",
    ),
    Endpoint(
        "POST",
        "/v1/admin/bots/{bot_id}/faqs/import",
        import_faqs,
        "Import FAQs from JSONL or CSV (all or nothing; bad lines reported by number)",
        TENANT_USER,
        response=ImportResult,
        status_code=201,
        tag="faqs",
    ),
    Endpoint(
        "POST",
        "/v1/admin/bots/{bot_id}/preview",
        preview_question,
        "What the bot would do with a question: the decision, the matched FAQ and its"
        " confidence, the runners-up, the passages (nothing is stored)",
        TENANT_USER,
        body=PreviewRequest,
        response=Preview,
        tag="faqs",
    ),
]
