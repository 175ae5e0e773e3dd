"""The local model as ``parley serve`` here would run it (PARLEY_LOCAL_RUNTIME,
PARLEY_MODEL_DIR, else ``./.parley/models``): a bench measures the runner that serves, and
every server a bench starts shares one exported model file instead of exporting its own."""

from __future__ import annotations

from pathlib import Path

from shared.config import load_settings
from shared.embeddings.factory import local_embedder
from shared.embeddings.local import LocalEmbedder


def model_dir() -> Path:
    return load_settings().model_dir.resolve()


def runner() -> str:
    return load_settings().local_runtime


def local_model() -> LocalEmbedder:
    return local_embedder(runner(), model_dir())
