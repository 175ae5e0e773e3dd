"""``parley bench faq --extra-phrasings K``: each FAQ gets K more phrasings of its own intent
from the dataset's training split, the same ones on every run, none it already had."""

from __future__ import annotations

from parley.bench.faq import with_extra_phrasings

FAQS = [
    {"id": "card_arrival", "question": "Where is my card?", "alternatives": ["Card not here"]},
    {"id": "top_up", "question": "How do I top up?", "alternatives": []},
]
TRAIN = """text,category
Where is my card?,card_arrival
My card has not arrived,card_arrival
"When will my card come, please?",card_arrival
Still waiting for the card,card_arrival
Can I add money by transfer?,top_up
"""


def test_extra_phrasings_come_from_the_faqs_own_intent_and_repeat(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text(TRAIN)
    first = with_extra_phrasings(FAQS, train, 2)
    card, top_up = first
    assert card["alternatives"][0] == "Card not here"  # the FAQ's own stay first
    added = card["alternatives"][1:]
    assert len(set(added)) == len(added) == 2
    assert set(added) <= {
        "My card has not arrived",
        "When will my card come, please?",
        "Still waiting for the card",
    }  # never the question it already has
    assert top_up["alternatives"] == ["Can I add money by transfer?"]  # all its intent has
    assert with_extra_phrasings(FAQS, train, 2) == first  # the same on every run
    assert FAQS[1]["alternatives"] == []  # the dataset itself is left as it was


def test_extra_phrasings_stop_at_what_the_api_accepts(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text(
        "text,category\n" + "".join(f"Card question {n},card_arrival\n" for n in range(40))
    )
    (card, _) = with_extra_phrasings(FAQS, train, 30)
    assert len(card["alternatives"]) == 20
