"""An in-process LRU in front of an embedder: only misses reach the provider.

Keys are digests of the text, never the text itself, so no visitor's words stay in
memory once the request that brought them is done.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from shared.embeddings.base import Embedder, Vector, Vectors, empty

# 5,000 rows of 384 floats are ~8 MB with their keys: a hot set of a shop's recurring
# phrasings, bounded whatever the traffic (20,000 made it the largest thing that grew).
SIZE = 5_000


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


class CachedEmbedder(Embedder):
    def __init__(self, inner: Embedder, size: int = SIZE) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.calibration = inner.calibration
        self.languages = inner.languages
        self._size = size
        self._cache: OrderedDict[bytes, Vector] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def warm_up(self) -> None:
        await self.inner.warm_up()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def embed_documents(self, texts: Sequence[str]) -> Vectors:
        # Documents are embedded once, at ingestion: nothing to gain from the cache, and a
        # passage's row must not answer for the same text asked as a question.
        return await self.inner.embed_documents(texts)

    async def embed(self, texts: Sequence[str]) -> Vectors:
        return await self.embed_soon(texts)

    def embed_soon(self, texts: Sequence[str]) -> asyncio.Future[Vectors]:
        keys = [_digest(t) for t in texts]
        found: dict[bytes, Vector] = {}
        for key in keys:
            if key in self._cache:
                self._cache.move_to_end(key)
                found[key] = self._cache[key]
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if not missing:
            done: asyncio.Future[Vectors] = asyncio.get_running_loop().create_future()
            done.set_result(self._rows(keys, found))
            return done
        # The provider starts on the missing texts now; the rows are put together after.
        embedding = self.inner.embed_soon(list(missing.values()))
        return asyncio.ensure_future(self._complete(keys, found, list(missing), embedding))

    async def _complete(
        self,
        keys: list[bytes],
        found: dict[bytes, Vector],
        missing: list[bytes],
        embedding: asyncio.Future[Vectors],
    ) -> Vectors:
        vectors = await embedding
        for key, vector in zip(missing, vectors, strict=True):
            found[key] = self._cache[key] = vector.copy()  # its own row, not a view
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return self._rows(keys, found)

    def _rows(self, keys: list[bytes], found: dict[bytes, Vector]) -> Vectors:
        return np.stack([found[key] for key in keys]) if keys else empty(self.dim)
