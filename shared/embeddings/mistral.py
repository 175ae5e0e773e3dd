"""Mistral embeddings (mistral-embed, 1024 dimensions) via the mistralai SDK."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import httpx2
import numpy as np
from mistralai.client import Mistral
from mistralai.client.errors import MistralError

from shared.embeddings.base import Embedder, EmbeddingError, Vectors, normalize


class MistralEmbedder(Embedder):
    dim = 1024

    def __init__(
        self,
        api_key: str,
        server_url: str | None = None,
        model: str = "mistral-embed",
        timeout: float = 10.0,
    ) -> None:
        self.name = f"mistral:{model}"
        self._model = model
        # Our own client (the one the SDK uses anyway), so aclose() can close it.
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
        try:
            response = await self._client.embeddings.create_async(
                model=self._model, inputs=list(texts)
            )
        except (MistralError, httpx2.HTTPError, OSError) as exc:
            raise EmbeddingError(f"Mistral embeddings failed ({type(exc).__name__})") from None
        return normalize(np.array([item.embedding for item in response.data]))
