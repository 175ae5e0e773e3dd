"""The answer cache (diskcache, shared by every process on the volume).

Two layers, both keyed by bot and knowledge-base version, so any change to a bot's FAQs
or documents (which bumps the version) makes its old entries unreachable:

- exact: the normalised question's SHA-256 (never the text itself) -> the answer;
- meaning: recent RAG answers with their question's embedding; a new question within
  ``SEMANTIC_THRESHOLD`` cosine of one of them, with the same negation and the same
  numbers, reuses its answer (threshold measured on BANKING77, docs/faq-matching.md;
  ``shared.meaning_layer`` keeps them).

Beside them, the LLM's verdicts on grey-zone FAQ matches (``shared.chat.faq_check``), under
the same key layout: which FAQ answers the question, or none.

Entries are tagged with the conversation they came from (diskcache's tags, indexed), so a
GDPR erasure finds them without a list to keep up to date at every answer; the SQLite file
overwrites what is deleted (``secure_delete``) and an erasure checkpoints the write-ahead log,
so an erased answer leaves no bytes behind in the cache folder.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import diskcache
import numpy as np
import numpy.typing as npt

from shared.embeddings.base import DEFAULT_CALIBRATION
from shared.meaning_layer import SLOTS, MeaningLayers, guard
from shared.text import normalize_question

TTL_SECONDS = 24 * 3600
SEMANTIC_THRESHOLD = DEFAULT_CALIBRATION.same_answer  # the default model's
SEMANTIC_ENTRIES = SLOTS


@dataclass
class CachedAnswer:
    answer: str
    source: str
    faq_id: str | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    matched_question: str | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class Verdict:
    faq_id: str | None  # the FAQ that answers the question; None: none of those shown


def _semantic_key(bot_id: UUID, kb_version: int) -> str:
    return f"s:{bot_id}:{kb_version}"


class AnswerCache:
    def __init__(self, directory: Path, *, ttl: float = TTL_SECONDS) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._cache = diskcache.Cache(
            str(directory),
            size_limit=512 * 1024 * 1024,
            sqlite_secure_delete=1,
            # diskcache's defaults let SQLite keep 32 MB of pages and map 64 MB of the file
            # into each process, which a server's RSS grew into as the cache filled; a
            # lookup reads a few pages, so 4 MB of each is plenty.
            sqlite_cache_size=1024,
            sqlite_mmap_size=4 * 1024 * 1024,
            # Values up to 1 MB stay in SQLite rather than files of their own (a meaning
            # layer's chunk of vectors is 48 KB), so erased entries are overwritten in place
            # (secure_delete).
            disk_min_file_size=2**20,
            # Entries are tagged with their conversation; the index makes erasing one a lookup.
            tag_index=True,
        )
        self.ttl = ttl
        self._meaning = MeaningLayers(self._cache, ttl)

    @staticmethod
    def _key(bot_id: UUID, kb_version: int, question: str, layer: str = "a") -> str:
        digest = hashlib.sha256(normalize_question(question).encode()).hexdigest()
        return f"{layer}:{bot_id}:{kb_version}:{digest}"

    def get(self, bot_id: UUID, kb_version: int, question: str) -> CachedAnswer | None:
        entry = self._cache.get(self._key(bot_id, kb_version, question))
        return CachedAnswer(**entry["answer"]) if entry else None

    def get_similar(
        self,
        bot_id: UUID,
        kb_version: int,
        question: str,
        vector: npt.NDArray[np.float32],
        *,
        min_similarity: float = SEMANTIC_THRESHOLD,
    ) -> CachedAnswer | None:
        layer = _semantic_key(bot_id, kb_version)
        key = self._meaning.closest(layer, vector, guard(question), min_similarity)
        if key is None:
            return None
        entry = self._cache.get(key)
        return CachedAnswer(**entry["answer"]) if entry else None

    def put(
        self,
        bot_id: UUID,
        kb_version: int,
        question: str,
        answer: CachedAnswer,
        *,
        conversation_id: UUID,
        vector: npt.NDArray[np.float32] | None = None,
    ) -> None:
        key = self._key(bot_id, kb_version, question)
        entry = {"answer": asdict(answer)}
        if vector is None:  # one write, whatever the conversation's length
            self._cache.set(key, entry, expire=self.ttl, tag=str(conversation_id))
            return
        with self._cache.transact():
            self._cache.set(key, entry, expire=self.ttl, tag=str(conversation_id))
            self._remember_key(conversation_id, key)
            self._meaning.add(_semantic_key(bot_id, kb_version), key, vector, guard(question))

    def get_verdict(self, bot_id: UUID, kb_version: int, question: str) -> Verdict | None:
        entry = self._cache.get(self._key(bot_id, kb_version, question, "v"))
        return Verdict(entry["faq_id"]) if entry else None

    def put_verdict(
        self,
        bot_id: UUID,
        kb_version: int,
        question: str,
        verdict: Verdict,
        *,
        conversation_id: UUID,
    ) -> None:
        key = self._key(bot_id, kb_version, question, "v")
        self._cache.set(key, asdict(verdict), expire=self.ttl, tag=str(conversation_id))

    def _remember_key(self, conversation_id: UUID, key: str) -> None:
        """List ``key`` under its conversation: an erasure takes its row out of the meaning
        layer. Only answers in that layer are listed (the list is rewritten each time, so
        listing every FAQ answer made a long conversation's answers ever slower to cache)."""
        index = f"c:{conversation_id}"
        self._cache.set(index, [*(self._cache.get(index) or []), key], expire=self.ttl)

    def forget_conversation(self, conversation_id: UUID) -> int:
        """Drop every entry made from this conversation (answers, verdicts), and its
        questions' vectors from the meaning layer (GDPR erasure); the number dropped."""
        with self._cache.transact():
            # The list names the meaning layers' rows to drop (and, for entries written before
            # entries were tagged, every entry).
            keys = set(self._cache.pop(f"c:{conversation_id}", default=None) or [])
            dropped: int = self._cache.evict(str(conversation_id))
            dropped += sum(1 for key in keys if self._cache.delete(key))
            for layer in {f"s:{key.split(':')[1]}:{key.split(':')[2]}" for key in keys}:
                self._meaning.remove(layer, keys)
            return dropped

    def forget_bots(self, bot_ids: set[UUID]) -> int:
        """Drop every entry of these bots (a tenant's offboarding); the number dropped."""
        prefixes = tuple(f"{layer}:{bot}:" for bot in bot_ids for layer in ("a", "s", "v"))
        dropped = 0
        for key in list(self._cache.iterkeys()):
            if isinstance(key, str) and key.startswith(prefixes) and self._cache.delete(key):
                dropped += 1
        return dropped

    def scrub(self) -> None:
        """Move the write-ahead log into the database file and truncate it, so the deleted
        entries' old pages (already overwritten in the file) leave the log too."""
        self._cache.reset("sqlite_wal_checkpoint", "TRUNCATE", update=False)

    def close(self) -> None:
        self._cache.close()
