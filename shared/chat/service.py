"""From a visitor's question to a stored, explained answer.

Order of preference: the answer cache (exact, then by meaning), a FAQ above the bot's
confidence threshold (unless, not sure of it, the question asks about something the FAQ
never mentions and a passage does: then the documents), a FAQ in the grey zone below it that
the bot's LLM confirms (``shared.chat.faq_check``; without an LLM, one that fits better than
any passage), a generated answer grounded in retrieved passages (the bot's provider chain,
extractive included), and when nothing relevant exists, the best FAQ if its answer, too, is
the nearest to the question (``faq_match.answer_agrees``), else the bot's handoff text with
the FAQs the visitor may have meant (``faq_match.suggestions``). While a person handles the
conversation (handoff), the bot gives nothing: the question is stored for them. A ready
answer (cache, FAQ) costs three statements on one pooled connection: the caller's
(authenticated by the route), the FAQ match, and storing the exchange (a match held back for
words its FAQ lacks, one to three more). A generated one gives the connection back while the
model writes."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shared import metrics
from shared.cache import AnswerCache, CachedAnswer
from shared.chat import faq_check, spending, store, visitors
from shared.chat.sharing import shareable
from shared.chat.turn import Answer, ChatOutcome, Question, handoff_text
from shared.crypto import DecryptionError, TenantCipher
from shared.db import conversations
from shared.db.pool import Conn, Lease
from shared.embeddings.base import Calibration, Embedder, Vector, Vectors
from shared.errors import NotFoundError, UnauthorizedError
from shared.llm.base import ChatMessage, Generation, NotInSources
from shared.llm.chain import AllProvidersFailedError, OnToken, ProviderChain
from shared.llm.prompt import MAX_HISTORY_MESSAGES
from shared.logging import get_logger
from shared.privacy.detectors import BotPattern
from shared.rag.faq_match import (
    AnswerFit,
    FaqCandidate,
    FaqMatch,
    answer_agrees,
    bot_threshold,
    grey_zone_pick,
    match_faq,
    named_elsewhere,
    nearest_answer,
    offered_for_answer,
    suggestions,
    unmatched_words,
)
from shared.rag.retrieve import Passage, retrieve

log = get_logger("parley.chat")

Ciphers = Callable[[Conn, UUID], Awaitable[TenantCipher]]
Bot = dict[str, Any]
# Checks the caller again and counts the question against its limit (raising when refused);
# returns the bot as it now is.
Check = Callable[[Conn], Awaitable[Bot]]


@dataclass(frozen=True)
class _Early:
    """What a question needs first, begun before the caller's checks finish: the cached
    answer, or else the question's embedding under way."""

    cached: CachedAnswer | None
    vector: asyncio.Future[Vectors] | None  # one row
    begun_for: tuple[UUID, int, Embedder]  # the bot's id, knowledge base version, model

    @classmethod
    def begin(cls, cache: AnswerCache, bot: Bot, embedder: Embedder, text: str) -> _Early:
        begun_for = (bot["id"], bot["kb_version"], embedder)
        cached = cache.get(bot["id"], bot["kb_version"], text)
        if cached is not None:
            return cls(cached, None, begun_for)
        return cls(None, embedder.embed_soon([text]), begun_for)

    def holds_for(self, bot: Bot, embedder: Embedder) -> bool:
        """Whether what was begun is right for ``bot`` as it now is: the same knowledge base
        (what the cache holds for it) and the same model."""
        return self.begun_for == (bot["id"], bot["kb_version"], embedder)

    def cancel(self) -> None:
        if self.vector is None:
            return
        if not self.vector.done():
            self.vector.cancel()
        elif not self.vector.cancelled():
            self.vector.exception()  # a failure no one waits for now is not logged as lost


@dataclass(frozen=True)
class Lookup:
    answer: Answer | None  # ready: from the cache or the FAQ
    vector: Vector | None = None  # otherwise, what generating needs
    match: FaqMatch | None = None
    # A match above the threshold held back: the question's words its FAQ lacks, which the
    # passages may hold (shared.rag.faq_match.unmatched_words)
    unmatched: tuple[str, ...] = ()


class ChatService:
    def __init__(
        self,
        *,
        embedders: Callable[[Bot], Embedder],
        cache: AnswerCache,
        chain: ProviderChain,
        ciphers: Ciphers,
    ) -> None:
        self.embedders = embedders  # a bot's embedding model (runtime.embedder_for)
        self.cache = cache
        self.chain = chain
        self.ciphers = ciphers

    async def handle(
        self,
        lease: Lease,
        bot: Bot,
        question: Question,
        on_token: OnToken | None = None,
        *,
        check: Check | None = None,
    ) -> ChatOutcome:
        """``check``: checks the caller again and counts the question, while the question is
        embedded for ``bot`` as it was last seen (None: the route checked it, ``bot`` is
        current)."""
        started = time.perf_counter()
        embedder = self.embedders(bot)
        early = _Early.begin(self.cache, bot, embedder, question.text)
        try:
            if check is not None:
                bot = await check(await lease.conn())
                embedder = self.embedders(bot)
                if not early.holds_for(bot, embedder):
                    early.cancel()
                    early = _Early.begin(self.cache, bot, embedder, question.text)
            cipher = await self.ciphers(await lease.conn(), bot["tenant_id"])
            visitor_id, first_visit = _identify(cipher, bot["id"], question)
        except BaseException:
            early.cancel()  # refused: its embedding is not wanted
            raise
        token = visitors.issue_token(cipher, bot_id=bot["id"], visitor_id=visitor_id)
        turn = store.Turn(bot, question, visitor_id, token, cipher, started)

        lookup = await self._ready_answer(await lease.conn(), bot, embedder, question.text, early)
        if lookup.answer is not None:
            # Stored first (which also checks the conversation is theirs), then streamed.
            latency_ms = turn.elapsed_ms()
            stored = await store.save(await lease.conn(), turn, lookup.answer, latency_ms)
            outcome = store.outcome(turn, stored, lookup.answer, latency_ms)
            if outcome.answered:
                metrics.ANSWERS.labels(outcome.source).inc()
                await _emit(outcome.answer, on_token)
                self._share(turn, lookup.answer, stored, passages=[])
            return outcome
        assert lookup.vector is not None
        assert lookup.match is not None

        if first_visit and bot["daily_token_budget"] is None:
            # A visitor new with this question has no conversation, history or earlier try
            # stored, and without a daily budget the day's usage does not count: nothing to
            # read before the first token.
            context = conversations.TurnContext.first_question()
        else:
            context = await conversations.turn_context(
                await lease.conn(),
                bot_id=bot["id"],
                visitor_id=visitor_id,
                conversation_id=question.conversation_id,
                client_message_id=question.client_message_id,
                history=MAX_HISTORY_MESSAGES,
            )
        if context.prior is not None:  # a retry of a message already answered
            outcome = store.replayed(turn, context.prior)
            await _emit(outcome.answer, on_token)
            return outcome
        if question.conversation_id is not None and not context.owned:
            raise NotFoundError("conversation", question.conversation_id)
        if context.state != "bot":  # a person has it: theirs to answer
            stored = await store.save_for_person(await lease.conn(), turn)
            return store.outcome(turn, stored, Answer("", "none"), 0)
        calibration = embedder.calibration
        passages = await retrieve(
            await lease.conn(),
            bot_id=bot["id"],
            text=question.text,
            vector=lookup.vector,
            min_relevance=calibration.passage_relevance,
            indexed=bot["chunks_indexed"],
        )
        threshold = bot_threshold(bot, calibration)
        above = bool(lookup.unmatched)  # a match above the threshold, held back
        lacking, passages = await named_elsewhere(await lease.conn(), lookup.unmatched, passages)
        checked: faq_check.Checked | None = None
        if (
            not above
            and bot["check_faq_matches"]
            and faq_check.in_grey_zone(lookup.match, threshold, calibration.grey_floor)
        ):
            checked = await faq_check.check(
                chain=self.chain,
                cache=self.cache,
                lease=lease,
                bot=bot,
                question=question.text,
                match=lookup.match,
                names=self.chain.names(bot["llm_chain"], over_budget=_over_budget(bot, context)),
                withhold=_withheld(bot),
            )
        await lease.release()  # no connection is held while a model writes

        closest = [p.similarity for p in passages]
        closest_passage = max(closest) if closest else None
        admission: spending.Admission | None = None
        if checked is not None:  # the bot's LLM said which FAQ answers, if any
            grey, rule = checked.faq, "faq_checked"
            checks = {"checked_by": checked.provider or "answer_cache"}
        elif above:  # unless a passage holds what the question asks and the FAQ lacks
            grey = None if lacking else lookup.match.best
            rule, checks = "faq_above_threshold", {}
        else:  # offline: the FAQ fits better than anything the documents hold
            grey = grey_zone_pick(lookup.match, threshold, closest, calibration)
            rule, checks = "faq_grey_zone", {}
        if grey is not None:
            answer = _faq_answer(grey, lookup.match.confidence)
            answer.why = _why(
                rule,
                bot,
                calibration,
                lookup.match.confidence,
                closest_passage=closest_passage,
                **checks,
            )
            await _emit(answer.text, on_token)
        else:
            history = _decrypt(cipher, context.history)
            answer, admission = await self._generate(
                lease, bot, question.text, history, passages, lookup.match, context, on_token
            )
            fit = None
            if answer.source == "fallback" and not answer.error and not above and checked is None:
                # about to hand over, with no LLM's verdict on the FAQs and no match held
                # back for the documents: the best FAQ answers if its answer agrees, and the
                # FAQ whose answer is nearest may be offered
                fit = await nearest_answer(embedder, lookup.match, lookup.vector)
            agreeing = answer_agrees(fit, calibration)
            if agreeing is not None:
                answer = _faq_answer(agreeing.candidate, lookup.match.confidence)
                answer.why = _why(
                    "faq_answer_agrees",
                    bot,
                    calibration,
                    lookup.match.confidence,
                    answer_similarity=round(agreeing.similarity, 4),
                    closest_passage=closest_passage,
                )
            else:
                rule = "documents" if answer.source == "rag" else "no_answer"
                answer.why = _why(
                    "spending_cap" if admission is not None and admission.capped else rule,
                    bot,
                    calibration,
                    lookup.match.confidence if lookup.match.best else None,
                    closest_passage=closest_passage,
                    error="providers_failed" if answer.error else None,
                    faq_check="none" if checked is not None else None,
                    faq_lacks=lacking,
                    **_offers(answer, lookup.match, calibration, checked, fit),
                    **checks,
                    **(answer.why or {}),  # what the generation adds (personal data withheld)
                )
            if answer.source != "rag":  # a generated answer streamed as it was written
                await _emit(answer.text, on_token)
        answer.vector = lookup.vector
        latency_ms = turn.elapsed_ms()
        stored = await store.save(await lease.conn(), turn, answer, latency_ms, streamed=True)
        if admission is not None:  # the real cost is stored: what was held is released
            await spending.settle(
                await lease.conn(), bot_id=bot["id"], admission=admission, cost_usd=answer.cost_usd
            )
        if checked is not None and stored.prior is None:
            faq_check.remember(self.cache, bot, question.text, checked, stored.conversation_id)
        self._share(turn, answer, stored, passages)
        metrics.ANSWERS.labels(answer.source).inc()
        return store.outcome(turn, stored, answer, latency_ms)

    # ----- ready answers: the cache and the FAQ -------------------------------------

    async def _ready_answer(
        self, conn: Conn, bot: Bot, embedder: Embedder, text: str, early: _Early
    ) -> Lookup:
        """An answer that needs no generating, if there is one; else what was learnt."""
        bot_id, version = bot["id"], bot["kb_version"]
        metrics.CACHE.labels("hit" if early.cached is not None else "miss").inc()
        if early.cached is not None:
            return Lookup(_from_cache(early.cached))
        assert early.vector is not None
        vector = (await early.vector)[0]
        calibration = embedder.calibration
        match = await match_faq(
            conn,
            bot_id=bot_id,
            text=text,
            vector=vector,
            indexed=bot["faqs_indexed"],
            calibration=calibration,
        )
        best = match.best
        threshold = bot_threshold(bot, calibration)
        if best is not None and match.confidence >= threshold:
            unmatched = await unmatched_words(
                conn, bot=bot, match=match, text=text, threshold=threshold, calibration=calibration
            )
            if unmatched:  # the passages decide (handle)
                return Lookup(None, vector, match, unmatched)
            answer = _faq_answer(best, match.confidence)
            answer.why = _why("faq_above_threshold", bot, calibration, match.confidence)
            return Lookup(answer)
        similar = self.cache.get_similar(
            bot_id, version, text, vector, min_similarity=calibration.same_answer
        )
        if similar is not None:
            metrics.CACHE.labels("similar").inc()
            return Lookup(_from_cache(similar))
        return Lookup(None, vector, match)

    # ----- generated answers --------------------------------------------------------

    async def _generate(
        self,
        lease: Lease,
        bot: Bot,
        text: str,
        history: list[ChatMessage],
        passages: list[Passage],
        match: FaqMatch,
        context: conversations.TurnContext,
        on_token: OnToken | None,
    ) -> tuple[Answer, spending.Admission | None]:
        """The generated answer, and what was held against the bot's spending cap; a
        ``fallback`` answer (the handoff text) is left to the caller to send."""
        best = match.best
        confidence = match.confidence if best else None
        handoff = Answer(
            handoff_text(bot),
            "fallback",
            confidence=confidence,
            matched_question=best.question if best else None,
        )
        if not passages:
            return handoff, None
        over_budget = _over_budget(bot, context)
        if over_budget:
            log.warning("daily token budget reached; answering extractively", bot_id=str(bot["id"]))
        request = Generation(text, passages, history, bot["instructions"], bot["language"])
        names = self.chain.names(bot["llm_chain"], over_budget=over_budget)
        admission = await self._admit(lease, bot, request, names)
        if admission is not None and admission.capped:
            names = self.chain.names(bot["llm_chain"], over_budget=True)
        try:
            generated = await self.chain.generate(
                request,
                names=names,
                first_model=bot["llm_model"],
                on_token=on_token,
                withhold=_withheld(bot),
            )
        except NotInSources:  # read them, and they do not answer it (the offline answerer)
            return handoff, admission
        except AllProvidersFailedError as failed:
            log.error("every llm provider failed", bot_id=str(bot["id"]), errors=len(failed.errors))
            return Answer(handoff_text(bot), "fallback", error=str(failed)), admission
        answer = Answer(
            generated.text,
            "rag",
            confidence=confidence,
            sources=_sources(generated.passages),
            provider=generated.provider,
            model=generated.model,
            usage=generated.usage,
            ttft_ms=generated.ttft_ms,
            error="; ".join(generated.errors) or None,
            cost_usd=generated.cost_usd,
            personal=generated.personal,
        )
        if generated.withheld:
            answer.why = {"personal_data_withheld": generated.withheld}
        return answer, admission

    async def _admit(
        self, lease: Lease, bot: Bot, request: Generation, names: list[str]
    ) -> spending.Admission | None:
        """Hold the most this answer can cost against the bot's monthly cap (None: no cap,
        or nothing to pay for); the connection goes back before the model writes."""
        cap = spending.cap_of(bot, self.chain.prices)
        if cap is None:
            return None
        worst = self.chain.worst_cost_usd(request, names=names, first_model=bot["llm_model"])
        if worst <= 0:
            return None
        try:
            return await spending.admit(
                await lease.conn(), bot_id=bot["id"], worst_usd=worst, cap=cap
            )
        finally:
            await lease.release()

    def _share(
        self,
        turn: store.Turn,
        answer: Answer,
        stored: conversations.Stored,
        passages: list[Passage],
    ) -> None:
        """Keep the answer for other visitors, if it carries nothing of this one. Written
        after the answer is on its way (a JSON response: sent; a stream: every piece handed
        over), since the write takes 0.3-1.3 ms (``parley bench cache``); a failing write
        costs only the reuse."""
        question = turn.question
        if (
            stored.prior is not None
            or answer.error
            or answer.personal  # it holds a value of this visitor's, put back
            or not shareable(
                source=answer.source,
                question=question.text,
                answer=answer.text,
                sources=[p.text for p in passages],
                first_turn=question.conversation_id is None,
            )
        ):
            return
        put = functools.partial(
            self.cache.put,
            turn.bot["id"],
            turn.bot["kb_version"],
            question.text,
            CachedAnswer(
                answer=answer.text,
                source=answer.source,
                faq_id=str(answer.faq_id) if answer.faq_id else None,
                sources=answer.sources,
                matched_question=answer.matched_question,
                confidence=answer.confidence,
            ),
            conversation_id=stored.conversation_id,
            vector=answer.vector if answer.source == "rag" else None,
        )
        asyncio.get_running_loop().call_soon(_quietly, put)


def _quietly(write: Callable[[], None]) -> None:
    """A cache write after the answer went out: a failure is logged, not raised."""
    try:
        write()
    except Exception as exc:
        log.warning("answer cache write failed", exc_type=type(exc).__name__)


def _why(
    rule: str, bot: Bot, calibration: Calibration, confidence: float | None, **extra: Any
) -> dict[str, Any]:
    """What decided the answer's source: the rule, the FAQ match's confidence and the
    threshold it was held to (the bot's own or the default), and what else counted."""
    why: dict[str, Any] = {
        "rule": rule,
        "faq_confidence": None if confidence is None else round(confidence, 3),
        "threshold": bot_threshold(bot, calibration),
        "threshold_from": "default" if bot["faq_threshold"] is None else "bot",
    }
    why.update({k: round(v, 3) if isinstance(v, float) else v for k, v in extra.items() if v})
    return why


def _over_budget(bot: Bot, context: conversations.TurnContext) -> bool:
    """Whether the bot has used its daily token budget (then it answers extractively)."""
    budget = bot["daily_token_budget"]
    return budget is not None and context.tokens_today >= budget


def _withheld(bot: Bot) -> list[BotPattern] | None:
    """The bot's own kinds of personal data, when it withholds personal data from remote
    providers (the built-in kinds always count); None when it does not."""
    if not bot.get("withhold_personal_data", True):
        return None
    return [BotPattern(p["kind"], p["pattern"]) for p in bot.get("personal_data_patterns") or []]


def _offers(
    answer: Answer,
    match: FaqMatch,
    calibration: Calibration,
    checked: faq_check.Checked | None,
    fit: AnswerFit | None,
) -> dict[str, Any]:
    """``why``'s record of the FAQs offered with an answer the bot could not give (none when
    the bot's LLM has judged the match's FAQs and none answers): ``suggested``, and
    ``offered_for_answer`` when one is offered only because its answer is the nearest (with
    that answer's cosine)."""
    if answer.source != "fallback" or checked is not None:
        return {}
    offered = suggestions(match, calibration, fit)
    why: dict[str, Any] = {
        "suggested": [{"faq_id": str(c.faq_id), "question": c.question} for c in offered]
    }
    for_answer = offered_for_answer(match, calibration, fit)
    if for_answer is not None:
        why["offered_for_answer"] = {
            "faq_id": str(for_answer.candidate.faq_id),
            "answer_similarity": round(for_answer.similarity, 4),
        }
    return why


def _faq_answer(best: FaqCandidate, confidence: float) -> Answer:
    return Answer(
        best.answer,
        "faq",
        faq_id=best.faq_id,
        matched_question=best.question,
        confidence=confidence,
    )


def _identify(cipher: TenantCipher, bot_id: UUID, question: Question) -> tuple[str, bool]:
    """Whose question this is: a proven visitor, or a new one for a new conversation (then
    True: a visitor with nothing stored yet)."""
    proven = visitors.proven_visitor(
        cipher,
        bot_id=bot_id,
        visitor_id=question.visitor_id,
        token=question.visitor_token,
        trusted=question.trusted,
    )
    if proven is not None:
        return proven, False
    if question.conversation_id is not None:
        raise NotFoundError("conversation", question.conversation_id)
    if question.visitor_id is not None:
        raise UnauthorizedError(
            "visitor_token is missing or does not match visitor_id.", code="invalid_visitor_token"
        )
    return visitors.new_visitor_id(), True


def _decrypt(cipher: TenantCipher, rows: list[tuple[str, bytes]]) -> list[ChatMessage]:
    history = []
    for role, content in rows:
        try:
            text = cipher.decrypt(content)
        except DecryptionError:
            continue
        history.append(ChatMessage("user" if role == "user" else "assistant", text))
    return history


async def _emit(text: str, on_token: OnToken | None) -> None:
    """Send a ready answer as a short stream of word groups, like a generated one."""
    if on_token is None:
        return
    words = text.split(" ")
    for start in range(0, len(words), 8):
        piece = " ".join(words[start : start + 8])
        await on_token(piece if start == 0 else " " + piece)
        await asyncio.sleep(0)


def _from_cache(cached: CachedAnswer) -> Answer:
    return Answer(
        cached.answer,
        "cache",
        faq_id=UUID(cached.faq_id) if cached.faq_id else None,
        matched_question=cached.matched_question,
        confidence=cached.confidence,
        sources=cached.sources,
        why={"rule": "answer_cache", "first_from": cached.source},
    )


def _sources(passages: list[Passage]) -> list[dict[str, Any]]:
    return [
        {"title": p.label, "url": p.url, "document_id": str(p.document_id), "chunk_id": p.chunk_id}
        for p in passages
    ]
