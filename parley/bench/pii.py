"""``parley bench pii``: how often the personal-data detectors fire on text that holds no
personal data (false positives), how much they find in text that does, and their cost.

False positives: the demo shop's FAQ (questions, their alternatives and answers) and
documents, and a public set of bank customers' questions (BANKING77, ``--dataset``) — none
holds anyone's personal data, so every detection is a false one (each is printed). Found:
the same kinds of sentence with generated values (valid IBANs and card numbers, phone
numbers and order references as shops see them), seeded so every run draws the same.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections import Counter
from pathlib import Path

from shared.privacy.detectors import find_all, luhn_valid

DEMO = Path(__file__).resolve().parents[2] / "shared" / "demo"


def _demo_texts() -> list[str]:
    texts = []
    for line in (DEMO / "faqs.jsonl").read_text(encoding="utf-8").splitlines():
        faq = json.loads(line)
        texts += [faq["question"], *faq.get("alternatives", []), faq["answer"]]
    for document in sorted((DEMO / "documents").glob("*.md")):
        texts += [p for p in document.read_text(encoding="utf-8").split("\n") if p.strip()]
    return texts


def _questions(dataset: Path) -> list[str]:
    lines = (dataset / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines]


def _iban(rng: random.Random) -> str:
    account = "".join(rng.choice("0123456789") for _ in range(18))
    check = 98 - int("".join(str(int(c, 36)) for c in account + "DE00")) % 97
    compact = f"DE{check:02d}{account}"
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def _card(rng: random.Random) -> str:
    while True:
        digits = "4" + "".join(rng.choice("0123456789") for _ in range(15))
        if luhn_valid(digits):
            return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


def _with_values(rng: random.Random, count: int) -> list[tuple[str, str, str]]:
    """(kind, value, sentence) with generated values."""
    makers = {
        "EMAIL": lambda: (
            f"{rng.choice(['jana', 'tom.b', 'k_mueller'])}{rng.randint(1, 99)}"
            f"@{rng.choice(['example.org', 'mail.example.de', 'shop.example.co.uk'])}"
        ),
        "PHONE": lambda: rng.choice(
            [
                f"+49 {rng.randint(150, 179)} {rng.randint(1000000, 9999999)}",
                f"0{rng.randint(30, 89)} {rng.randint(100000, 9999999)}",
                f"+44 20 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
            ]
        ),
        "IBAN": lambda: _iban(rng),
        "CARD": lambda: _card(rng),
        "ORDER": lambda: rng.choice(
            [f"FW-{rng.randint(10000, 99999)}", str(rng.randint(100000, 999999))]
        ),
    }
    templates = {
        "EMAIL": ["Please write to {} about it.", "My e-mail is {}", "Kontakt: {} danke"],
        "PHONE": ["Call me on {} after five.", "Meine Nummer ist {}.", "phone: {}"],
        "IBAN": ["Refund it to {} please.", "IBAN {}", "Bitte auf {} überweisen."],
        "CARD": ["I paid with {} yesterday.", "card number {}", "Karte {} wurde belastet"],
        "ORDER": ["Where is order #{}?", "My order number is {}.", "Bestellnummer {} fehlt"],
    }
    out = []
    for n in range(count):
        kind = list(makers)[n % len(makers)]
        value = makers[kind]()
        out.append((kind, value, rng.choice(templates[kind]).format(value)))
    return out


def run(dataset: Path | None) -> None:
    sets = {"demo FAQ and documents": _demo_texts()}
    if dataset is not None:
        sets[f"{dataset.name} questions"] = _questions(dataset)
    print("parley bench pii: detections in text that holds no personal data (false positives)")
    for name, texts in sets.items():
        started = time.perf_counter()
        hits = [(text, find_all(text)) for text in texts]
        micros = (time.perf_counter() - started) / len(texts) * 1e6
        flagged = [(text, found) for text, found in hits if found]
        kinds = Counter(hit.kind for _, found in flagged for hit in found)
        print(
            f"  {name:32} {len(texts):6} texts  {len(flagged):4} flagged"
            f" ({len(flagged) / len(texts):.2%})  {dict(kinds) or ''}  {micros:.0f} µs/text"
        )
        for text, found in flagged[:10]:
            print(f"    {[(h.kind, h.value) for h in found]}  in  {text[:90]!r}")
    rng = random.Random(7)
    cases = _with_values(rng, 1000)
    found_right: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for kind, value, sentence in cases:
        totals[kind] += 1
        if any(hit.kind == kind and hit.value == value for hit in find_all(sentence)):
            found_right[kind] += 1
    print("  found in sentences with generated values (kind and exact value):")
    for kind in totals:
        print(f"    {kind:6} {found_right[kind]:4} / {totals[kind]}")
    overall = [found_right[k] / totals[k] for k in totals]
    print(f"    mean   {statistics.mean(overall):.1%}")
