"""A bot that grows past the size gets indexes of its own, retrieval through them returns
what the exact scan returns, and they go again when the bot shrinks (shared.db.bot_indexes)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from psycopg import sql

from shared.db import bot_indexes, bots, chunks, documents, faqs, tenants
from shared.rag.chunk import Chunk
from shared.rag.faq_match import LEXICAL_WEIGHT

WORDS = [
    "parcel",
    "refund",
    "invoice",
    "warranty",
    "canoe",
    "tent",
    "lantern",
    "voucher",
    "courier",
    "customs",
]
DIM = 384
# The chunks' line lowered so that little data crosses it.
SMALL = (replace(bot_indexes.CHUNKS, index_from=100, drop_below=50),)


def _corpus(rng: np.random.Generator, n: int) -> tuple[list[Chunk], np.ndarray]:
    """Chunks in ten topics: each topic's vectors lie near its centre and its texts use
    its word, so both rankings have something to find."""
    centres = rng.normal(size=(len(WORDS), DIM))
    topics = rng.integers(0, len(WORDS), size=n)
    vectors = centres[topics] + 0.8 * rng.normal(size=(n, DIM))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = [f"About the {WORDS[t]}: note {k} of the handbook." for k, t in enumerate(topics)]
    return [Chunk(text=t, heading="", page=None) for t in texts], vectors.astype(np.float32)


async def _bot_with_chunks(conn, tenant_id, slug: str, n: int, rng) -> dict[str, Any]:
    bot = await bots.create_bot(conn, tenant_id=tenant_id, slug=slug, name=slug, settings={})
    document = await documents.register_document(
        conn,
        tenant_id=tenant_id,
        bot_id=bot["id"],
        source_uri=f"s3://b/{slug}.md",
        title=slug,
        mime="text/markdown",
        size=1,
        etag="1",
    )
    assert document is not None
    rows, vectors = _corpus(rng, n)
    await chunks.replace_chunks(
        conn, document_id=document, bot_id=bot["id"], chunks=rows, vectors=vectors
    )
    return {"bot": bot, "document": document, "vectors": vectors}


async def _flag(conn, bot_id) -> bool:
    cur = await conn.execute("SELECT chunks_indexed FROM bots WHERE id = %s", (bot_id,))
    row = await cur.fetchone()
    return bool(row["chunks_indexed"])


async def _indexes(conn) -> set[str]:
    cur = await conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'chunks'")
    return {r["indexname"] for r in await cur.fetchall()}


async def test_a_bot_past_the_size_is_indexed_and_answers_as_the_exact_scan(conn):
    rng = np.random.default_rng(7)
    tenant = await tenants.create_tenant(conn, slug="scale", name="Scale")
    big = await _bot_with_chunks(conn, tenant["id"], "big", 160, rng)
    small = await _bot_with_chunks(conn, tenant["id"], "small", 30, rng)
    big_id, small_id = big["bot"]["id"], small["bot"]["id"]

    changes = await bot_indexes.sync(conn, dim=DIM, targets=SMALL)
    assert [(c.bot_id, c.action) for c in changes] == [(big_id, "ready")]
    names = {bot_indexes.index_name(kind, big_id) for kind in ("hnsw", "fts")}
    assert names <= await _indexes(conn)
    assert not {bot_indexes.index_name("hnsw", small_id)} & await _indexes(conn)
    assert await _flag(conn, big_id)
    assert not await _flag(conn, small_id)
    assert await bot_indexes.sync(conn, dim=DIM, targets=SMALL) == []

    for n in range(12):  # questions near a chunk, naming a topic's word
        vector = big["vectors"][n * 13] + 0.3 * rng.normal(size=DIM).astype(np.float32)
        vector /= np.linalg.norm(vector)
        text = f"Where is my {WORDS[n % len(WORDS)]}?"
        args = {"bot_id": big_id, "text": text, "vector": vector, "limit": 10}
        exact = await chunks.search(conn, **args)
        indexed = await chunks.search(conn, **args, indexed=True)
        assert [r["id"] for r in indexed] == [r["id"] for r in exact]
        assert [round(r["cos"], 5) for r in indexed] == [round(r["cos"], 5) for r in exact]

    # The query names the bot so that its partial indexes apply. On this little data the
    # planner would rather scan; steered away from that, it goes through them (GIN only
    # through a bitmap, HNSW only as an ordered index scan).
    await conn.execute("ANALYZE chunks")
    query = sql.SQL("EXPLAIN ") + chunks.retrieve_query(big_id, DIM, indexed=True)
    params = {"bot": big_id, "text": "refund", "vec": big["vectors"][0], "k": 60, "limit": 4}
    for kind, off in (("fts", ["seqscan"]), ("hnsw", ["seqscan", "bitmapscan", "sort"])):
        for setting in off:
            await conn.execute(sql.SQL("SET {} = off").format(sql.Identifier(f"enable_{setting}")))
        try:
            cur = await conn.execute(query, params)
            plan = "\n".join(r["QUERY PLAN"] for r in await cur.fetchall())
        finally:
            await conn.execute("RESET ALL")
        assert bot_indexes.index_name(kind, big_id) in plan, plan

    # Shrinks below the lower line: the indexes go, retrieval is the exact scan again.
    rows, vectors = _corpus(rng, 40)
    await chunks.replace_chunks(
        conn, document_id=big["document"], bot_id=big_id, chunks=rows, vectors=vectors
    )
    changes = await bot_indexes.sync(conn, dim=DIM, targets=SMALL)
    assert [(c.bot_id, c.action) for c in changes] == [(big_id, "dropped")]
    assert not names & await _indexes(conn)
    assert not await _flag(conn, big_id)


async def test_an_invalid_or_other_width_index_is_rebuilt(conn):
    rng = np.random.default_rng(3)
    tenant = await tenants.create_tenant(conn, slug="rebuild", name="Rebuild")
    big = await _bot_with_chunks(conn, tenant["id"], "big", 120, rng)
    bot_id = big["bot"]["id"]
    await bot_indexes.sync(conn, dim=DIM, targets=SMALL)
    # As a failed CONCURRENTLY build leaves it: present but not valid.
    await conn.execute(
        "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass",
        (bot_indexes.index_name("hnsw", bot_id),),
    )
    changes = await bot_indexes.sync(conn, dim=DIM, targets=SMALL)
    assert [c.action for c in changes] == ["ready"]
    cur = await conn.execute(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = %s::regclass",
        (bot_indexes.index_name("hnsw", bot_id),),
    )
    assert (await cur.fetchone())["indisvalid"]
    assert await _flag(conn, bot_id)


@pytest.mark.parametrize("indexed", [False, True])
async def test_retrieval_for_a_question_without_words_uses_meaning_alone(conn, indexed):
    rng = np.random.default_rng(5)
    tenant = await tenants.create_tenant(
        conn, slug="quiet-indexed" if indexed else "quiet", name="Quiet"
    )
    big = await _bot_with_chunks(conn, tenant["id"], "big", 120, rng)
    if indexed:
        await bot_indexes.sync(conn, dim=DIM, targets=SMALL)
    found = await chunks.search(
        conn,
        bot_id=big["bot"]["id"],
        text="Is it what you do?",  # stop words only
        vector=big["vectors"][5],
        limit=3,
        indexed=indexed,
    )
    assert found[0]["id"] is not None
    assert round(found[0]["cos"], 4) == 1.0  # the chunk itself, by meaning
    assert all(r["lex"] == 0 for r in found)


async def test_a_bot_with_many_faq_phrasings_is_indexed_and_matches_as_the_exact_scan(conn):
    rng = np.random.default_rng(11)
    tenant = await tenants.create_tenant(conn, slug="faqs", name="FAQs")
    bot = await bots.create_bot(conn, tenant_id=tenant["id"], slug="many", name="Many", settings={})
    rows, vectors = _corpus(rng, 180)  # 60 FAQs of three phrasings
    cur = await conn.execute(
        "INSERT INTO faqs (tenant_id, bot_id, question, alternatives, answer)"
        " SELECT %s, %s, 'Question ' || n, '{}', 'Answer ' || n FROM generate_series(1, 60) n"
        " RETURNING id",
        (tenant["id"], bot["id"]),
    )
    ids = [r["id"] for r in await cur.fetchall()]
    async with conn.cursor() as writer:
        await writer.executemany(
            "INSERT INTO faq_phrasings (faq_id, bot_id, ord, text, embedding, tsv)"
            " VALUES (%s, %s, %s, %s, %s, to_tsvector('english', %s))",
            [
                (ids[n // 3], bot["id"], n % 3, row.text, vectors[n], row.text)
                for n, row in enumerate(rows)
            ],
        )
    lowered = (replace(bot_indexes.PHRASINGS, index_from=150, drop_below=75),)
    changes = await bot_indexes.sync(conn, dim=DIM, targets=lowered)
    assert [(c.table, c.bot_id, c.action) for c in changes] == [
        ("faq_phrasings", bot["id"], "ready")
    ]
    cur = await conn.execute(
        "SELECT faqs_indexed, chunks_indexed FROM bots WHERE id = %s", (bot["id"],)
    )
    assert await cur.fetchone() == {"faqs_indexed": True, "chunks_indexed": False}

    for n in range(10):
        vector = vectors[n * 17] + 0.3 * rng.normal(size=DIM).astype(np.float32)
        vector /= np.linalg.norm(vector)
        args = {
            "bot_id": bot["id"],
            "text": f"A {WORDS[n]} question",
            "vector": vector,
            "lexical_weight": LEXICAL_WEIGHT,
            "limit": 10_000,
        }
        exact = await faqs.match_rows(conn, **args)
        indexed = await faqs.match_rows(conn, **args, indexed=True)
        key = lambda r: (r["id"], round(r["semantic"], 5), round(r["lexical"], 5))  # noqa: E731
        assert sorted(map(key, indexed)) == sorted(map(key, exact))
        # 180 phrasings, 50 nearest: the candidates are a part of the FAQs, the best among them
        assert 0 < len(exact) < 60

    await conn.execute("ANALYZE faq_phrasings")
    query = sql.SQL("EXPLAIN ") + faqs.match_query(bot["id"], DIM, indexed=True)
    for setting in ("seqscan", "bitmapscan", "sort"):
        await conn.execute(sql.SQL("SET {} = off").format(sql.Identifier(f"enable_{setting}")))
    try:
        params = {"bot": bot["id"], "text": "refund", "vec": vectors[0]}
        cur = await conn.execute(query, {**params, "lexical_weight": 0.05, "limit": 5})
        plan = "\n".join(r["QUERY PLAN"] for r in await cur.fetchall())
    finally:
        await conn.execute("RESET ALL")
    assert bot_indexes.index_name("hnsw", bot["id"], bot_indexes.PHRASINGS) in plan, plan
