"""OpenAI embeddings (text-embedding-3-small, 1536 dimensions) via the openai SDK."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import openai

from shared.embeddings.base import Embedder, EmbeddingError, Vectors, normalize


class OpenAIEmbedder(Embedder):
    dim = 1536

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        model: str = "text-embedding-3-small",
        timeout: float = 10.0,
    ) -> None:
        self.name = f"openai:{model}"
        self._model = model
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=1
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def embed(self, texts: Sequence[str]) -> Vectors:
        try:
            response = await self._client.embeddings.create(model=self._model, input=list(texts))
        except openai.OpenAIError as exc:
            raise EmbeddingError(f"OpenAI embeddings failed ({type(exc).__name__})") from None
        return normalize(np.array([item.embedding for item in response.data]))
