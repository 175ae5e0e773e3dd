"""What the bot would do with a question, stored nowhere: the dashboard's "Test a question".

The same steps as a visitor's first turn, minus the answer cache and the LLM: the FAQ match
against the bot's threshold (a match short of sure whose question names something only a
passage holds gives way to the documents: ``lacking``), else the FAQ if it is clearly closer
than any passage (the grey zone), else the passages retrieval finds (the bot would generate
from them; offline, from those the extractive answerer can read an answer from), else the
best FAQ if its answer, too, is the nearest to the question (``answer_similarity``), else
nothing (the handoff text, with the FAQs it would offer: ``suggested``). A bot whose chain
has an LLM first asks it about a grey-zone match (``shared.chat.faq_check``):
the preview asks nothing, shows what the offline rule decides, and says (``llm_check``) that
the LLM would be asked."""

from __future__ import annotations

from typing import Any

from shared.chat.faq_check import in_grey_zone
from shared.db.pool import Conn
from shared.embeddings.base import Embedder
from shared.llm.extractive import extract_answer
from shared.rag.faq_match import (
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
from shared.rag.retrieve import retrieve


async def preview(
    conn: Conn, embedder: Embedder, bot: dict[str, Any], text: str, *, has_llm: bool = False
) -> dict[str, Any]:
    """``has_llm``: the bot's provider chain has a remote LLM."""
    vector = await embedder.embed_one(text)
    calibration = embedder.calibration
    match = await match_faq(
        conn,
        bot_id=bot["id"],
        text=text,
        vector=vector,
        indexed=bot["faqs_indexed"],
        calibration=calibration,
    )
    threshold = bot_threshold(bot, calibration)
    candidates = [
        {"faq_id": c.faq_id, "question": c.question, "answer": c.answer, "score": round(c.score, 4)}
        for c in match.candidates
    ]
    passages: list[dict[str, Any]] = []
    lacking: list[str] = []
    above = match.best is not None and match.confidence >= threshold
    unmatched = (
        await unmatched_words(
            conn, bot=bot, match=match, text=text, threshold=threshold, calibration=calibration
        )
        if above
        else ()
    )
    if above and not unmatched:
        decision = "faq"
    else:
        found = await retrieve(
            conn,
            bot_id=bot["id"],
            text=text,
            vector=vector,
            min_relevance=calibration.passage_relevance,
            indexed=bot["chunks_indexed"],
        )
        passages = [
            {"title": p.label, "document_id": p.document_id, "similarity": round(p.similarity, 4)}
            for p in found
        ]
        closest = [p.similarity for p in found]
        if above:  # unless a passage holds what the question asks and the FAQ lacks
            lacking, _ = await named_elsewhere(conn, unmatched, found)
            decision = "documents" if lacking else "faq"
        elif grey_zone_pick(match, threshold, closest, calibration) is not None:
            decision = "faq"  # the grey zone: the FAQ is clearly closer than any passage
        else:
            readable = (
                found
                if has_llm
                else [p for p in found if extract_answer(text, p.text, language=bot["language"])]
            )
            decision = "documents" if readable else "not_answered"
    fit = await nearest_answer(embedder, match, vector) if decision == "not_answered" else None
    agreeing = answer_agrees(fit, calibration)
    if agreeing is not None:
        decision = "faq"
    handed_over = decision == "not_answered"
    for_answer = offered_for_answer(match, calibration, fit) if handed_over else None
    return {
        "decision": decision,
        "confidence": round(match.confidence, 4),
        "threshold": threshold,
        "faq": candidates[0] if decision == "faq" else None,
        "lacking": lacking,
        "answer_similarity": round(agreeing.similarity, 4) if agreeing else None,
        "suggested": [c.question for c in suggestions(match, calibration, fit)]
        if handed_over
        else [],
        "offered_for_answer": {
            "question": for_answer.candidate.question,
            "answer_similarity": round(for_answer.similarity, 4),
        }
        if for_answer
        else None,
        "llm_check": has_llm
        and bool(bot["check_faq_matches"])
        and in_grey_zone(match, threshold, calibration.grey_floor),
        "candidates": candidates,
        "passages": passages,
    }
