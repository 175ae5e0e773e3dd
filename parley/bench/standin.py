"""A stand-in LLM server speaking the OpenAI / Mistral wire protocol, on loopback.

Used by the test suite (through the real openai and mistralai SDKs) and by
``parley bench ttft``; it never talks to a real provider.

Both SDKs post to ``…/v1/chat/completions``; with ``"stream": true`` the answer comes as
server-sent events (``data: {chunk}`` lines, then ``data: [DONE]``), the last chunk with
``usage``. ``mode`` scripts failures: "ok", "500", "429", "quota" (a 429 saying
insufficient_quota), "hang", "slow" (a pause between tokens, to test disconnects), "cut"
(the connection drops after half the answer, with no final chunk). Every request is
recorded.

A grey-zone FAQ check (``shared.chat.faq_check``'s prompt) is recorded in ``checks`` instead
and answered with ``verdict`` at once: the failing modes ("500", "429", "quota", "hang") fail
it too, the others script only answers. With ``verdict`` None a check is served like any
other request.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class FakeLLM:
    answer: str = "You can return items within 30 days [1]."
    mode: str = "ok"
    delay: float = 0.0
    first_token_delay: float = 0.0
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # perf_counter() at each request
    completed: int = 0
    cancelled: int = 0

    # Repeat the visitor's question in the answer, as models often do ("You asked …").
    echo: bool = False

    verdict: str | None = "0"  # the reply to a grey-zone FAQ check ("0": none of them)
    checks: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        """Back to answering at once with no failures, and nothing recorded (a server kept
        between tests)."""
        self.mode, self.delay, self.echo, self.verdict = "ok", 0.0, False, "0"
        for recorded in (self.requests, self.headers, self.arrivals, self.checks):
            recorded.clear()
        self.completed = self.cancelled = 0

    def verdict_for(self, body: dict[str, Any]) -> str:
        """The reply to a grey-zone check (a bench's judge overrides it)."""
        return str(self.verdict)

    def text_for(self, body: dict[str, Any]) -> str:
        if not self.echo:
            return self.answer
        asked = [m["content"] for m in body.get("messages", []) if m.get("role") == "user"]
        return f"You asked: {asked[-1] if asked else ''} {self.answer}"

    def pieces(self, body: dict[str, Any] | None = None) -> list[str]:
        words = self.text_for(body or {}).split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)]

    async def completions(self, request: Request) -> Response:
        self.arrivals.append(time.perf_counter())
        body = await request.json()
        check = self.verdict is not None and _is_check(body)
        (self.checks if check else self.requests).append(body)
        self.headers.append(dict(request.headers))
        if self.mode == "500":
            return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, 500)
        if self.mode == "429":
            return JSONResponse(
                {"error": {"message": "slow down", "type": "rate_limit"}},
                429,
                headers={"retry-after": "1"},
            )
        if self.mode == "quota":  # OpenAI's billing stop, which is also a 429
            error = {"message": "You exceeded your current quota.", "type": "insufficient_quota"}
            return JSONResponse({"error": {**error, "code": "insufficient_quota"}}, 429)
        if self.mode == "hang":
            await asyncio.sleep(3600)
        if check:
            return _reply(body, self.verdict_for(body), stream=bool(body.get("stream")))
        pieces = self.pieces(body)
        model = body.get("model", "fake")
        usage = _usage(len(pieces))
        if not body.get("stream"):
            return JSONResponse(_completion(model, self.text_for(body), usage))

        async def events() -> AsyncIterator[str]:
            try:
                if self.first_token_delay:
                    await asyncio.sleep(self.first_token_delay)
                for n, piece in enumerate(pieces):
                    if self.mode == "cut" and n >= max(1, len(pieces) // 2):
                        raise ConnectionAbortedError("the stand-in drops the stream")
                    if self.mode == "slow" or self.delay:
                        await asyncio.sleep(self.delay or 0.2)
                    yield _event(_chunk(model, piece, first=n == 0))
                yield _event(_chunk(model, None, usage=usage))
                yield "data: [DONE]\n\n"
                self.completed += 1
            except asyncio.CancelledError:
                self.cancelled += 1
                raise

        return StreamingResponse(events(), media_type="text/event-stream")

    async def embeddings(self, request: Request) -> Response:
        """Deterministic 8-dimensional vectors: texts sharing words get similar vectors."""
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        inputs = body.get("input", body.get("inputs"))
        texts = [inputs] if isinstance(inputs, str) else inputs
        data = []
        for n, text in enumerate(texts):
            vector = [0.0] * 8
            for word in text.lower().split():
                vector[sum(map(ord, word)) % 8] += 1.0
            data.append({"object": "embedding", "index": n, "embedding": vector})
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", "fake"),
                "id": "emb-1",
                "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self.completions, methods=["POST"]),
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
            ]
        )


def _is_check(body: dict[str, Any]) -> bool:
    from shared.chat.faq_check import PROMPT

    messages = body.get("messages") or [{}]
    return bool(messages[0].get("content") == PROMPT)


def _usage(completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": 321,
        "completion_tokens": completion_tokens,
        "total_tokens": 321 + completion_tokens,
    }


def _completion(model: str, text: str, usage: dict[str, int]) -> dict[str, Any]:
    return {
        "id": "cmpl-1",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": text},
            }
        ],
        "usage": usage,
    }


def _chunk(
    model: str, piece: str | None, *, first: bool = False, usage: dict[str, int] | None = None
) -> dict[str, Any]:
    """A streamed piece of text, or (``piece`` None) the final chunk with the usage."""
    if piece is None:
        delta: dict[str, str] = {}
    else:
        delta = {"role": "assistant", "content": piece} if first else {"content": piece}
    chunk: dict[str, Any] = {
        "id": "cmpl-1",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "delta": delta, "finish_reason": "stop" if piece is None else None}
        ],
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def _event(chunk: dict[str, Any]) -> str:
    return f"data: {json.dumps(chunk)}\n\n"


def _reply(body: dict[str, Any], text: str, *, stream: bool) -> Response:
    """A whole reply at once: one piece, then the usage."""
    model = body.get("model", "fake")
    usage = _usage(1)
    if not stream:
        return JSONResponse(_completion(model, text, usage))
    events = [_event(_chunk(model, text, first=True)), _event(_chunk(model, None, usage=usage))]
    return Response("".join(events) + "data: [DONE]\n\n", media_type="text/event-stream")
