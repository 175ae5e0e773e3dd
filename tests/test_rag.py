"""Embeddings, the recorded model, FAQ matching, chunking and the extractive answerer."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import numpy as np
import pytest

from shared.cache import AnswerCache, CachedAnswer
from shared.embeddings.base import Calibration, Embedder
from shared.embeddings.local import LocalEmbedder
from shared.languages import TEXT_SEARCH
from shared.llm.base import Deadlines, Generation, NotInSources
from shared.llm.extractive import ExtractiveProvider, extract_answer
from shared.rag.chunk import chunk_markdown
from shared.rag.faq_match import LEXICAL_WEIGHT, FaqCandidate, confidence, threshold_for
from shared.rag.index import EmbeddingModelMismatchError, check_embedding_model, reindex
from shared.rag.retrieve import Passage

# A match_rows limit that returns every candidate FAQ, not only the best few
EVERY_CANDIDATE = 10_000


async def test_concurrent_questions_are_embedded_in_one_batch(embedder):
    local: LocalEmbedder = embedder.inner
    calls: list[int] = []
    original = local.encode

    def counting(texts):
        calls.append(len(texts))
        return original(texts)

    local.encode = counting  # type: ignore[method-assign]
    try:
        texts = [f"question number {n} about parcels" for n in range(12)]
        vectors = await asyncio.gather(*(local.embed([t]) for t in texts))
    finally:
        del local.encode
    assert len(calls) < len(texts)  # batched, not one model call each
    for text, vector in zip(texts, vectors, strict=True):
        assert np.allclose(vector[0], original([text])[0], atol=1e-5)


async def test_a_question_dropped_while_it_waits_is_not_embedded(embedder):
    """GIVEN the model busy with one question, WHEN another waiting its turn is dropped (its
    caller was refused meanwhile), THEN the model never sees it."""
    local: LocalEmbedder = embedder.inner
    seen: list[str] = []
    original = local.encode

    def recording(texts):
        seen.extend(texts)
        return original(texts)

    local.encode = recording  # type: ignore[method-assign]
    try:
        first = local.embed_soon(["the question being embedded"])
        dropped = local.embed_soon(["the question dropped before its turn"])
        kept = local.embed_soon(["the question after it"])
        dropped.cancel()
        await asyncio.gather(first, kept)
    finally:
        del local.encode
    assert seen == ["the question being embedded", "the question after it"]


class FakeDim(Embedder):
    name = "test:other-model"
    dim = 8

    async def embed(self, texts):
        rows = np.ones((len(texts), self.dim), dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


async def test_another_embedding_model_is_refused_until_reindex(conn, embedder):
    await check_embedding_model(conn, embedder)
    await conn.execute("INSERT INTO tenants (slug, name) VALUES ('t', 'T');")
    with pytest.raises(EmbeddingModelMismatchError, match="parley reindex"):
        await check_embedding_model(conn, FakeDim())
    other = FakeDim()
    await reindex(conn, other, lambda bot: other)
    await check_embedding_model(conn, FakeDim())
    with pytest.raises(EmbeddingModelMismatchError):
        await check_embedding_model(conn, embedder)
    # a model that is not local is not re-embedded on its own, even where it could be
    with pytest.raises(EmbeddingModelMismatchError, match="parley reindex"):
        await check_embedding_model(conn, embedder, lambda bot: embedder)


async def test_another_local_model_re_embeds_the_knowledge_base_by_itself(runtime, conn, embedder):
    from shared.embeddings.cached import CachedEmbedder
    from tests.chat_fixtures import make_shop

    # GIVEN a shop embedded with the model in full precision (the PyTorch runner, and the
    # name every deployment recorded before the default runner's weights became 8-bit)
    shop = await make_shop(runtime)
    full = CachedEmbedder(LocalEmbedder())
    await reindex(conn, full, lambda bot: full)
    assert await check_embedding_model(conn, full) == 0

    async def stored() -> dict[str, np.ndarray]:
        cur = await conn.execute(
            "SELECT text, embedding FROM faq_phrasings WHERE bot_id = %s", (shop.bot_id,)
        )
        return {r["text"]: r["embedding"].to_numpy() for r in await cur.fetchall()}

    before = await stored()
    cur = await conn.execute("SELECT kb_version FROM bots WHERE id = %s", (shop.bot_id,))
    version = (await cur.fetchone())["kb_version"]
    # WHEN the deployment starts with the default runner
    count = await check_embedding_model(conn, embedder, runtime.embedder_for)
    # THEN every text is embedded again with it, the model is recorded, the bot's cached
    # answers are left behind, and the next start has nothing to do
    after = await stored()
    assert count >= len(after) > 0
    fresh = await embedder.embed(list(after))
    assert all(np.allclose(after[t], v, atol=1e-6) for t, v in zip(after, fresh, strict=True))
    assert not all(np.allclose(before[t], after[t], atol=1e-5) for t in after)
    cur = await conn.execute("SELECT kb_version FROM bots WHERE id = %s", (shop.bot_id,))
    assert (await cur.fetchone())["kb_version"] > version
    assert await check_embedding_model(conn, embedder, runtime.embedder_for) == 0
    assert await check_embedding_model(conn, embedder) == 0


def test_confidence_rewards_a_clear_winner_only_a_little():
    def cands(*scores):
        return [FaqCandidate(None, "q", "a", s) for s in scores]  # type: ignore[arg-type]

    assert confidence(cands(0.80, 0.79)) == pytest.approx(0.8025)
    assert confidence(cands(0.80, 0.20)) == pytest.approx(0.85)  # margin capped at 0.2
    # ... and at 0.2 x the spread of a model whose cosines crowd together (e5: 0.2)
    assert confidence(cands(0.80, 0.20), Calibration(spread=0.2)) == pytest.approx(0.81)
    assert confidence(cands(0.60)) == pytest.approx(0.65)
    assert confidence([]) == 0.0


def test_chunks_keep_their_heading_path_and_size():
    text = (
        "# Returns\n\nIntro line.\n\n## Refunds\n\n" + ("word " * 400) + "\n\n## Exchanges\n\nFree."
    )
    chunks = chunk_markdown(text)
    headings = [c.heading for c in chunks]
    assert headings[0] == "Returns"
    assert "Returns › Refunds" in headings
    assert headings[-1] == "Returns › Exchanges"
    assert max(len(c.text.split()) for c in chunks) <= 180 + 30


def test_extractive_answer_picks_the_sentences_that_fit():
    passage = (
        "Our store is in Berlin. Returns are free from Germany and Austria. "
        "From other countries, return shipping costs €6.90. We love hiking."
    )
    answer = extract_answer("How much does return shipping cost from Switzerland?", passage)
    assert answer.startswith("From other countries, return shipping costs €6.90.")
    assert len(extract_answer("Which word?", "word " * 500).split()) <= 71
    # no sentence shares a word with the question: no answer, not the first sentence
    assert extract_answer("When is customer service open?", passage) == ""


async def test_the_offline_answerer_reads_the_first_passage_that_fits_or_says_none_does():
    returns = Passage(1, uuid4(), "Returns", "", None, "Returns are free. We love hiking.", 0.6)
    sizes = Passage(2, uuid4(), "Sizes", "", None, "Our hiking boots run half a size small.", 0.5)
    provider = ExtractiveProvider()

    async def answer(question: str, *passages: Passage) -> str:
        request = Generation(question, passages)
        stream = provider.stream(request, model="extractive", max_tokens=100, deadlines=Deadlines())
        return "".join([item async for item in stream if isinstance(item, str)])

    # the best passage shares no word with the question; the second does, and is cited
    assert await answer("Do the boots run small?", returns, sizes) == (
        "Our hiking boots run half a size small. [2]"
    )
    assert (await answer("Are returns free?", returns, sizes)).endswith("[1]")
    with pytest.raises(NotInSources):
        await answer("When is customer service open?", returns, sizes)


# A table and the sentences after it, as the chunker flattens a Markdown section.
SHIPPING = (
    "| Destination | Standard | Express | | --- | --- | --- | "
    "| Germany | €4.90, 2–4 working days | €9.90, next working day | "
    "| Austria | €4.90, 2–4 working days | €14.90, 1–2 working days | "
    "| Switzerland, Norway, UK | from €14.90, 4–8 working days | not available | "
    "Standard shipping is free on orders over €50 to Germany and Austria. "
    "Bulky items (tents over 10 kg, canoes) ship by freight forwarder for a flat €29."
)


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        # the row that answers, read with its headers; the word every row has counts little
        (
            "Is express shipping available to the UK?",
            "Switzerland, Norway, UK — Standard: from €14.90, 4–8 working days;"
            " Express: not available",
        ),
        # the first row too (the header and rule rows before it are not read as a row)
        (
            "How quickly does express arrive in Germany?",
            "Germany — Standard: €4.90, 2–4 working days; Express: €9.90, next working day",
        ),
        (
            "What does express to Austria cost?",
            "Austria — Standard: €4.90, 2–4 working days; Express: €14.90, 1–2 working days",
        ),
        # "canoe" meets "canoes", "shipping" meets "ship"
        (
            "How much is shipping for a canoe?",
            "Bulky items (tents over 10 kg, canoes) ship by freight forwarder for a flat €29.",
        ),
    ],
)
def test_extractive_answer_reads_tables_by_row_and_weighs_rare_words(question, answer):
    assert extract_answer(question, SHIPPING) == answer


def test_extractive_answer_takes_the_negative_sentence_for_a_negative_question():
    passage = (
        "You may return unused items in their original condition within 30 days of delivery. "
        "Items that cannot be returned: personalised products and gift cards."
    )
    assert extract_answer("Which items can't be returned?", passage).startswith(
        "Items that cannot be returned"
    )
    assert extract_answer("Can I return unused items?", passage).startswith("You may return")


def test_extractive_answer_needs_more_than_one_word_of_a_longer_question_in_common():
    """GIVEN a passage whose sentences share one word with a question of several ("customer"
    and "custom"-length meet in the crude stem) or only a negation, THEN no answer (the bot
    hands over); two words in common, or one of a two-word question, are read out."""
    passage = (
        "Made-to-order items such as custom-length trekking poles take 5 extra working days. "
        "If your parcel has not arrived 10 working days after dispatch, contact us."
    )
    assert extract_answer("When is your customer service open?", passage) == ""
    assert extract_answer("My transfer did not go through.", passage) == ""
    assert extract_answer("Do custom-length poles take longer?", passage).startswith(
        "Made-to-order items such as custom-length trekking poles"
    )
    assert extract_answer("My parcel has not arrived", passage).startswith("If your parcel")
    # a table's row named by its first cell answers on its own
    assert extract_answer("How much is shipping to Norway?", SHIPPING).startswith(
        "Switzerland, Norway, UK — Standard: from €14.90"
    )
    returns = "You may return unused items in their original condition within 30 days."
    assert extract_answer("Can I return a canoe?", returns) == returns


VERSAND = (
    "| Ziel | Standard | Express | | --- | --- | --- | "
    "| Deutschland | 4,90 €, 2–4 Werktage | 9,90 €, nächster Werktag | "
    "| Österreich | 4,90 €, 2–4 Werktage | 14,90 €, 1–2 Werktage | "
    "Der Standardversand nach Deutschland und Österreich ist ab einem Bestellwert von 50 € "
    "kostenlos. Sperrige Artikel (Zelte über 10 kg, Kanus) verschicken wir per Spedition zum "
    "Pauschalpreis von 29 €."
)
RUECKGABE = (
    "Wenn etwas nicht passt, kannst du es zurückgeben. Du kannst unbenutzte Artikel innerhalb "
    "von 30 Tagen nach der Lieferung zurückgeben. Von der Rückgabe ausgeschlossen sind "
    "personalisierte Produkte, die Mundstücke von Trinkblasen und Gutscheine."
)


def test_extractive_answer_reads_a_german_bots_passages_in_german():
    """GIVEN German passages and a German bot, THEN words such as "der", "die" and "von" do
    not count, and a German negation is the question's: read as English, the first two
    questions got the free-shipping sentence, the third nothing, and the fourth a sentence it
    shares only "die" and "von" with."""
    assert extract_answer(
        "Was kostet der Versand nach Österreich?", VERSAND, language="de"
    ).startswith("Österreich — Standard: 4,90 €")
    assert extract_answer("Was kostet der Versand eines Kanus?", VERSAND, language="de") == (
        "Sperrige Artikel (Zelte über 10 kg, Kanus) verschicken wir per Spedition zum "
        "Pauschalpreis von 29 €."
    )
    assert extract_answer("Kann ich Gutscheine zurückgeben?", RUECKGABE, language="de") == (
        "Von der Rückgabe ausgeschlossen sind personalisierte Produkte, die Mundstücke von "
        "Trinkblasen und Gutscheine."
    )
    assert extract_answer("Was ist die Hauptstadt von Frankreich?", RUECKGABE, language="de") == ""
    assert extract_answer("Was ist die Hauptstadt von Frankreich?", RUECKGABE) != ""
    # a German negation is the question's, as "not" is in English
    hygiene = (
        "Ungeöffnete Hygieneartikel können innerhalb von 30 Tagen zurückgegeben werden. "
        "Geöffnete Hygieneartikel können nicht zurückgegeben werden."
    )
    assert (
        extract_answer("Welche Hygieneartikel kann ich nicht zurückgeben?", hygiene, language="de")
        == "Geöffnete Hygieneartikel können nicht zurückgegeben werden."
    )


def test_semantic_cache_hits_paraphrases_but_not_negations(tmp_path, embedder):
    import uuid

    cache = AnswerCache(tmp_path)
    bot = uuid.uuid4()
    local = embedder.inner

    def vec(text):
        return local.encode([text])[0]

    original = "Can I return items bought on sale?"
    cache.put(
        bot,
        1,
        original,
        CachedAnswer("Yes, sale items too.", "rag"),
        conversation_id=uuid.uuid4(),
        vector=vec(original),
    )
    hit = "can i return items i bought on sale"
    assert cache.get_similar(bot, 1, hit, vec(hit)) is not None
    for miss in (
        "Can't I return items bought on sale?",
        "Can I exchange items bought on sale?",
        "How long does shipping take?",
    ):
        assert cache.get_similar(bot, 1, miss, vec(miss)) is None, miss
    assert cache.get_similar(bot, 2, hit, vec(hit)) is None  # another KB version
    cache.close()


@pytest.mark.parametrize("provider", ["openai", "mistral"])
async def test_remote_embedding_providers_through_their_sdks(provider, fake_openai, fake_mistral):
    from shared.embeddings.mistral import MistralEmbedder
    from shared.embeddings.openai import OpenAIEmbedder

    if provider == "openai":
        remote: Embedder = OpenAIEmbedder("sk-emb", f"{fake_openai.url}/v1")
        fake = fake_openai
    else:
        remote = MistralEmbedder("ms-emb", fake_mistral.url)
        fake = fake_mistral
    try:
        vectors = await remote.embed(["parcel tracking", "tracking parcel", "refund money"])
    finally:
        await remote.aclose()
    assert vectors.shape == (3, 8)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert vectors[0] @ vectors[1] > 0.99
    assert vectors[0] @ vectors[2] < 0.9
    assert fake.requests[-1]["model"] == (
        "text-embedding-3-small" if provider == "openai" else "mistral-embed"
    )


async def test_the_match_returns_the_best_enabled_faqs_in_order_of_their_score(
    runtime, conn, embedder
):
    """The statement ranks every candidate (semantic score plus the weighted lexical rank,
    normalised by the best one) and returns the best ``limit``; a disabled FAQ is no
    candidate at all."""
    from shared.db import faqs
    from shared.rag.faq_match import match_faq
    from tests.chat_fixtures import make_shop

    shop = await make_shop(runtime)
    text = "Do you ship to Canada?"
    vector = (await embedder.embed([text]))[0]

    async def rows(limit: int) -> list[dict[str, Any]]:
        return await faqs.match_rows(
            conn,
            bot_id=shop.bot_id,
            text=text,
            vector=vector,
            lexical_weight=LEXICAL_WEIGHT,
            limit=limit,
        )

    every = await rows(EVERY_CANDIDATE)
    best_lexical = max(r["lexical"] for r in every)
    scores = [r["semantic"] + LEXICAL_WEIGHT * r["lexical"] / best_lexical for r in every]
    assert [r["score"] for r in every] == pytest.approx(sorted(scores, reverse=True))
    assert [r["score"] for r in every] == sorted((r["score"] for r in every), reverse=True)

    top = await rows(3)
    assert [r["id"] for r in top] == [r["id"] for r in every[:3]]
    assert top[0]["question"] == "Which countries do you ship to?"
    match = await match_faq(conn, bot_id=shop.bot_id, text=text, vector=vector, limit=3)
    assert [c.faq_id for c in match.candidates] == [r["id"] for r in top]
    # a model whose cosines crowd together weighs the full-text term by its spread
    crowded = await match_faq(
        conn,
        bot_id=shop.bot_id,
        text=text,
        vector=vector,
        limit=EVERY_CANDIDATE,
        calibration=Calibration(spread=0.2),
    )
    scaled = [r["semantic"] + 0.2 * LEXICAL_WEIGHT * r["lexical"] / best_lexical for r in every]
    assert [c.score for c in crowded.candidates] == pytest.approx(sorted(scaled, reverse=True))

    await conn.execute("UPDATE faqs SET enabled = false WHERE id = %s", (top[0]["id"],))
    after = await rows(EVERY_CANDIDATE)
    assert top[0]["id"] not in {r["id"] for r in after}
    assert len(after) == len(every) - 1
    assert [r["id"] for r in after][:2] == [r["id"] for r in every[1:3]]


async def test_full_text_ranks_the_rows_sharing_a_word_and_only_those(runtime, conn, embedder):
    """Both searches (FAQ phrasings, document chunks) rank by the question's words once per
    question: rows sharing a word get a rank, others 0, and a question of stop words only
    still gets FAQs scored (by meaning alone)."""
    from shared.db import chunks, faqs
    from tests.chat_fixtures import make_shop

    shop = await make_shop(runtime)
    text = "Do you ship to Canada?"
    vector = (await embedder.embed([text]))[0]
    rows = await faqs.match_rows(
        conn,
        bot_id=shop.bot_id,
        text=text,
        vector=vector,
        lexical_weight=LEXICAL_WEIGHT,
        limit=EVERY_CANDIDATE,
    )
    lexical = {r["question"]: r["lexical"] for r in rows}
    assert lexical["Which countries do you ship to?"] > 0
    assert lexical["How long do I have to return an item?"] == 0
    passages = await chunks.search(conn, bot_id=shop.bot_id, text=text, vector=vector, limit=50)
    assert passages
    cur = await conn.execute(
        "SELECT id, tsv @@ to_tsquery('english', 'ship | canada') AS shares FROM chunks"
        " WHERE bot_id = %s",
        (shop.bot_id,),
    )
    shares = {r["id"]: r["shares"] for r in await cur.fetchall()}
    assert any(shares.values())
    assert not all(shares.values())
    assert all((r["lex"] > 0) == shares[r["id"]] for r in passages)

    quiet = "Is it what you do?"  # English stop words only: no full-text query at all
    vector = (await embedder.embed([quiet]))[0]
    rows = await faqs.match_rows(
        conn,
        bot_id=shop.bot_id,
        text=quiet,
        vector=vector,
        lexical_weight=LEXICAL_WEIGHT,
        limit=EVERY_CANDIDATE,
    )
    assert rows  # the FAQs of the nearest phrasings, by meaning alone
    assert all(r["lexical"] == 0 for r in rows)
    found = await chunks.search(conn, bot_id=shop.bot_id, text=quiet, vector=vector, limit=5)
    assert len(found) == 5


def test_the_default_threshold_reads_the_models_points_by_phrasings_per_faq():
    points = Calibration(faq_threshold=0.75, threshold_by_phrasings=((3, 0.75), (8, 0.70)))
    assert threshold_for(0.9, points, 30.0) == 0.9  # the bot's own wins
    assert threshold_for(None, points, None) == 0.75  # not counted yet
    assert threshold_for(None, points, 1.0) == 0.75  # flat below the first point
    assert threshold_for(None, points, 5.5) == pytest.approx(0.725)  # between, linearly
    assert threshold_for(None, points, 40.0) == 0.70  # flat past the last
    assert threshold_for(None, Calibration(faq_threshold=0.8), 40.0) == 0.8  # none measured


@pytest.mark.parametrize("language", sorted(TEXT_SEARCH))
def test_extractive_answer_reads_every_bot_language(language):
    """Every language a bot may have has its stop words, stemmer and negations: a passage
    that repeats the question is read out."""
    question = "Paket Lieferung Versand Zelt"
    assert extract_answer(question, f"{question}.", language=language) == f"{question}."
