"""The configured embedding provider, wrapped in the in-process cache.

Each backend's module (and so its SDK) is imported only when that backend is chosen.
"""

from __future__ import annotations

from shared.embeddings.base import Embedder, EmbeddingError
from shared.embeddings.cached import CachedEmbedder


def make_embedder(
    provider: str,
    *,
    openai_key: str | None = None,
    openai_base_url: str | None = None,
    mistral_key: str | None = None,
    mistral_base_url: str | None = None,
) -> Embedder:
    inner: Embedder
    if provider == "local":
        from shared.embeddings.local import LocalEmbedder

        inner = LocalEmbedder()
    elif provider == "multilingual":
        from shared.embeddings.multilingual import MultilingualEmbedder

        inner = MultilingualEmbedder()
    elif provider == "openai":
        if not openai_key:
            raise EmbeddingError("PARLEY_EMBEDDINGS=openai needs OPENAI_API_KEY")
        from shared.embeddings.openai import OpenAIEmbedder

        inner = OpenAIEmbedder(openai_key, openai_base_url)
    elif provider == "mistral":
        if not mistral_key:
            raise EmbeddingError("PARLEY_EMBEDDINGS=mistral needs MISTRAL_API_KEY")
        from shared.embeddings.mistral import MistralEmbedder

        inner = MistralEmbedder(mistral_key, mistral_base_url)
    else:
        raise EmbeddingError(f"unknown embedding provider {provider!r}")
    return CachedEmbedder(inner)
