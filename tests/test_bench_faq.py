"""``parley bench faq --extra-phrasings K``: each FAQ gets K more phrasings of its own intent
from the dataset's training split, the same ones on every run, none it already had."""

from __future__ import annotations

from pathlib import Path

import httpx2

from parley.bench.faq import ORIGIN, Dataset, setup_bot, with_extra_phrasings
from parley.bench.faq_learning import learn
from parley.bench.servers import ParleyServer
from shared.faq_import import MAX_ALTERNATIVES

DEMO = Path(__file__).parents[1] / "shared" / "demo"

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
        "text,category\n" + "".join(f"Card question {n},card_arrival\n" for n in range(80))
    )
    (card, _) = with_extra_phrasings(FAQS, train, 60)
    assert len(card["alternatives"]) == MAX_ALTERNATIVES


def test_learning_adds_a_taken_offer_to_its_faq_and_the_next_visitor_is_answered(tmp_path):
    """``--learn``: a visitor handed over takes the right FAQ offered; the owner adds the
    gap's phrasing to it; the same question is then answered from that FAQ."""
    data = Dataset(faqs=Dataset.load_faqs(DEMO), queries=[])
    server = ParleyServer(tmp_path / "state", {"PARLEY_DEMO": "0"})
    try:
        bot_id, key, mapping = setup_bot(server, data)
        visitor = {"Authorization": f"Bearer {key}", "Origin": ORIGIN}
        learnt = learn(
            server,
            visitor,
            bot_id,
            mapping,
            [
                ("Can I use fabric softener on my rain jacket?", "care-waterproof"),  # taken
                ("What is the capital of France?", "none"),  # nothing offered
            ],
        )
        assert (learnt.handed_over, learnt.offered_right) == (2, 1)
        assert (learnt.phrasings_added, learnt.added_to_their_intent) == (1, 1)
        assert learnt.gaps_seen == 2  # the other dismissed
        with httpx2.Client(base_url=server.url, headers=visitor) as client:
            message = {"message": "Can I use fabric softener on my rain jacket?"}
            body = client.post("/v1/chat", json=message)
        assert body.json()["source"] == "faq"
        assert mapping[body.json()["faq_id"]] == "care-waterproof"
    finally:
        server.stop()
