"""The embedding interface: texts in, unit-length float32 rows out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
Vectors = npt.NDArray[np.float32]


class EmbeddingError(Exception):
    """The embedding provider failed; the message names it, never its key."""


class Embedder(ABC):
    name: str
    dim: int

    @abstractmethod
    async def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit-length row per text."""

    async def embed_one(self, text: str) -> Vector:
        vectors: Vectors = await self.embed([text])
        row: Vector = vectors[0]
        return row

    async def warm_up(self) -> None:  # noqa: B027  (optional hook; most providers need none)
        """Load whatever the provider needs, so the first visitor does not wait."""

    async def aclose(self) -> None:  # noqa: B027  (only remote providers hold connections)
        """Close the provider's HTTP connections."""


def normalize(matrix: npt.NDArray[Any]) -> Vectors:
    """Rows scaled to unit length (cosine similarity becomes a dot product)."""
    array: Vectors = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    normalized: Vectors = (array / np.maximum(norms, 1e-12)).astype(np.float32)
    return normalized


def empty(dim: int) -> Vectors:
    return np.zeros((0, dim), dtype=np.float32)
