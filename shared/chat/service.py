"""From a visitor's question to a stored, explained answer.

Order of preference: the answer cache (exact, then by meaning), a FAQ above the bot's
confidence threshold, a generated answer grounded in retrieved passages (the bot's LLM
chain, or the extractive answerer), and when nothing relevant exists, the bot's handoff
text. No database connection is held while a model generates.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt

from shared.auth.principal import Principal
from shared.cache import CachedAnswer
from shared.chat import visitors
from shared.chat.prompt import MAX_HISTORY_MESSAGES, build_messages, cited
from shared.crypto import DecryptionError, TenantCipher
from shared.db import conversations, usage
from shared.errors import NotFoundError, UnauthorizedError
from shared.llm.base import ChatMessage, LLMError, Usage
from shared.llm.extractive import extract_answer
from shared.llm.pricing import cost_usd
from shared.logging import get_logger
from shared.rag.faq_match import DEFAULT_THRESHOLD, match_faq
from shared.rag.retrieve import Passage, retrieve
from shared.runtime import Runtime

log = get_logger("parley.chat")

OnToken = Callable[[str], Awaitable[None]]
MAX_ANSWER_TOKENS = 400
HANDOFF = {
    "en": "I'm not sure about that one. Please contact our team, they will be glad to help.",
    "de": "Da bin ich mir nicht sicher. Bitte wenden Sie sich an unser Team, es hilft gern.",
}


@dataclass
class ChatInput:
    text: str
    conversation_id: UUID | None = None
    visitor_id: str | None = None
    visitor_token: str | None = None
    client_message_id: str | None = None
    channel: str = "widget"
    # A secret-key caller (a server) vouches for its own visitor ids; browsers need a token.
    trusted: bool = False

    @classmethod
    def from_caller(cls, principal: Principal, text: str, **fields: Any) -> ChatInput:
        """A question from this caller: a browser (publishable key) or a server."""
        return cls(
            text=text,
            channel="widget" if principal.credential == "publishable_key" else "api",
            trusted=principal.credential == "secret_key",
            **fields,
        )


@dataclass
class Answer:
    text: str
    source: str
    faq_id: UUID | None = None
    matched_question: str | None = None
    confidence: float | None = None
    passages: list[Passage] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    provider: str | None = None
    model: str | None = None
    usage: Usage = field(default_factory=lambda: Usage(0, 0))
    ttft_ms: int | None = None
    error: str | None = None
    question_vector: npt.NDArray[np.float32] | None = None


@dataclass
class ChatOutcome:
    conversation_id: UUID
    message_id: UUID
    answer: str
    source: str
    faq_id: UUID | None
    sources: list[dict[str, Any]]
    visitor_id: str
    visitor_token: str
    latency_ms: int

    def public(self) -> dict[str, Any]:
        """The API's response object (DESIGN.md §3)."""
        body: dict[str, Any] = {
            "conversation_id": str(self.conversation_id),
            "message_id": str(self.message_id),
            "answer": self.answer,
            "source": self.source,
            "sources": self.sources,
            "visitor_id": self.visitor_id,
            "visitor_token": self.visitor_token,
            "latency_ms": self.latency_ms,
        }
        if self.faq_id is not None:
            body["faq_id"] = str(self.faq_id)
        return body


def handoff_text(bot: dict[str, Any]) -> str:
    configured = (bot.get("display") or {}).get("handoff_text")
    return str(configured) if configured else HANDOFF.get(bot.get("language", "en"), HANDOFF["en"])


class ChatService:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def handle(
        self, bot: dict[str, Any], request: ChatInput, on_token: OnToken | None = None
    ) -> ChatOutcome:
        started = time.perf_counter()
        bot_id: UUID = bot["id"]
        async with self.runtime.db.connection() as conn:
            cipher = await self.runtime.cipher(conn, bot["tenant_id"])
            visitor_id = self._visitor(cipher, bot_id, request)
            token = visitors.issue_token(cipher, bot_id=bot_id, visitor_id=visitor_id)
            history: list[ChatMessage] = []
            if request.conversation_id is not None:
                owned = await conversations.get_owned_conversation(
                    conn,
                    bot_id=bot_id,
                    conversation_id=request.conversation_id,
                    visitor_id=visitor_id,
                )
                if owned is None:
                    raise NotFoundError("conversation", request.conversation_id)
                history = await self._history(conn, cipher, request.conversation_id)
            if request.client_message_id:
                stored = await conversations.find_reply(
                    conn,
                    bot_id=bot_id,
                    visitor_id=visitor_id,
                    client_message_id=request.client_message_id,
                )
                if stored is not None:
                    return await self._replay(stored, cipher, visitor_id, token, on_token)

        answer = await self.answer(bot, request.text, history, on_token)
        latency_ms = int((time.perf_counter() - started) * 1000)
        conversation_id, message_id = await self._store(
            bot, cipher, request, visitor_id, answer, latency_ms
        )
        self._remember(bot, request.text, answer, conversation_id)
        return ChatOutcome(
            conversation_id=conversation_id,
            message_id=message_id,
            answer=answer.text,
            source=answer.source,
            faq_id=answer.faq_id,
            sources=answer.sources,
            visitor_id=visitor_id,
            visitor_token=token,
            latency_ms=latency_ms,
        )

    # ----- identity and history -------------------------------------------------

    @staticmethod
    def _visitor(cipher: TenantCipher, bot_id: UUID, request: ChatInput) -> str:
        if request.visitor_id is None:
            if request.conversation_id is not None:
                raise NotFoundError("conversation", request.conversation_id)
            return visitors.new_visitor_id()
        if request.trusted or visitors.valid_token(
            cipher, bot_id=bot_id, visitor_id=request.visitor_id, token=request.visitor_token
        ):
            return request.visitor_id
        if request.conversation_id is not None:
            raise NotFoundError("conversation", request.conversation_id)
        raise UnauthorizedError(
            "visitor_token is missing or does not match visitor_id.", code="invalid_visitor_token"
        )

    @staticmethod
    async def _history(conn: Any, cipher: TenantCipher, conversation_id: UUID) -> list[ChatMessage]:
        rows = await conversations.recent_messages(
            conn, conversation_id=conversation_id, limit=MAX_HISTORY_MESSAGES
        )
        history = []
        for row in rows:
            try:
                text = cipher.decrypt(row["content_enc"])
            except DecryptionError:
                continue
            history.append(ChatMessage("user" if row["role"] == "user" else "assistant", text))
        return history

    @staticmethod
    async def _replay(
        stored: dict[str, Any],
        cipher: TenantCipher,
        visitor_id: str,
        token: str,
        on_token: OnToken | None,
    ) -> ChatOutcome:
        text = cipher.decrypt(stored["content_enc"])
        if on_token is not None:
            await on_token(text)
        return ChatOutcome(
            conversation_id=stored["conversation_id"],
            message_id=stored["id"],
            answer=text,
            source=stored["source"],
            faq_id=stored["faq_id"],
            sources=stored["sources"],
            visitor_id=visitor_id,
            visitor_token=token,
            latency_ms=stored["latency_ms"] or 0,
        )

    # ----- answering ----------------------------------------------------------------

    async def answer(
        self,
        bot: dict[str, Any],
        text: str,
        history: list[ChatMessage],
        on_token: OnToken | None = None,
    ) -> Answer:
        bot_id, version = bot["id"], bot["kb_version"]
        cache = self.runtime.get_cache()
        cached = cache.get(bot_id, version, text)
        if cached is not None:
            return await self._emit(_from_cache(cached), on_token)

        vector = await self.runtime.get_embedder().embed_one(text)
        async with self.runtime.db.connection() as conn:
            match = await match_faq(conn, bot_id=bot_id, text=text, vector=vector)
            threshold = bot["faq_threshold"]
            threshold = DEFAULT_THRESHOLD if threshold is None else threshold
            best = match.best
            if best is not None and match.confidence >= threshold:
                return await self._emit(
                    Answer(
                        best.answer,
                        "faq",
                        faq_id=best.faq_id,
                        matched_question=best.question,
                        confidence=match.confidence,
                    ),
                    on_token,
                )
            similar = cache.get_similar(bot_id, version, text, vector)
            if similar is not None:
                return await self._emit(_from_cache(similar), on_token)
            passages = await retrieve(conn, bot_id=bot_id, text=text, vector=vector)
            spent = await usage.tokens_today(conn, bot_id=bot_id)
        confidence = match.confidence if best else None
        if not passages:
            return await self._emit(
                Answer(
                    handoff_text(bot),
                    "fallback",
                    confidence=confidence,
                    matched_question=best.question if best else None,
                ),
                on_token,
            )
        budget = bot["daily_token_budget"]
        over_budget = budget is not None and spent >= budget
        answer = await self._generate(bot, text, history, passages, on_token, over_budget)
        answer.confidence = confidence
        answer.question_vector = vector
        return answer

    async def _generate(
        self,
        bot: dict[str, Any],
        text: str,
        history: list[ChatMessage],
        passages: list[Passage],
        on_token: OnToken | None,
        over_budget: bool,
    ) -> Answer:
        chain = list(bot["llm_chain"] or self.runtime.settings.llm_chain)
        if over_budget:
            log.warning("daily token budget reached; answering extractively", bot_id=str(bot["id"]))
            chain = ["extractive"]
        errors: list[str] = []
        for position, name in enumerate(chain):
            if name == "extractive":
                return await self._extractive(text, passages, on_token, errors)
            provider = self.runtime.get_provider(name)
            if provider is None or not self.runtime.breaker.available(name):
                continue
            model = (
                bot["llm_model"] if position == 0 and bot["llm_model"] else provider.default_model
            )
            messages = build_messages(
                instructions=bot["instructions"], passages=passages, history=history, question=text
            )
            pieces: list[str] = []
            started = time.perf_counter()
            ttft: int | None = None
            used = Usage(0, 0)
            try:
                async for item in provider.stream(
                    messages,
                    model=model,
                    max_tokens=MAX_ANSWER_TOKENS,
                    deadlines=self.runtime.deadlines,
                ):
                    if isinstance(item, Usage):
                        used = item
                        continue
                    if ttft is None:
                        ttft = int((time.perf_counter() - started) * 1000)
                    pieces.append(item)
                    if on_token is not None:
                        await on_token(item)
            except LLMError as exc:
                self.runtime.breaker.record_failure(name)
                log.warning("llm provider failed", provider=name, kind=exc.kind)
                errors.append(str(exc))
                if not pieces:
                    continue  # nothing shown yet: fall over to the next provider
            else:
                self.runtime.breaker.record_success(name)
            answer_text = "".join(pieces).strip()
            if not answer_text:
                errors.append(f"{name}: empty answer")
                continue
            used_passages = [passages[i] for i in cited(answer_text, len(passages))] or passages
            return Answer(
                answer_text,
                "rag",
                passages=used_passages,
                sources=_sources(used_passages),
                provider=name,
                model=model,
                usage=used,
                ttft_ms=ttft,
                error="; ".join(errors) or None,
            )
        log.error("every llm provider failed", bot_id=str(bot["id"]), errors=len(errors))
        return await self._emit(
            Answer(handoff_text(bot), "fallback", error="; ".join(errors) or "no provider"),
            on_token,
        )

    async def _extractive(
        self, text: str, passages: list[Passage], on_token: OnToken | None, errors: list[str]
    ) -> Answer:
        best = passages[0]
        extract = extract_answer(text, best.text)
        answer = Answer(
            f"{extract} [1]",
            "rag",
            passages=[best],
            sources=_sources([best]),
            provider="extractive",
            model="extractive",
            error="; ".join(errors) or None,
        )
        return await self._emit(answer, on_token)

    @staticmethod
    async def _emit(answer: Answer, on_token: OnToken | None) -> Answer:
        """Send a ready answer as a short stream of word groups, like a generated one."""
        if on_token is not None:
            words = answer.text.split(" ")
            for start in range(0, len(words), 8):
                piece = " ".join(words[start : start + 8])
                await on_token(piece if start == 0 else " " + piece)
                await asyncio.sleep(0)
        answer.ttft_ms = answer.ttft_ms or 0
        return answer

    # ----- storing ------------------------------------------------------------------

    async def _store(
        self,
        bot: dict[str, Any],
        cipher: TenantCipher,
        request: ChatInput,
        visitor_id: str,
        answer: Answer,
        latency_ms: int,
    ) -> tuple[UUID, UUID]:
        cost = cost_usd(answer.model or "", answer.usage.tokens_in, answer.usage.tokens_out)
        async with self.runtime.db.connection() as conn:
            # One statement: conversation, both messages and the FAQ's hit counter.
            conversation_id, message_id = await conversations.store_exchange(
                conn,
                tenant_id=bot["tenant_id"],
                bot_id=bot["id"],
                conversation_id=request.conversation_id,
                visitor_id=visitor_id,
                channel=request.channel,
                question_enc=cipher.encrypt(request.text),
                client_message_id=request.client_message_id,
                answer_enc=cipher.encrypt(answer.text),
                faq_hit=answer.source == "faq",
                source=answer.source,
                faq_id=answer.faq_id,
                matched_question=answer.matched_question,
                confidence=answer.confidence,
                provider=answer.provider,
                model=answer.model,
                latency_ms=latency_ms,
                ttft_ms=answer.ttft_ms,
                tokens_in=answer.usage.tokens_in,
                tokens_out=answer.usage.tokens_out,
                cost_usd=cost,
                sources=answer.sources,
                error=answer.error,
            )
            if answer.provider and answer.provider != "extractive":
                await usage.add_usage(
                    conn,
                    bot_id=bot["id"],
                    provider=answer.provider,
                    tokens_in=answer.usage.tokens_in,
                    tokens_out=answer.usage.tokens_out,
                    cost=cost,
                )
        return conversation_id, message_id

    def _remember(
        self, bot: dict[str, Any], question: str, answer: Answer, conversation_id: UUID
    ) -> None:
        if answer.source not in ("faq", "rag") or answer.error:
            return
        cached = CachedAnswer(
            answer=answer.text,
            source=answer.source,
            faq_id=str(answer.faq_id) if answer.faq_id else None,
            sources=answer.sources,
            matched_question=answer.matched_question,
            confidence=answer.confidence,
        )
        vector: npt.NDArray[np.float32] | None = None
        if answer.source == "rag":
            cache_embedder = self.runtime.get_embedder()
            vector = _cached_vector(cache_embedder, question)
        self.runtime.get_cache().put(
            bot["id"],
            bot["kb_version"],
            question,
            cached,
            conversation_id=conversation_id,
            vector=vector,
        )


def _cached_vector(embedder: Any, question: str) -> npt.NDArray[np.float32] | None:
    """The question's vector if the embedder still holds it (it embedded it moments ago)."""
    cache = getattr(embedder, "_cache", None)
    return cache.get(question) if cache is not None else None


def _from_cache(cached: CachedAnswer) -> Answer:
    return Answer(
        cached.answer,
        "cache",
        faq_id=UUID(cached.faq_id) if cached.faq_id else None,
        matched_question=cached.matched_question,
        confidence=cached.confidence,
        sources=cached.sources,
    )


def _sources(passages: list[Passage]) -> list[dict[str, Any]]:
    return [
        {"title": p.label, "url": p.url, "document_id": str(p.document_id), "chunk_id": p.chunk_id}
        for p in passages
    ]
