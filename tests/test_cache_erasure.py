"""An erased conversation leaves the answer cache entirely: both layers, every process
sharing the folder, and every byte of the folder (SQLite's free pages and its log)."""

from __future__ import annotations

import uuid

import numpy as np

from shared.cache import AnswerCache, CachedAnswer


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


def test_offboarding_drops_every_entry_of_the_bots(tmp_path):
    cache = AnswerCache(tmp_path / "cache")
    gone, stays = uuid.uuid4(), uuid.uuid4()
    for bot in (gone, stays):
        cache.put(bot, 1, "hours?", CachedAnswer("9-17", "faq"), conversation_id=uuid.uuid4())
    assert cache.forget_bots({gone}) == 1
    assert cache.get(gone, 1, "hours?") is None
    assert cache.get(stays, 1, "hours?") is not None
