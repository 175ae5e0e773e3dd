"""Does full-text agreement make a grey-zone FAQ match trustworthy? (docs/faq-matching.md)

    python3 scripts/grey_zone_agreement.py [--sample 3000]

On BANKING77's *training* split (questions that are not FAQ phrasings; no test data), each
question is matched by the server's own statement on a ``parley serve`` of its own, and the
grey zone (the default model's floor up to its threshold) is split by whether the full-text
term ranks the top FAQ first as well. Prints each part's share of all questions and how
often its top FAQ is the right one.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import tempfile
from pathlib import Path
from typing import Any
from uuid import UUID

from parley.bench.faq import Dataset, setup_bot
from parley.bench.model import local_model
from parley.bench.servers import ParleyServer
from shared.db import faqs
from shared.db.pool import Database
from shared.embeddings.base import DEFAULT_CALIBRATION
from shared.rag.faq_match import LEXICAL_WEIGHT, FaqCandidate, confidence

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "banking77"


def training_questions(data: Dataset, sample: int) -> list[tuple[str, str]]:
    have = {t for f in data.faqs for t in [f["question"], *f["alternatives"]]}
    with (DATASET / "train.csv").open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["text"] not in have]
    random.Random(3).shuffle(rows)
    return [(r["text"], r["category"]) for r in rows[:sample]]


async def match_all(server: ParleyServer, bot_id: str, questions: list[str]) -> list[Any]:
    vectors = local_model().encode(questions)
    db = Database(f"postgresql://postgres@/postgres?host={server.data_dir / 'pg'}")
    try:
        async with db.connection() as conn:
            return [
                await faqs.match_rows(
                    conn,
                    bot_id=UUID(bot_id),
                    text=text,
                    vector=vector,
                    lexical_weight=LEXICAL_WEIGHT,
                    limit=5,
                )
                for text, vector in zip(questions, vectors, strict=True)
            ]
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=3000)
    args = parser.parse_args()
    data = Dataset.load(DATASET)
    asked = training_questions(data, args.sample)
    with tempfile.TemporaryDirectory() as tmp:
        server = ParleyServer(Path(tmp) / "state", {"PARLEY_DEMO": "0"})
        try:
            bot_id, _, mapping = setup_bot(server, data)
            results = asyncio.run(match_all(server, bot_id, [text for text, _ in asked]))
        finally:
            server.stop()
    floor, threshold = DEFAULT_CALIBRATION.grey_floor, DEFAULT_CALIBRATION.faq_threshold
    parts: dict[str, list[bool]] = {"grey zone": [], "full text agrees": [], "leads 1.5x": []}
    for (_, intent), rows in zip(asked, results, strict=True):
        if not rows:
            continue
        candidates = [FaqCandidate(r["id"], r["question"], r["answer"], r["score"]) for r in rows]
        if not floor <= confidence(candidates) < threshold:
            continue
        right = mapping[str(rows[0]["id"])].lower() == intent.lower()
        lexical = sorted((float(r["lexical"]) for r in rows), reverse=True)
        top = float(rows[0]["lexical"])
        parts["grey zone"].append(right)
        if top > 0 and top == lexical[0]:
            parts["full text agrees"].append(right)
            if len(lexical) < 2 or top >= 1.5 * lexical[1]:
                parts["leads 1.5x"].append(right)
    print(f"{len(asked)} training questions, grey zone [{floor}, {threshold})")
    for name, rights in parts.items():
        share, precision = len(rights) / len(asked), sum(rights) / max(len(rights), 1)
        print(f"  {name:18s} {share:6.1%} of questions, top FAQ right {precision:6.1%}")


if __name__ == "__main__":
    main()
