"""``parley bench ingest``: documents/s and chunks/s, and the share of time spent embedding.

A generated corpus of Markdown documents (headings, paragraphs; deterministic) goes through
the real pipeline: local storage -> parse -> chunk -> embed (local model) -> index, on an
embedded PostgreSQL in a temporary folder. The embedder is timed on its own, so the rest
(storage, parsing, chunking, database) shows as the remainder. DESIGN.md budgets that
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

from shared.config import load_settings
from shared.db import bots, tenants
from shared.db.migrate import migrate
from shared.embeddings.base import Embedder, Vectors
from shared.embeddings.local import LocalEmbedder
from shared.ingest.pipeline import reconcile
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
    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        self.seconds = 0.0
        self.texts = 0

    async def embed(self, texts: Sequence[str]) -> Vectors:
        begin = time.perf_counter()
        try:
            return await self.inner.embed(texts)
        finally:
            self.seconds += time.perf_counter() - begin
            self.texts += len(texts)


def corpus(count: int, seed: int = 7) -> dict[str, bytes]:
    rng = random.Random(seed)

    def sentence() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 18))).capitalize() + "."

    docs = {}
    for n in range(count):
        parts = [f"# Guide {n}"]
        for s in range(rng.randint(2, 4)):
            parts.append(f"## Section {s}")
            parts += [
                " ".join(sentence() for _ in range(rng.randint(3, 6)))
                for _ in range(rng.randint(2, 4))
            ]
        docs[f"bench/kb/guide-{n:04d}.md"] = "\n\n".join(parts).encode()
    return docs


async def _run(docs: int) -> None:
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
            model = LocalEmbedder()
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
            files = corpus(docs)
            for key, data in files.items():
                await storage.put(key, data, "text/markdown")
            begin = time.perf_counter()
            chunks = 0
            for key in files:
                chunks += (await reconcile(runtime, storage, key)).chunks
            total = time.perf_counter() - begin
            embed_alone = time.perf_counter()
            model.encode(["x " * 150] * 64)
            batch_seconds = time.perf_counter() - embed_alone
        finally:
            await runtime.aclose()
            runtime.stop_embedded()
    rest = total - timed.seconds
    print(f"parley bench ingest: {docs} generated Markdown documents, {chunks} chunks")
    print(f"  documents/s                 {docs / total:8.1f}")
    print(f"  chunks/s                    {chunks / total:8.1f}")
    print(f"  time embedding              {timed.seconds:8.2f} s  ({timed.seconds / total:.0%})")
    print(f"  everything else             {rest:8.2f} s  ({rest / total:.0%}; budget < 20%)")
    print(
        f"  baseline: the model alone   {64 / batch_seconds:8.1f} chunk-sized texts/s "
        f"(pipeline/model: x{(chunks / total) / (64 / batch_seconds):.2f})"
    )


def run(docs: int = 200) -> None:
    asyncio.run(_run(docs))
