"""What keeps a long-running server's memory bounded (hardening item 14; the figures come
from ``parley bench soak``): the local model on one thread of its own, a thread that goes
after a batch of documents, and a question-vector cache of bounded size holding its own rows."""

from __future__ import annotations

import asyncio
import threading

import numpy as np

from shared.embeddings.base import Embedder, Vectors
from shared.embeddings.cached import CachedEmbedder


async def test_the_local_model_runs_on_one_thread_and_a_new_one_after_documents(
    embedder, monkeypatch
):
    model = embedder.inner
    threads: list[threading.Thread] = []
    encode = model.encode

    def recording(texts):
        threads.append(threading.current_thread())
        return encode(texts)

    monkeypatch.setattr(model, "encode", recording)
    for _ in range(3):  # concurrent questions, several rounds: always the same thread
        await asyncio.gather(*(model.embed([f"Where is my parcel {n}?"]) for n in range(8)))
    first = threads[0]
    assert all(thread is first for thread in threads)
    assert first.name.startswith("parley-embedder")
    await model.embed_documents([f"Passage {n} about returns." for n in range(40)])
    documents = threads[-1]
    await model.embed(["And now a question"])
    assert threads[-1] is not documents
    assert not documents.is_alive()
    alive = [t for t in threading.enumerate() if t.name.startswith("parley-embedder")]
    assert len(alive) == 1  # the thread that embedded the documents has ended


class Counting(Embedder):
    name = "counting"
    dim = 4

    def __init__(self) -> None:
        self.calls = 0

    async def embed(self, texts) -> Vectors:
        self.calls += 1
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        rows[:, 0] = 1.0
        return rows


async def test_the_vector_cache_is_bounded_and_keeps_no_batch_alive():
    inner = Counting()
    cache = CachedEmbedder(inner, size=10)
    await cache.embed([f"question {n}" for n in range(25)])  # one batch of 25
    assert len(cache._cache) == 10
    assert all(row.base is None for row in cache._cache.values())  # own rows, not views
    await cache.embed(["question 24"])  # the newest stayed
    assert inner.calls == 1
    await cache.embed(["question 0"])  # the oldest went
    assert inner.calls == 2
