"""The configured embedding provider, wrapped in the in-process cache.

Each backend's module (and so its SDK) is imported only when that backend is chosen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from shared.embeddings.base import Embedder, EmbeddingError
from shared.embeddings.cached import CachedEmbedder

if TYPE_CHECKING:
    from shared.embeddings.local import LocalEmbedder


def make_embedder(
    provider: str,
    *,
    local_runtime: str = "onnx",
    model_dir: Path | None = None,
    openai_key: str | None = None,
    openai_base_url: str | None = None,
    mistral_key: str | None = None,
    mistral_base_url: str | None = None,
) -> Embedder:
    inner: Embedder
    if provider == "local":
        inner = local_embedder(local_runtime, model_dir)
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


def local_embedder(runtime: str = "onnx", model_dir: Path | None = None) -> LocalEmbedder:
    """The local model on ``runtime`` (PARLEY_LOCAL_RUNTIME): ONNX Runtime with the exported
    model kept in ``model_dir``, or PyTorch."""
    from shared.embeddings.local import LocalEmbedder

    if runtime != "onnx":
        return LocalEmbedder()
    if model_dir is None:
        raise EmbeddingError("PARLEY_LOCAL_RUNTIME=onnx needs a folder for the model")
    from shared.embeddings.onnx import OnnxMiniLM

    return LocalEmbedder(OnnxMiniLM(model_dir))
