"""Carry the default model's thresholds over to another embedding model, by quantile.

    python3 scripts/calibrate_embedder.py [--to multilingual|int8] [--sample 1500]

Parley's thresholds (FAQ confidence, grey-zone floor, passage relevance, the answer
cache's meaning layer, knowledge-gap grouping) were measured for all-MiniLM-L6-v2 in full
precision (the PyTorch runner). Another model spreads its cosines differently
(multilingual-e5 puts unrelated questions near 0.8; the ONNX runner's 8-bit weights move
them a little), so each threshold is carried over, on BANKING77's *training* split (no test
data):

- the FAQ threshold and the grey-zone floor at the same operating point: training questions
  (those that are not FAQ phrasings) matched against the FAQs, the other model's value is
  the one that answers with the same precision as MiniLM at its value;
- the others (passage relevance, the meaning cache, gap grouping, the grey zone's lead) by
  quantile: for a MiniLM cosine t, the cosine at the same quantile among the other model's
  question pairs.

Prints the values that shared/embeddings/multilingual.py (``--to multilingual``) and
shared/embeddings/onnx.py (``--to int8``; its model in PARLEY_MODEL_DIR) use — except e5's
FAQ threshold, set on German questions to the demo shop in German (docs/faq-matching.md).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
from pathlib import Path

import numpy as np

from shared.embeddings.base import DEFAULT_CALIBRATION, Embedder
from shared.embeddings.local import LocalEmbedder
from shared.rag.faq_match import MARGIN_CAP, MARGIN_WEIGHT

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "banking77"
TRAIN = DATA / "train.csv"


async def faq_confidences(
    embedder: Embedder, faqs: list[dict[str, object]], questions: list[tuple[str, str]]
) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, right?) of each training question's best FAQ: Parley's formula without
    its small full-text term (0.5 max + 0.5 mean over phrasings, plus ``MARGIN_WEIGHT`` of the
    margin, capped at ``MARGIN_CAP`` times the model's ``spread``)."""
    phrasings = [(n, t) for n, f in enumerate(faqs) for t in [f["question"], *f["alternatives"]]]  # type: ignore[misc]
    owners = np.array([n for n, _ in phrasings])
    vectors = await embedder.embed([t for _, t in phrasings])
    asked = await embedder.embed([q for q, _ in questions])
    sims = asked @ vectors.T
    scores = np.stack(
        [
            0.5 * sims[:, owners == n].max(1) + 0.5 * sims[:, owners == n].mean(1)
            for n in range(len(faqs))
        ],
        axis=1,
    )
    order = np.argsort(-scores, axis=1)
    top = scores[np.arange(len(scores)), order[:, 0]]
    runner = scores[np.arange(len(scores)), order[:, 1]]
    cap = MARGIN_CAP * embedder.calibration.spread
    confidence = np.clip(top + MARGIN_WEIGHT * np.minimum(top - runner, cap), 0, 1)
    ids = [f["id"] for f in faqs]
    right = np.array([ids[order[i, 0]] == want for i, (_, want) in enumerate(questions)])
    return confidence, right


def precision_at(confidence: np.ndarray, right: np.ndarray, threshold: float) -> float:
    taken = confidence >= threshold
    return float(right[taken].mean()) if taken.any() else 1.0


def same_precision(
    value: float, source: tuple[np.ndarray, np.ndarray], target: tuple[np.ndarray, np.ndarray]
) -> float:
    wanted = precision_at(*source, value)
    grid = np.arange(0.50, 1.0, 0.002)
    return float(next((t for t in grid if precision_at(*target, t) >= wanted), grid[-1]))


async def pair_cosines(embedder: Embedder, texts: list[str]) -> np.ndarray:
    vectors = await embedder.embed(texts)
    sims = vectors @ vectors.T
    return np.sort(sims[np.triu_indices(len(texts), k=1)])


def carry(value: float, source: np.ndarray, target: np.ndarray) -> float:
    quantile = np.searchsorted(source, value) / len(source)
    return float(np.quantile(target, min(quantile, 1.0)))


def target(name: str) -> Embedder:
    if name == "int8":
        from parley.bench.model import model_dir
        from shared.embeddings.onnx import OnnxMiniLM

        return LocalEmbedder(OnnxMiniLM(model_dir()))
    from shared.embeddings.multilingual import MultilingualEmbedder

    return MultilingualEmbedder()


async def main(to: str, sample: int) -> None:
    with TRAIN.open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    with TRAIN.open(encoding="utf-8") as handle:
        labelled = [(row["text"], row["category"]) for row in csv.DictReader(handle)]
    faqs = [json.loads(line) for line in (DATA / "faqs.jsonl").read_text().splitlines() if line]
    phrased = {t for f in faqs for t in [f["question"], *f["alternatives"]]}
    questions = random.Random(7).sample([q for q in labelled if q[0] not in phrased], sample)
    texts = random.Random(7).sample(texts, sample)
    local, other = LocalEmbedder(), target(to)
    minilm = await pair_cosines(local, texts)
    e5 = await pair_cosines(other, texts)
    minilm_faq = await faq_confidences(local, faqs, questions)
    e5_faq = await faq_confidences(other, faqs, questions)
    print(
        f"{len(minilm):,} question pairs and {len(questions):,} FAQ questions from BANKING77's"
        " training split"
    )
    carried_over = (
        "faq_threshold",
        "faq_sure",
        "grey_floor",
        "faq_lead",
        "passage_relevance",
        "same_answer",
        "same_gap",
    )
    for name in carried_over:
        value = getattr(DEFAULT_CALIBRATION, name)
        if name in ("faq_threshold", "grey_floor"):
            carried = same_precision(value, minilm_faq, e5_faq)
            print(
                f"  {name:18s} all-MiniLM-L6-v2 {value:.3f}  ->  {to} {carried:.3f}"
                f"   (precision {precision_at(*minilm_faq, value):.1%} / "
                f"{precision_at(*e5_faq, carried):.1%})"
            )
            continue
        if name == "faq_lead":
            floor = DEFAULT_CALIBRATION.grey_floor
            carried = carry(floor + value, minilm, e5) - carry(floor, minilm, e5)
        else:
            carried = carry(value, minilm, e5)
        print(f"  {name:18s} all-MiniLM-L6-v2 {value:.3f}  ->  {to} {carried:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--to", choices=("multilingual", "int8"), default="multilingual")
    parser.add_argument("--sample", type=int, default=1500)
    args = parser.parse_args()
    asyncio.run(main(args.to, args.sample))
