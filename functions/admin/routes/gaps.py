"""Knowledge gaps: GET …/gaps (grouped by meaning), POST …/gaps/dismiss."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from functions.admin.routes.conversations import period_of
from functions.admin.routes.scope import scoped_bot
from functions.admin.schemas import Ok
from shared.auth.access import TENANT_USER
from shared.db import analytics
from shared.gaps import knowledge_gaps, question_hash
from shared.http.context import get_runtime
from shared.http.endpoints import Endpoint, RequestModel, read_json
from shared.http.params import respond


class Taken(BaseModel):
    faq_id: UUID
    count: int  # how often
    phrasings: list[str]  # the group's phrasings whose visitors took it


class Gap(BaseModel):
    question: str  # the group's most frequent phrasing
    phrasings: list[str]
    count: int
    reasons: dict[str, int]  # not_answered, thumbs_down
    picked: list[Taken] = Field(
        default_factory=list,
        description="The FAQs visitors asking this took from those offered with the handoff"
        " text, most taken first: where those phrasings belong",
    )


class GapList(BaseModel):
    items: list[Gap]


class Dismiss(RequestModel):
    phrasings: Annotated[
        list[Annotated[str, Field(max_length=2000)]], Field(min_length=1, max_length=500)
    ]


async def list_gaps(request: Request) -> Response:
    runtime = get_runtime(request)
    since, until = period_of(request)
    async with runtime.db.connection() as conn:
        bot = await scoped_bot(conn, request)
        cipher = await runtime.cipher(conn, bot["tenant_id"])
        items = await knowledge_gaps(
            conn, cipher, runtime.embedder_for(bot), bot_id=bot["id"], since=since, until=until
        )
    return respond(GapList.model_validate({"items": items}))


async def dismiss_gap(request: Request) -> Response:
    runtime = get_runtime(request)
    body = await read_json(request, Dismiss, max_bytes=runtime.settings.max_body_bytes)
    async with runtime.db.connection() as conn:
        bot = await scoped_bot(conn, request)
        cipher = await runtime.cipher(conn, bot["tenant_id"])
        hashes = [question_hash(cipher, p) for p in body.phrasings]
        await analytics.dismiss(conn, bot_id=bot["id"], hashes=hashes)
    return respond(Ok())


ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/admin/bots/{bot_id}/gaps",
        list_gaps,
        "Questions not answered or given a thumbs-down, grouped by meaning (from, to)",
        TENANT_USER,
        response=GapList,
        tag="analytics",
    ),
    Endpoint(
        "POST",
        "/v1/admin/bots/{bot_id}/gaps/dismiss",
        dismiss_gap,
        "Stop listing these phrasings as a knowledge gap",
        TENANT_USER,
        body=Dismiss,
        response=Ok,
        tag="analytics",
    ),
]
