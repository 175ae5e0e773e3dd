"""Would a match a little under the threshold be right when it leads its runner-up by far?
(docs/faq-matching.md, "A clear lead under the threshold")

    python3 scripts/clear_lead.py [--sample 3000]

Matches questions with the server's own statement on two ``parley serve`` of its own: the
bank's bot (BANKING77's FAQs) and the demo shop's (its FAQs, no documents). Prints:

- the threshold alone, from 0.50 to 0.80: BANKING77's test questions answered from the right
  FAQ, how many of the FAQ answers are right, and how many of the shop's FAQ phrasings the
  bank's bot keeps out (what ``parley bench faq --out-of-scope shared/demo`` reports), with
  the mean of the two (issue 14's second goal);
- the rule "answer at ``threshold - below`` or more when the best FAQ's score leads the
  runner-up's by ``lead``", for a grid of both: the answers it adds on BANKING77's *training*
  questions (none a FAQ phrasing; where the grid is read) and how often they are right, the
  test split's figures, the shop's phrasings the bank's bot now answers, the bank's training
  questions the shop now answers, and the shop's validation questions it now answers
  (scripts/data/demo_validation.jsonl), right or wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grey_zone_agreement import DATASET, match_all, training_questions

from parley.bench.faq import Dataset, out_of_scope_queries, setup_bot
from parley.bench.servers import ParleyServer
from shared.embeddings.onnx import INT8_CALIBRATION
from shared.rag.faq_match import FaqCandidate, confidence

DEMO = Path(__file__).resolve().parents[1] / "shared" / "demo"
VALIDATION = Path(__file__).resolve().parent / "data" / "demo_validation.jsonl"


@dataclass(frozen=True)
class Match:
    best: str | None  # the dataset's id of the top FAQ
    confidence: float
    lead: float  # the top score over the runner-up's (0 without one)


def matched(data: Dataset, questions: list[str], state: Path) -> list[Match]:
    server = ParleyServer(state, {"PARLEY_DEMO": "0"})
    try:
        bot_id, _, mapping = setup_bot(server, data)
        results = asyncio.run(match_all(server, bot_id, questions))
    finally:
        server.stop()
    out = []
    for rows in results:
        candidates = [FaqCandidate(r["id"], r["question"], r["answer"], r["score"]) for r in rows]
        best = mapping[str(candidates[0].faq_id)] if candidates else None
        lead = candidates[0].score - candidates[1].score if len(candidates) > 1 else 0.0
        out.append(Match(best, confidence(candidates), lead))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=3000)
    args = parser.parse_args()
    bank = Dataset.load(DATASET)
    shop = Dataset(Dataset.load_faqs(DEMO), [])
    training = training_questions(bank, args.sample)
    validation = [json.loads(line) for line in VALIDATION.read_text().splitlines() if line]
    by_question = {f["question"]: f["id"] for f in shop.faqs}
    shop_right = [
        {by_question[a[4:]] for a in v["accept"] if a.startswith("faq:")} for v in validation
    ]
    phrasings = [q["text"] for q in out_of_scope_queries(DEMO)]
    with tempfile.TemporaryDirectory() as tmp:
        asked = [t for t, _ in training] + [q["text"] for q in bank.queries] + phrasings
        at_bank = matched(bank, asked, Path(tmp) / "bank")
        at_shop = matched(
            shop, [t for t, _ in training] + [v["question"] for v in validation], Path(tmp) / "shop"
        )
    train_m, rest = at_bank[: len(training)], at_bank[len(training) :]
    test_m, foreign = rest[: len(bank.queries)], rest[len(bank.queries) :]
    bank_at_shop, valid_m = at_shop[: len(training)], at_shop[len(training) :]
    train_ok = [
        m.best is not None and m.best.lower() == c.lower()
        for m, (_, c) in zip(train_m, training, strict=True)
    ]
    test_ok = [m.best == q["expected_faq_id"] for m, q in zip(test_m, bank.queries, strict=True)]

    def figures(answers: Callable[[Match], bool], matches: list[Match], ok: list[bool]) -> str:
        given = [o for m, o in zip(matches, ok, strict=True) if answers(m)]
        share = sum(given) / max(len(given), 1)
        return f"{sum(given) / len(matches):6.1%} right over all, {share:6.1%} of answers"

    def answered(rule: Callable[[Match], bool], matches: list[Match]) -> str:
        return f"{sum(map(rule, matches)) / len(matches):5.1%}"

    threshold = INT8_CALIBRATION.faq_threshold
    print(f"The threshold alone ({len(bank.queries)} test questions, {len(phrasings)} foreign)")
    for step in range(16):
        bar = 0.50 + step * 0.02
        kept = sum(m.confidence < bar for m in foreign) / len(foreign)
        right = sum(o for m, o in zip(test_m, test_ok, strict=True) if m.confidence >= bar)

        def at_bar(m: Match, b: float = bar) -> bool:
            return m.confidence >= b

        print(
            f"  {bar:.2f}: {figures(at_bar, test_m, test_ok)}; "
            f"foreign kept out {kept:6.1%}; mean {(right / len(test_m) + kept) / 2:6.1%}"
        )

    print(f"\nA clear lead under the threshold ({threshold}); training questions: {len(training)}")

    def alone(m: Match) -> bool:
        return m.confidence >= threshold

    print(
        f"  the threshold alone: test {figures(alone, test_m, test_ok)} | foreign answered "
        f"{answered(alone, foreign)} | bank at the shop {answered(alone, bank_at_shop)}"
    )
    for below in (0.03, 0.05, 0.07, 0.09, 0.11, 0.15):
        for lead in (0.06, 0.08, 0.10, 0.12, 0.14):

            def door(m: Match, b: float = below, x: float = lead) -> bool:
                return threshold - b <= m.confidence < threshold and m.lead >= x

            def rule(m: Match, b: float = below, x: float = lead) -> bool:
                return m.confidence >= threshold or door(m, b, x)

            added = [o for m, o in zip(train_m, train_ok, strict=True) if door(m)]
            shop_added = [m.best in r for m, r in zip(valid_m, shop_right, strict=True) if door(m)]
            wrong = len(shop_added) - sum(shop_added)
            print(
                f"  below {below:.2f} lead {lead:.2f}: adds {len(added) / len(train_m):5.1%} "
                f"({sum(added) / max(len(added), 1):5.1%} right) | test "
                f"{figures(rule, test_m, test_ok)} | foreign answered {answered(rule, foreign)}"
                f" | bank at the shop {answered(rule, bank_at_shop)}"
                f" | shop validation +{sum(shop_added)} right +{wrong} wrong"
            )


if __name__ == "__main__":
    main()
