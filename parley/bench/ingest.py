"""``parley bench ingest [--docs N] [--small]``: documents/s and chunks/s, and the share of
time spent embedding.

A generated corpus of Markdown documents (headings, paragraphs; deterministic; ``--small``:
one short paragraph each) is put in local storage and taken in as a bulk upload is, by the
scheduler's poll: parse -> chunk -> embed (local model) -> index, on an embedded PostgreSQL
in a temporary folder. The time during which some embedding is under way is counted, so
the rest (storage, parsing, chunking, database while the model is idle) shows as the
remainder. DESIGN.md budgets that
remainder at under 20%.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from parley.bench.model import local_model
from shared.config import load_settings
from shared.db import bots, tenants
from shared.db.migrate import migrate
from shared.embeddings.base import Embedder, Vectors
from shared.embeddings.local import LocalEmbedder
from shared.ingest.poll import poll
from shared.runtime import Runtime
from shared.storage.local import LocalStorage

WORDS = [
    "parcel",
    "delivery",
    "refund",
    "warranty",
    "tent",
    "backpack",
    "return",
    "order",
    "invoice",
    "customer",
    "shipping",
    "express",
    "voucher",
    "size",
    "exchange",
    "repair",
    "store",
    "payment",
    "account",
    "zip",
    "seam",
    "leather",
    "boots",
    "waterproof",
    "jacket",
    "sleeping",
    "bag",
    "stove",
    "lantern",
    "compass",
    "rope",
]


class TimedEmbedder(Embedder):
    """Counts the wall time during which at least one embedding is under way (documents
    are ingested several at a time, so their calls overlap)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        self.seconds = 0.0
        self.texts = 0
        self._active = 0
        self._since = 0.0

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if self._active == 0:
            self._since = time.perf_counter()
        self._active += 1
        try:
            return await self.inner.embed(texts)
        finally:
            self._active -= 1
            if self._active == 0:
                self.seconds += time.perf_counter() - self._since
            self.texts += len(texts)


def corpus(count: int, seed: int = 7, *, small: bool = False) -> dict[str, bytes]:
    """``count`` guides of 2-4 sections, or (``small``) of one short paragraph each."""
    rng = random.Random(seed)

    def sentence() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 18))).capitalize() + "."

    docs = {}
    for n in range(count):
        parts = [f"# Guide {n}"]
        if small:
            parts.append(" ".join(sentence() for _ in range(rng.randint(2, 4))))
        for s in range(0 if small else rng.randint(2, 4)):
            parts.append(f"## Section {s}")
            parts += [
                " ".join(sentence() for _ in range(rng.randint(3, 6)))
                for _ in range(rng.randint(2, 4))
            ]
        docs[f"bench/kb/guide-{n:04d}.md"] = "\n\n".join(parts).encode()
    return docs


async def _run(docs: int, small: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        settings = load_settings(
            {
                "PARLEY_DATA_DIR": tmp,
                "PARLEY_DEMO": "0",
                "PARLEY_LOG_LEVEL": "WARNING",
                "PARLEY_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            },
            env_file=None,
        )
        runtime = Runtime.from_settings(settings)
        try:
            model = local_model()
            timed = TimedEmbedder(model)
            runtime.embedder = timed
            storage = LocalStorage(Path(tmp) / "files")
            runtime.storage = storage
            async with runtime.db.connection() as conn:
                await migrate(conn)
            await runtime.db.reset()
            async with runtime.db.connection() as conn:
                tenant = await tenants.create_tenant(conn, slug="bench", name="Bench")
                await bots.create_bot(
                    conn, tenant_id=tenant["id"], slug="kb", name="KB", settings={}
                )
            await model.warm_up()
            files = corpus(docs, small=small)
            for key, data in files.items():
                await storage.put(key, data, "text/markdown")
            # As a bulk upload is taken in: the scheduler's poll over the whole bucket.
            begin = time.perf_counter()
            counts = await poll(runtime, storage)
            total = time.perf_counter() - begin
            if counts.get("ingested") != docs:
                raise RuntimeError(f"not every document was ingested: {counts}")
            async with runtime.db.connection() as conn:
                cur = await conn.execute("SELECT count(*) AS n FROM chunks")
                row = await cur.fetchone()
                cur = await conn.execute("SELECT text FROM chunks ORDER BY id LIMIT 512")
                sample = [r["text"] for r in await cur.fetchall()]
            chunks = int(row["n"]) if row else 0
            # The baseline: the model alone on these chunks, in its own batches, best of 3.
            runs = []
            for _ in range(3):
                embed_alone = time.perf_counter()
                for start in range(0, len(sample), model.max_batch):
                    model.encode(sample[start : start + model.max_batch])
                runs.append(time.perf_counter() - embed_alone)
            model_rate = len(sample) / min(runs)
        finally:
            await runtime.aclose()
            runtime.stop_embedded()
    rest = total - timed.seconds
    kind = "small " if small else ""
    print(f"parley bench ingest: {docs} generated {kind}Markdown documents, {chunks} chunks")
    print(f"  documents/s                 {docs / total:8.1f}")
    print(f"  chunks/s                    {chunks / total:8.1f}")
    print(
        f"  time embedding              {timed.seconds:8.2f} s  ({timed.seconds / total:.0%}"
        " of the time, some embedding under way)"
    )
    print(f"  everything else             {rest:8.2f} s  ({rest / total:.0%}; budget < 20%)")
    print(
        f"  baseline: the model alone   {model_rate:8.1f} of these chunks/s in batches of"
        f" {LocalEmbedder.max_batch} (pipeline/model: x{(chunks / total) / model_rate:.2f})"
    )


def run(docs: int = 200, *, small: bool = False) -> None:
    asyncio.run(_run(docs, small))
