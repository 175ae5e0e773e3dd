"""An erased conversation leaves the answer cache entirely: both layers, every process
sharing the folder, and every byte of the folder (SQLite's free pages and its log)."""

from __future__ import annotations

import uuid

import numpy as np

from shared.cache import SEMANTIC_ENTRIES, AnswerCache, CachedAnswer, Verdict


def _folder_bytes(folder) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_forgetting_a_conversation_leaves_no_bytes_behind(tmp_path):
    folder = tmp_path / "cache"
    cache, other_process = AnswerCache(folder), AnswerCache(folder)
    bot, erased, kept = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for i in range(40):  # enough rows that deleted ones leave free pages behind
        cache.put(
            bot, 1, f"question {i}", CachedAnswer(f"filler {i} " * 30, "faq"), conversation_id=kept
        )
    vector = np.ones(8, np.float32) / np.sqrt(8)
    answer = CachedAnswer("Parcel MARKER-7781 left today.", "rag")
    cache.put(bot, 1, "Where is MARKER-7781?", answer, conversation_id=erased, vector=vector)
    cache.scrub()
    assert b"MARKER-7781" in _folder_bytes(folder)
    assert other_process.get_similar(bot, 1, "Where is MARKER-7781?", vector) == answer

    assert cache.forget_conversation(erased) == 1
    cache.scrub()
    assert b"MARKER-7781" not in _folder_bytes(folder)
    assert other_process.get(bot, 1, "Where is MARKER-7781?") is None
    assert other_process.get_similar(bot, 1, "Where is MARKER-7781?", vector) is None
    assert other_process.get(bot, 1, "question 3") is not None  # others' entries stay
    assert cache.forget_conversation(erased) == 0


def test_a_long_conversations_faq_answers_and_verdicts_are_all_erased(tmp_path):
    """GIVEN a conversation with many cached FAQ answers and an LLM verdict, and another
    conversation's answer, WHEN the first is erased, THEN every entry it made is gone (and
    counted) and the other conversation's answer stays."""
    cache = AnswerCache(tmp_path / "cache")
    bot, erased, kept = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for i in range(150):
        cache.put(
            bot, 1, f"question {i}", CachedAnswer(f"answer {i}", "faq"), conversation_id=erased
        )
    cache.put_verdict(bot, 1, "grey question", Verdict(None), conversation_id=erased)
    cache.put(bot, 1, "hours?", CachedAnswer("9-17", "faq"), conversation_id=kept)

    assert cache.forget_conversation(erased) == 151
    assert all(cache.get(bot, 1, f"question {i}") is None for i in range(150))
    assert cache.get_verdict(bot, 1, "grey question") is None
    assert cache.get(bot, 1, "hours?") == CachedAnswer("9-17", "faq")


def test_entries_cached_before_an_upgrade_are_still_erased(tmp_path):
    """Entries written by the version before (untagged, listed under their conversation)
    live for a day after an upgrade; an erasure in that day still finds them."""
    cache = AnswerCache(tmp_path / "cache")
    bot, erased = uuid.uuid4(), uuid.uuid4()
    key = AnswerCache._key(bot, 1, "Where is MARKER-7781?")
    entry = {"answer": {"answer": "MARKER-7781 left today.", "source": "faq"}}
    cache._cache.set(key, {**entry, "conversations": [str(erased)]})
    cache._cache.set(f"c:{erased}", [key])
    assert cache.get(bot, 1, "Where is MARKER-7781?") is not None

    assert cache.forget_conversation(erased) == 1
    assert cache.get(bot, 1, "Where is MARKER-7781?") is None


def test_offboarding_drops_every_entry_of_the_bots(tmp_path):
    cache = AnswerCache(tmp_path / "cache")
    gone, stays = uuid.uuid4(), uuid.uuid4()
    for bot in (gone, stays):
        cache.put(bot, 1, "hours?", CachedAnswer("9-17", "faq"), conversation_id=uuid.uuid4())
    assert cache.forget_bots({gone}) == 1
    assert cache.get(gone, 1, "hours?") is None
    assert cache.get(stays, 1, "hours?") is not None


def _basis(i: int, dim: int = 384) -> np.ndarray:
    row = np.zeros(dim, np.float32)
    row[i % dim] = 1.0
    return row


def test_the_meaning_layer_keeps_the_most_recent_answers(tmp_path):
    """GIVEN one more generated answer than the layer holds, THEN the oldest is no longer
    found by meaning (its exact entry stays) and the newest is."""
    cache = AnswerCache(tmp_path / "cache")
    bot = uuid.uuid4()
    for i in range(SEMANTIC_ENTRIES + 1):
        answer = CachedAnswer(f"answer {i}", "rag")
        cache.put(bot, 1, f"question {i}", answer, conversation_id=uuid.uuid4(), vector=_basis(i))
    assert cache.get_similar(bot, 1, "question 0", _basis(0)) is None
    assert cache.get(bot, 1, "question 0") == CachedAnswer("answer 0", "rag")
    newest = cache.get_similar(bot, 1, f"question {SEMANTIC_ENTRIES}", _basis(SEMANTIC_ENTRIES))
    assert newest == CachedAnswer(f"answer {SEMANTIC_ENTRIES}", "rag")


def test_a_closer_answer_to_a_negated_question_does_not_hide_the_right_one(tmp_path):
    """GIVEN the nearest answer in meaning came from a negated question and a slightly
    farther one from a question like the new one, THEN the farther one is reused."""
    cache = AnswerCache(tmp_path / "cache")
    bot = uuid.uuid4()
    near = _basis(0)
    farther = (0.95 * _basis(0) + np.sqrt(1 - 0.95**2) * _basis(1)).astype(np.float32)
    negated = CachedAnswer("You cannot.", "rag")
    plain = CachedAnswer("You can, within 30 days.", "rag")
    cache.put(bot, 1, "Can't I return it?", negated, conversation_id=uuid.uuid4(), vector=near)
    cache.put(bot, 1, "Can I return it?", plain, conversation_id=uuid.uuid4(), vector=farther)
    assert cache.get_similar(bot, 1, "Could I return it?", near) == plain
    assert cache.get_similar(bot, 1, "Could I return it in 14 days?", near) is None


def test_a_meaning_layer_in_the_older_layout_is_read_as_empty_and_replaced(tmp_path):
    """An upgrade keeps serving: the list of entries earlier versions stored is not read
    (no error), and the next generated answer starts the layer afresh."""
    cache = AnswerCache(tmp_path / "cache")
    bot = uuid.uuid4()
    old = [{"key": "a:x", "vector": _basis(0).tobytes(), "guard": (False, [])}]
    cache._cache.set(f"s:{bot}:1", old)
    assert cache.get_similar(bot, 1, "Where is my parcel?", _basis(0)) is None
    answer = CachedAnswer("It left today.", "rag")
    cache.put(bot, 1, "Where is my parcel?", answer, conversation_id=uuid.uuid4(), vector=_basis(0))
    assert cache.get_similar(bot, 1, "Where's my parcel?", _basis(0)) == answer
