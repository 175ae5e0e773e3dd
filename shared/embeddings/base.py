"""The embedding interface: texts in, unit-length float32 rows out."""

from __future__ import annotations

import asyncio
import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from shared.memory import release_free_memory

Vector = npt.NDArray[np.float32]
Vectors = npt.NDArray[np.float32]
T = TypeVar("T")


class EmbeddingError(Exception):
    """The embedding provider failed; the message names it, never its key."""


@dataclass(frozen=True)
class Calibration:
    """Where this model's cosines mean what. Measured for all-MiniLM-L6-v2 (docs/
    faq-matching.md); scripts/calibrate_embedder.py carries them over to another model."""

    faq_threshold: float = 0.75  # a FAQ match this confident answers (unless the bot says)
    # Up to here, one whose question has words the FAQ lacks and a passage holds gives way
    # to the documents ("shipping for a canoe" is not "shipping cost"); above, it answers.
    faq_sure: float = 0.85
    grey_floor: float = 0.60  # from here up to the threshold, the FAQ may still answer...
    faq_lead: float = 0.20  # ...when it leads the closest passage by this much
    passage_relevance: float = 0.30  # a passage below this is not about the question
    same_answer: float = 0.92  # the answer cache's meaning layer reuses an answer above this
    same_gap: float = 0.75  # knowledge gaps: unanswered questions grouped above this
    # The FAQ threshold for bots whose FAQs have more phrasings each: (phrasings per FAQ,
    # threshold) points, read piecewise-linearly, flat past either end; empty: not measured
    # for this model, so ``faq_threshold`` whatever the bot holds.
    threshold_by_phrasings: tuple[tuple[float, float], ...] = ()
    # A question the bot would hand over is answered from its best FAQ when that FAQ's
    # answer is also the nearest of the candidates' answers, at this cosine or more; None:
    # not measured for this model, so never.
    answer_agrees: float | None = None
    # With the handoff text, the candidate whose answer is nearest to the question is offered
    # when that answer's cosine reaches ``answer_offer`` and the match's confidence
    # ``offer_floor`` (an offer is not an answer: lower bars); None: not measured, never.
    answer_offer: float | None = None
    offer_floor: float = 0.5
    # How widely this model's cosines spread, against MiniLM's: the FAQ match's full-text term
    # and the cap on its margin over the runner-up (shared.rag.faq_match) are scaled by it, so
    # they weigh as much beside the cosines as they were measured to for MiniLM.
    spread: float = 1.0


DEFAULT_CALIBRATION = Calibration()


class Embedder(ABC):
    name: str
    dim: int
    calibration: Calibration = DEFAULT_CALIBRATION
    # The languages (bots' ``language`` codes) it places questions well in; None: many.
    languages: frozenset[str] | None = None

    def understands(self, language: str) -> bool:
        return self.languages is None or language in self.languages

    @abstractmethod
    async def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit-length row per text."""

    async def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Rows for passages to search in (document chunks). The same as :meth:`embed` for
        symmetric models; models trained with a query/passage split override it."""
        return await self.embed(texts)

    def embed_soon(self, texts: Sequence[str]) -> asyncio.Future[Vectors]:
        """Begin embedding now and await the rows later, so the work overlaps the caller's
        own (local models hand the texts to their thread at once). Cancelling the future
        drops the request."""
        return asyncio.ensure_future(self.embed(texts))

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


class ModelThread:
    """The one thread a local model runs on.

    Not asyncio's default pool: each of its threads that ever ran the model keeps its own
    allocator arena and the runtime's per-thread state, so a long-running server's memory
    grows with every thread that took a turn (measured in docs/deploy.md: six threads
    +240 MB after 3,000 forward passes, one thread +80 MB). Forward passes are serial anyway.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._pool: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.submit(fn, *args, **kwargs)

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Hand ``fn`` to the thread now; its result, to await."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
        call = functools.partial(fn, *args, **kwargs)
        return asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def recycle(self) -> None:
        """End the thread (its per-thread memory goes with it) and give freed memory back;
        the next call starts a new one."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown)
        release_free_memory()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
