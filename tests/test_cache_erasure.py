"""An erased conversation leaves the answer cache entirely: both layers, every process
sharing the folder, and every byte of the folder (SQLite's free pages and its log)."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest

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
    vector = np.arange(1, 9, dtype=np.float32) / np.sqrt(204)  # bytes found nowhere else
    answer = CachedAnswer("Parcel MARKER-7781 left today.", "rag")
    cache.put(bot, 1, "Where is MARKER-7781?", answer, conversation_id=erased, vector=vector)
    cache.scrub()
    assert b"MARKER-7781" in _folder_bytes(folder)
    assert other_process.get_similar(bot, 1, "Where is MARKER-7781?", vector) == answer

    assert cache.forget_conversation(erased) == 1
    cache.scrub()
    assert b"MARKER-7781" not in _folder_bytes(folder)
    assert vector.tobytes() not in _folder_bytes(folder)  # nor its question's vector
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


def _one_matrix_layout(key: str) -> bytes:
    """A layer as the version before stored it: one value, a JSON header, then the rows."""
    header = json.dumps({"keys": [key], "guards": ["|"]}).encode()
    header += b" " * (-(4 + len(header)) % 16)
    return len(header).to_bytes(4, "little") + header + _basis(0).tobytes()


@pytest.mark.parametrize(
    "old",
    [
        [{"key": "a:x", "vector": _basis(0).tobytes(), "guard": (False, [])}],  # a list
        _one_matrix_layout("a:x"),
    ],
    ids=["list of entries", "one matrix"],
)
def test_a_meaning_layer_in_an_older_layout_is_read_as_empty_and_replaced(tmp_path, old):
    """An upgrade keeps serving: a layer earlier versions stored is not read (no error),
    and the next generated answer starts the layer afresh."""
    cache = AnswerCache(tmp_path / "cache")
    bot = uuid.uuid4()
    cache._cache.set(f"s:{bot}:1", old)
    assert cache.get_similar(bot, 1, "Where is my parcel?", _basis(0)) is None
    answer = CachedAnswer("It left today.", "rag")
    cache.put(bot, 1, "Where is my parcel?", answer, conversation_id=uuid.uuid4(), vector=_basis(0))
    assert cache.get_similar(bot, 1, "Where's my parcel?", _basis(0)) == answer


def test_a_process_sees_the_answers_another_adds_and_erases(tmp_path):
    """GIVEN two processes on one cache folder, one of which has looked the layer up (and
    holds it), WHEN the other adds a generated answer and then erases it, THEN the first
    finds the answer by meaning after the add and no longer after the erasure."""
    folder = tmp_path / "cache"
    writer, reader = AnswerCache(folder), AnswerCache(folder)
    bot, conversation = uuid.uuid4(), uuid.uuid4()
    first = CachedAnswer("It left today.", "rag")
    writer.put(bot, 1, "Where is my parcel?", first, conversation_id=uuid.uuid4(), vector=_basis(0))
    assert reader.get_similar(bot, 1, "Where's my parcel?", _basis(0)) == first
    assert reader.get_similar(bot, 1, "Do you rent canoes?", _basis(1)) is None

    second = CachedAnswer("Yes, by the week.", "rag")
    writer.put(
        bot, 1, "Can I rent a canoe?", second, conversation_id=conversation, vector=_basis(1)
    )
    assert reader.get_similar(bot, 1, "Do you rent canoes?", _basis(1)) == second
    writer.forget_conversation(conversation)
    assert reader.get_similar(bot, 1, "Do you rent canoes?", _basis(1)) is None
    assert reader.get_similar(bot, 1, "Where's my parcel?", _basis(0)) == first

    # each adds one after the other: the reader's own add keeps the writer's
    third = CachedAnswer("Within 30 days.", "rag")
    writer.put(bot, 1, "How long to return?", third, conversation_id=uuid.uuid4(), vector=_basis(2))
    fourth = CachedAnswer("No.", "rag")
    reader.put(
        bot, 1, "Do you ship to Mars?", fourth, conversation_id=uuid.uuid4(), vector=_basis(3)
    )
    assert reader.get_similar(bot, 1, "Return window?", _basis(2)) == third
    assert writer.get_similar(bot, 1, "Shipping to Mars?", _basis(3)) == fourth


def test_an_answer_cached_again_counts_as_recent(tmp_path):
    """GIVEN a full layer whose oldest answer is cached again, WHEN one more answer comes,
    THEN the answer cached again is still found by meaning and the next oldest is not."""
    cache = AnswerCache(tmp_path / "cache")
    bot = uuid.uuid4()

    def put(i: int) -> None:
        answer = CachedAnswer(f"answer {i}", "rag")
        cache.put(bot, 1, f"question {i}", answer, conversation_id=uuid.uuid4(), vector=_basis(i))

    for i in range(SEMANTIC_ENTRIES):
        put(i)
    put(0)
    put(SEMANTIC_ENTRIES)
    assert cache.get_similar(bot, 1, "question 0", _basis(0)) == CachedAnswer("answer 0", "rag")
    assert cache.get_similar(bot, 1, "question 1", _basis(1)) is None
    assert cache.get_similar(bot, 1, "question 2", _basis(2)) == CachedAnswer("answer 2", "rag")
