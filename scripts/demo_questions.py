"""What the demo shop answers, offline, to questions a visitor might ask.

    python3 scripts/demo_questions.py [--validation | --questions queries.jsonl] [--faq-only]
                                      [--out answers.jsonl]

Starts a ``parley serve`` of its own with the demo shop (no LLM: the extractive answers),
asks each question through ``POST /v1/chat`` at default settings, and prints one line a
question: where the answer came from, the rule that chose it (``why``), the FAQ match's
confidence and the start of the answer. None of the questions is one of the demo FAQ's own
phrasings; they paraphrase the FAQs, ask what only the documents hold, or ask what nothing
answers.

Two sets. The fifty below are the *test* set, judged answer by answer in
docs/faq-matching.md: compare them at two commits to see which answers a change moves, and
do not tune on them. ``--validation`` asks the 42 of ``scripts/data/demo_validation.jsonl``
instead, written afterwards and apart from them, each with the answers that count as right
(``faq:<the FAQ's question>``, ``doc:<words the documents' answer must hold>``, or ``none``
for the handoff text): it scores itself, and is the set to tune offline rules on.
``--questions`` asks the ``text`` of each line of a JSON-lines file instead (another data
set's questions, which the shop should mostly not answer: BANKING77's test questions in
``../shared/datasets/banking77/queries.jsonl``) and prints how many each rule answered, the
FAQs offered with the handoff text, and the FAQ answers given below the threshold.
``--faq-only`` deletes the shop's documents first (through the admin API), for a shop that
has only its FAQ, ``--documents-only`` deletes its FAQs instead. ``--german`` makes the shop
a German one (the bot's language set to German, its FAQs and documents replaced by the German
ones of ``scripts/data/de/``: the FAQs and policies translated) and asks a scored German set:
``validation`` (the default; ``scripts/data/demo_validation_de.jsonl``, what the policies
say, right from the documents or from a FAQ whose answer says it too; the set to tune German
rules on), ``test`` (``demo_test_de.jsonl``, written afterwards, to check on),
``faq-validation`` and ``faq-test`` (``demo_faq_*_de.jsonl``, paraphrases of the FAQs, the
test set written after the validation set): the German path offline (multilingual-e5, the
offline answerer in German).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path

import httpx2

from parley.bench.servers import ParleyServer

QUESTIONS = [
    "How much is shipping for a canoe?",
    "Do you ship to Canada?",
    "Is express shipping available to the UK?",
    "Which items can't be returned?",
    "Can I return a personalised item?",
    "Do I pay customs to Switzerland?",
    "How much does delivery cost?",
    "What does shipping to Austria cost?",
    "Is delivery free over 50 euros?",
    "How long does shipping to Germany take?",
    "When does my parcel arrive?",
    "Do you ship to France?",
    "Where is my package?",
    "Can I cancel my purchase?",
    "How many days do I have to send an item back?",
    "Is returning free?",
    "When do I get my money back?",
    "Can I swap these boots for a bigger size?",
    "Do you accept PayPal?",
    "Can I pay with Klarna?",
    "Where do I put my voucher code?",
    "Do you have gift vouchers?",
    "How long is the guarantee on a tent?",
    "My zip broke, how do I claim warranty?",
    "Can you repair my sleeping bag?",
    "Do your hiking boots run large?",
    "Is the jacket back in stock soon?",
    "Where is your shop in Berlin?",
    "Can I collect my order in the shop?",
    "Can I order without an account?",
    "I can't remember my password",
    "Please delete my data",
    "How do I stop the newsletter?",
    "Is your down responsibly sourced?",
    "Can I tumble dry my waterproof jacket?",
    "Will you match a cheaper price?",
    "My tent arrived damaged",
    "What is your phone number?",
    "Can I rent a canoe?",
    "Do you rent sleeping bags?",
    "How much does shipping a tent cost?",
    "How much is express shipping to Austria?",
    "Does the warranty cover UV damage?",
    "Can I return a canoe?",
    "How long does delivery of bulky items take?",
    "Can I ship a kayak to Norway?",
    "Is there a fee for returns from Switzerland?",
    "How much does shipping to Norway cost?",
    "Can I pay by bank transfer?",
    "Do you ship gas cartridges?",
]


VALIDATION = Path(__file__).parent / "data" / "demo_validation.jsonl"
GERMAN = Path(__file__).parent / "data" / "de"
GERMAN_SETS = {
    name: Path(__file__).parent / "data" / f"demo_{name.replace('-', '_')}_de.jsonl"
    for name in ("validation", "test", "faq-validation", "faq-test")
}


def ask_all(
    questions: list[str],
    *,
    faq_only: bool = False,
    documents_only: bool = False,
    german: bool = False,
) -> list[dict[str, object]]:
    """Each question's answer from a fresh demo shop (German: ``german``; without its
    documents: ``faq_only``; without its FAQs: ``documents_only``): source, rule, confidence,
    answer."""
    lines: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        # One caller asks them all: thousands a minute with --questions.
        env = {"PARLEY_DEMO": "1", "PARLEY_API_RATE_LIMIT": "1000000"}
        server = ParleyServer(Path(tmp) / "state", env)
        try:
            with httpx2.Client(base_url=server.url, timeout=60) as client:
                admin = {"Authorization": f"Bearer {server.login(client)}"}
                bot = client.get("/v1/admin/bots", headers=admin).json()["items"][0]
                if german:
                    make_german(client, admin, bot["id"])
                if faq_only:
                    delete_documents(client, admin, bot["id"])
                if documents_only:
                    delete_faqs(client, admin, bot["id"])
                key = client.post(
                    "/v1/admin/api-keys",
                    headers=admin,
                    json={"tenant_id": bot["tenant_id"], "kind": "secret", "role": "saas_user"},
                ).json()["key"]
                caller = {"Authorization": f"Bearer {key}"}
                listed = client.get(
                    f"/v1/admin/bots/{bot['id']}/faqs", params={"limit": 200}, headers=admin
                ).json()["items"]
                faq_questions = {faq["id"]: faq["question"] for faq in listed}
                for question in questions:
                    response = client.post(
                        "/v1/chat", json={"message": question, "bot_id": bot["id"]}, headers=caller
                    )
                    response.raise_for_status()
                    body = response.json()
                    why = body["why"] or {}
                    lines.append(
                        {
                            "question": question,
                            "source": body["source"],
                            "rule": why.get("rule"),
                            "faq_confidence": why.get("faq_confidence"),
                            "faq_lacks": why.get("faq_lacks"),
                            "closest_passage": why.get("closest_passage"),
                            "faq": faq_questions.get(body.get("faq_id") or ""),
                            "suggested": [s["question"] for s in body["suggestions"]],
                            "answer": body["answer"],
                        }
                    )
        finally:
            server.stop()
    return lines


def delete_documents(client: httpx2.Client, admin: dict[str, str], bot_id: str) -> None:
    documents = f"/v1/admin/bots/{bot_id}/documents"
    for document in client.get(documents, headers=admin).json()["items"]:
        client.delete(f"{documents}/{document['id']}", headers=admin).raise_for_status()


def delete_faqs(client: httpx2.Client, admin: dict[str, str], bot_id: str) -> None:
    faqs = f"/v1/admin/bots/{bot_id}/faqs"
    for faq in client.get(faqs, params={"limit": 200}, headers=admin).json()["items"]:
        client.delete(f"{faqs}/{faq['id']}", headers=admin).raise_for_status()


def make_german(client: httpx2.Client, admin: dict[str, str], bot_id: str) -> None:
    """The shop as a German one: its FAQs and documents replaced by the German ones."""
    delete_documents(client, admin, bot_id)
    delete_faqs(client, admin, bot_id)
    client.patch(
        f"/v1/admin/bots/{bot_id}", json={"language": "de"}, headers=admin
    ).raise_for_status()
    for line in (GERMAN / "faqs.jsonl").read_text(encoding="utf-8").splitlines():
        faq = json.loads(line)
        client.post(
            f"/v1/admin/bots/{bot_id}/faqs",
            json={k: faq[k] for k in ("question", "alternatives", "answer")},
            headers=admin,
        ).raise_for_status()
    for path in sorted(GERMAN.glob("*.md")):
        client.post(
            f"/v1/admin/bots/{bot_id}/documents",
            files={"file": (path.name, path.read_bytes(), "text/markdown")},
            headers=admin,
        ).raise_for_status()


def right(line: dict[str, object], accept: list[str]) -> bool:
    """Whether an answer is one of those that count as right for its question."""
    for wanted in accept:
        kind, _, what = wanted.partition(":")
        if kind == "faq" and line["source"] == "faq" and line["faq"] == what:
            return True
        if kind == "doc" and line["source"] == "rag" and what in str(line["answer"]):
            return True
        if kind == "none" and line["source"] == "fallback":
            return True
    return False


def offered_right(line: dict[str, object], accept: list[str]) -> bool:
    """Whether a fallback answer offered (``suggestions``) a FAQ that counts as right."""
    wanted = {what for kind, _, what in (a.partition(":") for a in accept) if kind == "faq"}
    return line["source"] == "fallback" and bool(wanted & set(_listed(line["suggested"])))


def _listed(value: object) -> list[object]:
    assert isinstance(value, list)
    return value


def tally(lines: list[dict[str, object]]) -> None:
    """How many questions each rule answered, how many handed over were offered FAQs (and
    which), and which FAQ answered below its threshold."""
    rules = Counter(f"{line['source']} / {line['rule']}" for line in lines)
    for rule, count in rules.most_common():
        print(f"{count:6d}  {rule}")
    offered = Counter(q for line in lines for q in _listed(line["suggested"]))
    with_offers = sum(1 for line in lines if line["suggested"])
    print(
        f"{with_offers:6d}  handed over with FAQs offered: "
        + ", ".join(f"{q} ({n})" for q, n in offered.most_common())
    )
    for line in lines:
        if line["rule"] == "faq_answer_agrees":
            print(f"  {line['question']}\n      -> {line['faq']}")


def main(
    out: Path | None,
    validation: bool,
    questions: Path | None,
    shop: dict[str, bool],
    german: str | None,
) -> None:
    """``shop``: what ``ask_all`` changes in the demo shop first."""
    if questions is not None:
        texts = [json.loads(line)["text"] for line in questions.read_text().splitlines() if line]
        lines = ask_all(texts, **shop)
        tally(lines)
    else:
        lines = ask_set(validation, shop, german)
    if out is not None:
        out.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))


def ask_set(
    validation: bool, shop: dict[str, bool], german: str | None = None
) -> list[dict[str, object]]:
    """The fifty or a scored set (a German one with ``german``), each answer printed (and a
    scored set's scored)."""
    validation = validation or german is not None
    if validation:
        scored_set = GERMAN_SETS[german] if german else VALIDATION
        wanted = [json.loads(line) for line in scored_set.read_text().splitlines() if line]
        questions = [w["question"] for w in wanted]
        lines = ask_all(questions, **shop)
        for line, w in zip(lines, wanted, strict=True):
            line["right"] = right(line, w["accept"])
            line["offered_right"] = offered_right(line, w["accept"])
    else:
        lines = ask_all(QUESTIONS, **shop)
    for line in lines:
        confidence = line["faq_confidence"]
        verdict = "" if "right" not in line else ("right  " if line["right"] else "WRONG  ")
        print(
            f"{verdict}{line['source']!s:8s} {line['rule'] or '':20s}"
            f" {'' if confidence is None else f'{confidence:.3f}':5s}  {line['question']}"
            f"\n{'':36s}{str(line['answer'])[:100]}"
            + "".join(f"\n{'':36s}offered: {q}" for q in _listed(line["suggested"]))
        )
    if validation:
        scored = sum(1 for line in lines if line["right"])
        offered = sum(1 for line in lines if line["offered_right"] and not line["right"])
        print(
            f"{german or 'validation'}: {scored} of {len(lines)} answered right;"
            f" {offered} more handed over offering a right FAQ"
        )
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the answers as JSON lines")
    parser.add_argument(
        "--validation", action="store_true", help="ask the scored validation set instead"
    )
    parser.add_argument(
        "--questions", type=Path, help="ask the text of each line of this JSON-lines file"
    )
    parser.add_argument("--faq-only", action="store_true", help="delete the shop's documents first")
    parser.add_argument(
        "--documents-only", action="store_true", help="delete the shop's FAQs first"
    )
    parser.add_argument(
        "--german",
        nargs="?",
        const="validation",
        choices=sorted(GERMAN_SETS),
        help="the shop in German (its FAQs and policies translated), asked a scored German set",
    )
    arguments = parser.parse_args()
    shop = {
        "faq_only": arguments.faq_only,
        "documents_only": arguments.documents_only,
        "german": arguments.german is not None,
    }
    main(arguments.out, arguments.validation, arguments.questions, shop, arguments.german)
