"""FAQ matching: which stored answer fits a visitor's question, and how sure we are.

Chosen by measurement on BANKING77 (`parley bench faq`, figures in docs/faq-matching.md):
each FAQ is scored from all its phrasings (the question and every alternative) as
``0.5 * max cosine + 0.5 * mean cosine``, plus a small full-text term (Postgres
``ts_rank_cd`` in the bot's language, normalised by the best rank among the candidates,
weight 0.05) that breaks ties on rare words such as product names. The confidence is the
best score plus a quarter of its margin over the runner-up (the margin capped at 0.2),
within [0, 1]; the default threshold is the model's (``Calibration``: 0.75 for MiniLM in
full precision, 0.748 with the default runner's 8-bit weights). The FAQs scored are the
candidates that own the bot's phrasings nearest to the question or its best full-text
matches (every FAQ of a bot with up to 50 phrasings), found by an exact scan or, for a bot
with thousands, through indexes of its own (shared.db.bot_indexes); PostgreSQL scores and
ranks them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt

from shared.db import chunks, faqs
from shared.db.pool import Conn
from shared.embeddings.base import DEFAULT_CALIBRATION, Calibration, Embedder
from shared.rag.retrieve import Passage

LEXICAL_WEIGHT = 0.05
# The default model's; each model's own are its embedder's ``calibration``.
DEFAULT_THRESHOLD = DEFAULT_CALIBRATION.faq_threshold
# A clear winner is trusted a little more than a narrow one, but only a little: a shop's
# FAQs cover distinct topics, so even a poor match often leads its runner-up by far.
MARGIN_WEIGHT = 0.25
MARGIN_CAP = 0.20


@dataclass(frozen=True)
class FaqCandidate:
    faq_id: UUID
    question: str
    answer: str
    score: float


@dataclass(frozen=True)
class FaqMatch:
    candidates: list[FaqCandidate]  # best first, at most ``limit``
    confidence: float
    has_documents: bool = False  # the bot has documents (passages may say more)

    @property
    def best(self) -> FaqCandidate | None:
        return self.candidates[0] if self.candidates else None


async def match_faq(
    conn: Conn,
    *,
    bot_id: UUID,
    text: str,
    vector: npt.NDArray[np.float32],
    limit: int = 5,
    indexed: bool = False,
    calibration: Calibration = DEFAULT_CALIBRATION,
) -> FaqMatch:
    """The best FAQs for the question; ``indexed``: the bot has indexes of its own for its
    phrasings (``bots.faqs_indexed``); ``calibration``: the model's that embedded ``vector``
    (its ``spread`` scales the full-text term and the margin)."""
    rows = await faqs.match_rows(
        conn,
        bot_id=bot_id,
        text=text,
        vector=vector,
        lexical_weight=LEXICAL_WEIGHT * calibration.spread,
        limit=limit,
        indexed=indexed,
    )
    candidates = [
        FaqCandidate(r["id"], r["question"], r["answer"], float(r["score"])) for r in rows
    ]
    return FaqMatch(
        candidates,
        confidence(candidates, calibration),
        has_documents=bool(rows and rows[0]["has_documents"]),
    )


def threshold_for(
    bot_setting: float | None, calibration: Calibration, phrasings_per_faq: float | None = None
) -> float:
    """The bot's own FAQ threshold, or the embedding model's for FAQs with that many
    phrasings each: a visitor's question comes closer to one of a FAQ's many phrasings, so
    the same precision takes a lower threshold (docs/faq-matching.md)."""
    if bot_setting is not None:
        return float(bot_setting)
    points = calibration.threshold_by_phrasings
    if not points or phrasings_per_faq is None:
        return calibration.faq_threshold
    counts, thresholds = zip(*points, strict=True)
    return round(float(np.interp(phrasings_per_faq, counts, thresholds)), 3)


def bot_threshold(bot: Mapping[str, Any], calibration: Calibration) -> float:
    """The threshold a bot's FAQ matches are held to (:func:`threshold_for` its row)."""
    return threshold_for(bot["faq_threshold"], calibration, bot["phrasings_per_faq"])


async def unmatched_words(
    conn: Conn,
    *,
    bot: Mapping[str, Any],
    match: FaqMatch,
    text: str,
    threshold: float,
    calibration: Calibration,
) -> tuple[str, ...]:
    """For a match above ``threshold`` but short of sure (the calibration's ``faq_sure``), of
    a bot with documents: the question's words that neither the FAQ's answer nor any of the
    bot's FAQ phrasings holds. Such a match gives way to the documents when a passage holds
    one (:func:`named_elsewhere`). Nothing (and no statement) for any other match."""
    best = match.best
    if (
        best is None
        or not match.has_documents
        or not threshold <= match.confidence < max(threshold, calibration.faq_sure)
    ):
        return ()
    terms = await faqs.unmatched_terms(
        conn, bot_id=bot["id"], faq_id=best.faq_id, text=text, indexed=bot["faqs_indexed"]
    )
    return tuple(terms)


async def named_elsewhere(
    conn: Conn, unmatched: Sequence[str], passages: Sequence[Passage]
) -> tuple[list[str], list[Passage]]:
    """Those of ``unmatched`` that a relevant passage holds ("How much is shipping for a
    canoe?" matches "How much does shipping cost?", but only the shipping policy says
    anything about canoes), and the passages with those that hold them first: they lead the
    answer. No statement when there is nothing to look for."""
    if not unmatched or not passages:
        return [], list(passages)
    held = await chunks.held_terms(conn, chunk_ids=[p.chunk_id for p in passages], terms=unmatched)
    named = [term for term in unmatched if any(term in terms for terms in held.values())]
    return named, sorted(passages, key=lambda p: not held.get(p.chunk_id))


def grey_zone_pick(
    match: FaqMatch,
    threshold: float,
    passage_similarities: list[float],
    calibration: Calibration = DEFAULT_CALIBRATION,
) -> FaqCandidate | None:
    """The FAQ to answer with when the match is in the grey zone (the calibration's
    ``grey_floor`` up to ``threshold``) and leads the closest passage by its ``faq_lead``
    (docs/faq-matching.md); else None.

    Without passages there is nothing to compare with and the match stays unused: a FAQ-only
    bot keeps the threshold's precision."""
    best = match.best
    if best is None or not passage_similarities:
        return None
    if not calibration.grey_floor <= match.confidence < threshold:
        return None
    lead = match.confidence - max(passage_similarities)
    return best if lead >= calibration.faq_lead else None


@dataclass(frozen=True)
class AnswerFit:
    """The match's candidate whose *answer* is nearest to the question, and that cosine."""

    candidate: FaqCandidate
    similarity: float
    best: bool  # it is also the match's best FAQ


async def nearest_answer(
    embedder: Embedder, match: FaqMatch, vector: npt.NDArray[np.float32]
) -> AnswerFit | None:
    """Which of the match's candidates has the answer nearest to the question (``vector``);
    None without candidates or for a model whose calibration has neither ``answer_agrees``
    nor ``answer_offer`` (never measured: its answers are not embedded).

    For a question the bot would otherwise hand over: its words may be the answer's rather
    than any phrasing's ("Do you take Apple Pay?" against "We accept … Apple Pay …"). The
    answers are embedded as questions are, so the embedder's cache keeps them for the next
    time (docs/faq-matching.md)."""
    calibration = embedder.calibration
    unmeasured = calibration.answer_agrees is None and calibration.answer_offer is None
    if unmeasured or not match.candidates:
        return None
    answers = await embedder.embed([c.answer for c in match.candidates])
    similarities = answers @ np.asarray(vector, dtype=np.float32)
    nearest = int(np.argmax(similarities))
    return AnswerFit(match.candidates[nearest], float(similarities[nearest]), nearest == 0)


def answer_agrees(fit: AnswerFit | None, calibration: Calibration) -> AnswerFit | None:
    """``fit`` when its FAQ answers a question nothing else answers: the best FAQ, whose
    answer, too, is the nearest to the question, at the calibration's ``answer_agrees`` or
    more; else None."""
    floor = calibration.answer_agrees
    if fit is None or not fit.best or floor is None or fit.similarity < floor:
        return None
    return fit


def confidence(
    candidates: list[FaqCandidate], calibration: Calibration = DEFAULT_CALIBRATION
) -> float:
    if not candidates:
        return 0.0
    top = candidates[0].score
    runner_up = candidates[1].score if len(candidates) > 1 else 0.0
    margin = min(top - runner_up, MARGIN_CAP * calibration.spread)
    return float(min(1.0, max(0.0, top + MARGIN_WEIGHT * margin)))


# How many FAQs a visitor who got no answer is offered, at most.
MAX_SUGGESTIONS = 3


def suggestions(
    match: FaqMatch, calibration: Calibration = DEFAULT_CALIBRATION, fit: AnswerFit | None = None
) -> list[FaqCandidate]:
    """The FAQs a visitor whose question got no answer may have meant, best first: the
    match's candidates that reach the grey zone's floor (the best by its confidence, the
    others by their score), and the one whose answer is nearest to the question (``fit``)
    when that answer reaches the calibration's ``answer_offer`` and the match its
    ``offer_floor``; at most ``MAX_SUGGESTIONS``. Asking one of them is answered from its
    FAQ, so a near miss costs the visitor a click instead of the team an e-mail."""
    offered = _offered_by_phrasings(match, calibration)
    by_answer = offered_for_answer(match, calibration, fit)
    if by_answer is not None:
        offered = [*offered[: MAX_SUGGESTIONS - 1], by_answer.candidate]
    return offered


def offered_for_answer(
    match: FaqMatch, calibration: Calibration, fit: AnswerFit | None
) -> AnswerFit | None:
    """``fit`` when its FAQ is offered because its answer is the nearest to the question,
    where its phrasings alone would not offer it: that answer's cosine reaches the
    calibration's ``answer_offer`` and the match its ``offer_floor``; else None."""
    bar = calibration.answer_offer
    if fit is None or bar is None or fit.similarity < bar:
        return None
    if match.confidence < calibration.offer_floor:
        return None
    return None if fit.candidate in _offered_by_phrasings(match, calibration) else fit


def _offered_by_phrasings(match: FaqMatch, calibration: Calibration) -> list[FaqCandidate]:
    if match.best is None or match.confidence < calibration.grey_floor:
        return []
    offered = [match.best]
    offered += [c for c in match.candidates[1:] if c.score >= calibration.grey_floor]
    return offered[:MAX_SUGGESTIONS]
