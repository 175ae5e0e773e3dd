"""``parley bench scale [--chunks 1000000] [--bots 1000]``: retrieval over many bots' chunks.

The run, on an embedded PostgreSQL of its own in a temporary folder (removed at the end):

1. builds one tenant's ``--bots`` bots holding ``--chunks`` chunks between them, skewed as
   a SaaS grows: three bots with 10%, 7.5% and 5% of all chunks (100k, 75k and 50k of a
   million), the rest spread log-normally over the others (most hold hundreds). Each bot's
   chunks lie in topics of its own: vectors near the topic's centre, texts using the
   topic's words, so both halves of hybrid retrieval have something to find;
2. runs the scheduler's ``indexes`` job (``shared.db.bot_indexes.sync``), timed: the bots
   past its size get their HNSW and GIN indexes;
3. asks each of the three largest bots and five of the smallest ``--queries`` questions
   drawn as their chunks are (in one of the bot's sub-topics), through the retrieval
   statement the chat path runs; for an indexed bot also through the exact scan, which is
   the baseline for both time and recall@10 (the share of the exact top 10 that the
   indexed statement returns);
4. FAQ matching (the chat path's ``match_faq``) for a bot with 50 FAQs and one with 5,000,
   three phrasings each, in three rounds; beside it, the time the local model takes to embed
   a question, since a visitor's match is that embedding plus the statement;
5. times the statements that authenticate a caller and count its request (a widget's
   publishable key; an admin's session) with 10 tenants, then again with 10,000, each with
   a bot, a key, a user with a session and rate-limit rows.

Figures are medians of the per-question times, p50 and p99, in milliseconds. With
``--ef-search 100,200`` the HNSW searches (retrieval of the indexed bots, FAQ matching) are
measured with each value of ``hnsw.ef_search`` in turn; by default with Parley's own.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import psycopg
from pgvector.psycopg import register_vector

DIM = 384
TOPICS = 24  # per bot
WORDS_PER_TOPIC = 6


@dataclass
class Bot:
    id: uuid.UUID
    chunks: int
    rng_seed: int


def _sizes(chunks: int, bots: int, rng: np.random.Generator) -> list[int]:
    big = [int(chunks * share) for share in (0.10, 0.075, 0.05)][: min(3, bots)]
    rest = chunks - sum(big)
    weights = rng.lognormal(mean=0.0, sigma=1.0, size=bots - len(big))
    small = np.maximum(1, np.floor(rest * weights / weights.sum())).astype(int)
    return big + [int(n) for n in small]


def _topic_vectors(seed: int) -> tuple[npt.NDArray[np.float32], list[list[str]]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(TOPICS, DIM)).astype(np.float32)
    words = [[f"t{seed}w{t}x{k}" for k in range(WORDS_PER_TOPIC)] for t in range(TOPICS)]
    return centres, words


def _bot_rows(
    bot: Bot, start: int, count: int
) -> tuple[npt.NDArray[np.float32], list[str], npt.NDArray[np.int64]]:
    """Chunks ``start`` .. ``start + count`` of ``bot``: (vectors, texts, topics)."""
    centres, words = _topic_vectors(bot.rng_seed)
    rng = np.random.default_rng([bot.rng_seed, start])
    topics = rng.integers(0, TOPICS, size=count)
    # A topic's chunks fall into sub-topics, as real passages do (a model's embeddings have
    # far fewer dimensions of variation than 384): nearest neighbours are meaningful.
    subtopics = np.random.default_rng([bot.rng_seed, 7]).normal(size=(TOPICS * 40, DIM))
    picked = topics * 40 + rng.integers(0, 40, size=count)
    vectors = (
        centres[topics] + 0.7 * subtopics[picked] + 0.35 * rng.normal(size=(count, DIM))
    ).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = [
        " ".join(rng.choice(words[t], size=4)) + f" note {start + n} of the handbook"
        for n, t in enumerate(topics)
    ]
    return vectors.astype(np.float32), texts, topics


Row = tuple[uuid.UUID, uuid.UUID, int, str, npt.NDArray[np.float32]]


def _insert_with_tsv(
    conn: psycopg.Connection[tuple[object, ...]], table: str, owner: str, rows: Iterable[Row]
) -> None:
    """Insert ``(owner id, bot id, ord, text, embedding)`` rows into ``table``, each with
    its English tsvector: a binary COPY into a staging table (a tsvector has no binary form
    psycopg writes), then one INSERT that computes them all."""
    table_id, owner_id = psycopg.sql.Identifier(table), psycopg.sql.Identifier(owner)
    conn.execute(
        psycopg.sql.SQL(
            "CREATE UNLOGGED TABLE scale_staging ({} uuid, bot_id uuid, ord int, text text,"
            " embedding vector)"
        ).format(owner_id)
    )
    with conn.cursor().copy("COPY scale_staging FROM STDIN WITH (FORMAT BINARY)") as copy:
        copy.set_types(["uuid", "uuid", "int4", "text", "vector"])
        for row in rows:
            copy.write_row(row)
    conn.execute(
        psycopg.sql.SQL(
            "INSERT INTO {table} ({owner}, bot_id, ord, text, embedding, tsv)"
            " SELECT {owner}, bot_id, ord, text, embedding, to_tsvector('english', text)"
            " FROM scale_staging"
        ).format(table=table_id, owner=owner_id)
    )
    conn.execute("DROP TABLE scale_staging")
    conn.execute(psycopg.sql.SQL("VACUUM ANALYZE {}").format(table_id))


def _load(conn: psycopg.Connection[tuple[object, ...]], bots: list[Bot], tenant: uuid.UUID) -> None:
    documents = []
    for bot in bots:
        document = conn.execute(
            "INSERT INTO documents (tenant_id, bot_id, source_uri, title, mime, size_bytes,"
            " etag, status) VALUES (%s, %s, %s, 'Handbook', 'text/markdown', 1, '1', 'ready')"
            " RETURNING id",
            (tenant, bot.id, f"s3://scale/{bot.id}.md"),
        ).fetchone()
        assert document is not None
        documents.append(uuid.UUID(str(document[0])))

    def rows() -> Iterator[Row]:
        batch = 20_000  # generated a batch at a time: a million vectors at once are 1.5 GB
        for bot, document in zip(bots, documents, strict=True):
            for start in range(0, bot.chunks, batch):
                vectors, texts, _ = _bot_rows(bot, start, min(batch, bot.chunks - start))
                for n, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
                    yield document, bot.id, start + n, text, vector

    _insert_with_tsv(conn, "chunks", "document_id", rows())


def _question(bot: Bot, n: int) -> tuple[str, npt.NDArray[np.float32]]:
    """Question ``n`` to the bot: drawn as one more of its chunks would be (a topic and
    sub-topic of its own), then nudged, and naming two of that topic's words."""
    rng = np.random.default_rng([bot.rng_seed, 10**9 + n])
    k = int(rng.integers(0, bot.chunks))
    vectors, texts, _ = _bot_rows(bot, k, 1)
    vector = vectors[0] + 0.02 * rng.normal(size=DIM).astype(np.float32)
    vector /= np.linalg.norm(vector)
    return " ".join(texts[0].split()[:2]) + "?", vector.astype(np.float32)


def _timed(
    conn: psycopg.Connection[tuple[object, ...]], bot: Bot, text: str, vector: object, indexed: bool
) -> tuple[float, list[int]]:
    from shared.db.chunks import RRF_K, retrieve_query

    query = retrieve_query(bot.id, DIM, indexed=indexed)
    params = {"bot": bot.id, "text": text, "vec": vector, "k": RRF_K, "limit": 10}
    begin = time.perf_counter()
    rows = conn.execute(query, params).fetchall()
    return (time.perf_counter() - begin) * 1000, [int(str(r[0])) for r in rows]


def _uses_index(conn: psycopg.Connection[tuple[object, ...]], bot: Bot, vector: object) -> bool:
    from shared.db.bot_indexes import index_name
    from shared.db.chunks import RRF_K, retrieve_query

    query = psycopg.sql.SQL("EXPLAIN ") + retrieve_query(bot.id, DIM, indexed=True)
    params = {"bot": bot.id, "text": "note", "vec": vector, "k": RRF_K, "limit": 10}
    plan = "\n".join(str(r[0]) for r in conn.execute(query, params).fetchall())
    return index_name("hnsw", bot.id) in plan


def _add_tenants(conn: psycopg.Connection[tuple[object, ...]], first: int, last: int) -> None:
    """Tenants ``first`` .. ``last - 1``: each with a bot, a publishable key (prefix
    ``pk_scale<n>``, hash of the same text), a user with a live session and three
    rate-limit rows (its key, a visitor, its address)."""
    conn.execute(
        """
        WITH t AS (
            INSERT INTO tenants (slug, name)
            SELECT 'tenant-' || n, 'Tenant ' || n FROM generate_series(%(a)s, %(b)s - 1) n
            RETURNING id, slug
        ), b AS (
            INSERT INTO bots (tenant_id, slug, name, allowed_origins)
            SELECT id, 'shop', 'Shop', ARRAY['https://' || slug || '.example'] FROM t
            RETURNING id, tenant_id
        ), k AS (
            INSERT INTO api_keys (tenant_id, bot_id, kind, role, prefix, key_hash)
            SELECT b.tenant_id, b.id, 'publishable', 'guest',
                   'pk_scale' || substr(t.slug, 8), sha256(convert_to(t.slug, 'UTF8'))
              FROM b JOIN t ON t.id = b.tenant_id
        ), u AS (
            INSERT INTO users (username, password_hash, role, tenant_id)
            SELECT 'owner-' || slug, 'x', 'saas_user', id FROM t
            RETURNING id, username
        ), s AS (
            INSERT INTO sessions (token_hash, user_id, expires_at)
            SELECT sha256(convert_to(username, 'UTF8')), id, now() + interval '1 day' FROM u
        )
        INSERT INTO rate_limits (bucket, tat, expires_at)
        SELECT 'chat:pk_scale' || substr(t.slug, 8) || part, now(), now() + interval '1 hour'
          FROM t, unnest(ARRAY['', ':v:visitor', ':127.0.0.1']) part
        """,
        {"a": first, "b": last},
    )
    conn.execute("ANALYZE")


async def _caller_times(url: str, tenant: int, runs: int) -> tuple[list[float], list[float]]:
    """Milliseconds of the key and the session statement for tenant ``tenant``."""
    import hashlib

    from shared.db import callers
    from shared.db.pool import Database

    database = Database(url)
    key_ms, session_ms = [], []
    try:
        async with database.connection() as conn:
            for n in range(runs + 5):
                begin = time.perf_counter()
                row = await callers.key_caller(
                    conn,
                    prefix=f"pk_scale{tenant}",
                    key_hash=hashlib.sha256(f"tenant-{tenant}".encode()).digest(),
                    kinds=frozenset({"publishable_key"}),
                    roles=frozenset({"guest"}),
                    origin=f"https://tenant-{tenant}.example",
                    bucket=f"chat:pk_scale{tenant}:v:visitor-{n}",
                    per_minute=1_000_000,
                    default_per_minute=20,
                    period=60.0,
                    ceiling=f"chat:pk_scale{tenant}:127.0.0.1",
                    ceiling_factor=10,
                )
                middle = time.perf_counter()
                user = await callers.session_caller(
                    conn,
                    token_hash=hashlib.sha256(f"owner-tenant-{tenant}".encode()).digest(),
                    kinds=frozenset({"session"}),
                    roles=frozenset({"saas_user"}),
                    bucket=f"admin:user:{tenant}",
                    per_minute=1_000_000,
                    period=60.0,
                )
                end = time.perf_counter()
                if row is None or row["wait"] != 0 or user is None or not user["live"]:
                    raise RuntimeError(f"the synthetic tenant was refused: {row} {user}")
                if n >= 5:  # warm-up
                    key_ms.append((middle - begin) * 1000)
                    session_ms.append((end - middle) * 1000)
    finally:
        await database.close()
    return key_ms, session_ms


def _tenants_phase(url: str, runs: int) -> None:
    import asyncio

    rows = []
    with psycopg.connect(url, autocommit=True) as conn:
        for count in (10, 10_000):
            done = conn.execute("SELECT count(*) FROM tenants WHERE slug LIKE 'tenant-%'")
            have = int(done.fetchone()[0])  # type: ignore[index]
            _add_tenants(conn, have, count)
            rounds = [asyncio.run(_caller_times(url, count // 2, runs)) for _ in range(3)]
            key = statistics.median(statistics.median(r[0]) for r in rounds)
            session = statistics.median(statistics.median(r[1]) for r in rounds)
            rows.append((count, key, session))
    print(f"\n  callers: {'tenants':>8s} {'key + limit p50':>16s} {'session + limit p50':>20s}")
    for count, key, session in rows:
        print(
            f"  {'':9s}{count:8,d} {key:13.3f} ms {session:17.3f} ms"
            f"   (x{key / rows[0][1]:.2f}, x{session / rows[0][2]:.2f} of 10 tenants)"
        )


def _faq_bot(conn: psycopg.Connection[tuple[object, ...]], tenant: object, faqs: int) -> Bot:
    row = conn.execute(
        "INSERT INTO bots (tenant_id, slug, name) VALUES (%s, %s, 'FAQ bot') RETURNING id",
        (tenant, f"faq-{faqs}"),
    ).fetchone()
    assert row is not None
    bot = Bot(uuid.UUID(str(row[0])), faqs * 3, 10**6 + faqs)
    vectors, texts, _ = _bot_rows(bot, 0, faqs * 3)
    ids = [
        uuid.UUID(str(r[0]))
        for r in conn.execute(
            "INSERT INTO faqs (tenant_id, bot_id, question, alternatives, answer)"
            " SELECT %s, %s, 'Question ' || n, '{}', 'Answer ' || n"
            " FROM generate_series(1, %s) n RETURNING id",
            (tenant, bot.id, faqs),
        ).fetchall()
    ]
    rows = (
        (ids[n // 3], bot.id, n % 3, text, vector)
        for n, (text, vector) in enumerate(zip(texts, vectors, strict=True))
    )
    _insert_with_tsv(conn, "faq_phrasings", "faq_id", rows)
    return bot


def _faq_phase(url: str, tenant: object, runs: int, ef_values: list[int]) -> None:
    import asyncio

    from parley.bench.model import local_model
    from shared.db import bot_indexes
    from shared.db.pool import Database
    from shared.rag.faq_match import match_faq

    with psycopg.connect(url, autocommit=True) as conn:
        register_vector(conn)
        small, large = (_faq_bot(conn, tenant, n) for n in (50, 5000))

    async def index() -> float:
        database = Database(url)
        try:
            async with database.connection() as conn:
                began = time.perf_counter()
                await bot_indexes.sync(conn, dim=DIM, targets=(bot_indexes.PHRASINGS,))
                return time.perf_counter() - began
        finally:
            await database.close()

    async def timed(bot: Bot, indexed: bool, ef: int) -> tuple[list[float], list[uuid.UUID | None]]:
        """The chat path's FAQ match of ``runs`` questions: milliseconds, best FAQs."""
        database = Database(url)
        times: list[float] = []
        best: list[uuid.UUID | None] = []
        try:
            async with database.connection() as conn:
                await conn.execute(f"SET hnsw.ef_search = {int(ef)}")
                for n in range(runs + 3):
                    text, vector = _question(bot, n)
                    begin = time.perf_counter()
                    match = await match_faq(
                        conn, bot_id=bot.id, text=text, vector=vector, indexed=indexed
                    )
                    if n >= 3:
                        times.append((time.perf_counter() - begin) * 1000)
                        best.append(match.best.faq_id if match.best else None)
        finally:
            await database.close()
        return times, best

    # What a visitor's question costs before the match: its embedding by the local model
    # (the synthetic vectors stand in for it in the match itself).
    embedder = local_model()
    embed_ms = []
    for n in range(runs + 3):
        text = _question(large, n)[0]
        begin = time.perf_counter()
        embedder.encode([text])
        if n >= 3:
            embed_ms.append((time.perf_counter() - begin) * 1000)
    embedding = statistics.median(embed_ms)

    took = asyncio.run(index())
    print(
        f"\n  FAQ match (phrasings indexed in {took:.1f} s where past the line;"
        " medians of 3 rounds;"
    )
    print(f"  embedding a question with the local model: p50 {embedding:.2f} ms)")
    print(
        f"  {'FAQs':>8s} {'path':>8s} {'ef':>4s} {'p50 ms':>7s} {'p99 ms':>7s}  x 50 FAQs"
        "   with the embedding  same best FAQ as exact"
    )
    for ef in ef_values:
        rounds = []
        for _ in range(3):
            base, _ = asyncio.run(timed(small, False, ef))
            exact, exact_best = asyncio.run(timed(large, False, ef))
            ours, our_best = asyncio.run(timed(large, True, ef))
            rounds.append((base, exact, ours))
        same = sum(a == b for a, b in zip(our_best, exact_best, strict=True)) / len(our_best)
        base_p50 = statistics.median(statistics.median(r[0]) for r in rounds)
        for count, path, column in ((50, "exact", 0), (5000, "exact", 1), (5000, "indexed", 2)):
            p50 = statistics.median(statistics.median(r[column]) for r in rounds)
            p99 = statistics.median(float(np.percentile(r[column], 99)) for r in rounds)
            whole = (p50 + embedding) / (base_p50 + embedding)
            agree = f"{same:.1%}" if path == "indexed" else ""
            print(
                f"  {count:8,d} {path:>8s} {ef:4d} {p50:7.2f} {p99:7.2f}  x{p50 / base_p50:.2f}"
                f"   x{whole:.2f}{'':14s}{agree}"
            )


def _percentiles(values: list[float]) -> str:
    return f"{np.percentile(values, 50):7.2f} {np.percentile(values, 99):7.2f}"


def _retrieval_row(
    conn: psycopg.Connection[tuple[object, ...]], bot: Bot, indexed: bool, ef: int, queries: int
) -> None:
    """One bot's retrieval through the chat path's statement, against the exact scan."""
    ours, exact, recall = [], [], []
    for n in range(queries + 3):
        text, vector = _question(bot, n)
        ms, got = _timed(conn, bot, text, vector, indexed)
        base_ms, want = _timed(conn, bot, text, vector, False) if indexed else (ms, got)
        if n < 3:
            continue  # warm-up
        ours.append(ms)
        exact.append(base_ms)
        recall.append(len(set(got) & set(want)) / max(len(want), 1))
    used = _uses_index(conn, bot, _question(bot, 0)[1]) if indexed else False
    print(
        f"  {str(bot.id)[:16]:>16s} {bot.chunks:8,d}"
        f" {'indexed' if indexed else 'exact':>8s} {ef if indexed else '':>4}  {_percentiles(ours)}"
        f"  {np.percentile(exact, 50):9.2f} {np.percentile(exact, 99):9.2f}"
        f"  {statistics.mean(recall):9.3f}  {'yes' if used else '-'}"
    )


def run(
    *,
    chunks: int = 1_000_000,
    bots: int = 1000,
    queries: int = 200,
    ef_search: tuple[int, ...] = (),
) -> None:
    import asyncio

    from shared.db import bot_indexes
    from shared.db.embedded import EmbeddedPostgres
    from shared.db.migrate import migrate
    from shared.db.pool import HNSW_EF_SEARCH, SESSION_SETTINGS, Database

    ef_values = list(ef_search) or [HNSW_EF_SEARCH]
    rng = np.random.default_rng(20261202)
    sizes = _sizes(chunks, bots, rng)
    print(
        f"parley bench scale: {sum(sizes):,} chunks over {len(sizes):,} bots"
        f" (largest {sizes[0]:,}, median {int(statistics.median(sizes)):,},"
        f" smallest {min(sizes):,}); {queries} questions per bot measured"
    )
    with tempfile.TemporaryDirectory(prefix="parley-scale-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pg", delete_on_stop=True)
        url = server.start()
        try:
            database = Database(url)

            async def prepare() -> None:
                async with database.connection() as conn:
                    await migrate(conn)
                await database.close()

            asyncio.run(prepare())
            with psycopg.connect(url, autocommit=True) as conn:
                register_vector(conn)
                tenant = conn.execute(
                    "INSERT INTO tenants (slug, name) VALUES ('scale', 'Scale') RETURNING id"
                ).fetchone()
                assert tenant is not None
                population = []
                for n, size in enumerate(sizes):
                    row = conn.execute(
                        "INSERT INTO bots (tenant_id, slug, name) VALUES (%s, %s, %s) RETURNING id",
                        (tenant[0], f"bot-{n}", f"Bot {n}"),
                    ).fetchone()
                    assert row is not None
                    population.append(Bot(row[0], size, n + 1))
                begin = time.perf_counter()
                tenant_id = tenant[0]
                _load(conn, population, tenant_id)
                loaded = time.perf_counter() - begin
                size_mb = conn.execute("SELECT pg_total_relation_size('chunks') / 1e6").fetchone()
                print(
                    f"  loaded in {loaded:.0f} s; chunks table {size_mb[0]:,.0f} MB"
                    if size_mb
                    else ""
                )

            async def index() -> tuple[list[bot_indexes.Change], float]:
                async with database.connection() as conn:
                    await conn.execute("SET maintenance_work_mem = '1GB'")
                    began = time.perf_counter()
                    changes = await bot_indexes.sync(conn, dim=DIM)
                    took = time.perf_counter() - began
                await database.close()
                return changes, took

            changes, took = asyncio.run(index())
            indexed = {c.bot_id for c in changes if c.action == "ready" and c.table == "chunks"}
            print(
                f"  indexes job: {len(indexed)} bots past {bot_indexes.CHUNKS.index_from:,} chunks"
                f" indexed in {took:.0f} s"
            )
            with psycopg.connect(url, autocommit=True) as conn:
                register_vector(conn)
                conn.execute(SESSION_SETTINGS)  # as on the chat path's pooled connections
                names = [bot_indexes.index_name(k, b) for b in indexed for k in ("hnsw", "fts")]
                index_mb = conn.execute(
                    "SELECT coalesce(sum(pg_relation_size(n::regclass)), 0) / 1e6"
                    " FROM unnest(%s::text[]) n",
                    (names,),
                ).fetchone()
                assert index_mb is not None
                print(f"  their indexes: {index_mb[0]:,.0f} MB")
                print(
                    f"\n  {'bot':>16s} {'chunks':>8s} {'path':>8s} {'ef':>4s}  {'p50 ms':>7s}"
                    f" {'p99 ms':>7s}  {'exact p50':>9s} {'exact p99':>9s}  {'recall@10':>9s}"
                    "  index used"
                )
                ranked = sorted(population, key=lambda b: -b.chunks)
                for bot in [*ranked[:3], *ranked[-5:]]:
                    is_indexed = bot.id in indexed
                    for ef in ef_values if is_indexed else ef_values[:1]:
                        conn.execute(f"SET hnsw.ef_search = {int(ef)}")
                        _retrieval_row(conn, bot, is_indexed, ef, queries)
                conn.execute(SESSION_SETTINGS)
            _faq_phase(url, tenant_id, queries, ef_values)
            _tenants_phase(url, queries)
        finally:
            server.stop()
