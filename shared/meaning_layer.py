"""The answer cache's meaning layer: a bot's recent generated answers, found by their
questions' vectors (``shared.cache`` uses it; the threshold is the model's ``same_answer``).

A layer (one bot's knowledge-base version) is a ring of ``SLOTS`` slots kept in diskcache as
a small header — which answer's key and guard each slot holds, the next slot to fill, a
generation number — and the slots' vectors in chunks of ``CHUNK`` rows. Adding an answer
rewrites the header and one chunk; the layer used to be one ~400 KB value rewritten at every
generated answer (1.3-4 ms on the event loop, ``parley bench cache``). Each process keeps the
layers it read as one matrix with the generation it read, so a lookup reads the header and,
unless another process changed the layer since, compares with the matrix it holds.
"""

from __future__ import annotations

import json
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import diskcache
import numpy as np
import numpy.typing as npt

SLOTS = 256
CHUNK = 32  # rows a chunk: adding an answer rewrites 48 KB of vectors (384 dimensions)
MIRRORED = 32  # layers a process keeps as matrices (~400 KB each: 256 x 384 floats)
_MAGIC = b"PML2"  # a header of this layout; anything else under the key reads as empty
_NEGATIONS = {
    "not",
    "no",
    "never",
    "cannot",
    "nothing",
    "without",
    "nicht",
    "kein",
    "keine",
    "nie",
}
_WORD = re.compile(r"[^\W_]+")


def guard(question: str) -> str:
    """What a paraphrase must keep, as one comparable string: whether it is negated, and
    the numbers in it ("not|2,30")."""
    words = _WORD.findall(question.lower().replace("n't", " not"))
    numbers = sorted({w for w in words if w.isdigit()})
    return ("not|" if _NEGATIONS & set(words) else "|") + ",".join(numbers)


@dataclass
class _Header:
    generation: int
    next_slot: int
    dim: int
    keys: list[str]  # the answers' cache keys by slot; "" for an empty slot
    guards: list[str]

    @classmethod
    def empty(cls, dim: int) -> _Header:
        # A new layer's generations start anywhere: a process still holding a layer of the
        # same name that expired must not take the new one's generation for its own.
        return cls(secrets.randbits(62), 0, dim, [""] * SLOTS, [""] * SLOTS)

    @staticmethod
    def generation_of(stored: Any) -> int | None:
        if not isinstance(stored, bytes) or not stored.startswith(_MAGIC) or len(stored) < 12:
            return None
        return int.from_bytes(stored[4:12], "little")

    @classmethod
    def parse(cls, stored: Any) -> _Header | None:
        generation = cls.generation_of(stored)
        if generation is None:
            return None
        try:
            data = json.loads(stored[12:])
            keys, guards = data["keys"].split("\n"), data["guards"].split("\n")
            header = cls(generation, int(data["next"]), int(data["dim"]), keys, guards)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        return header if len(header.keys) == len(header.guards) == SLOTS else None

    def dump(self) -> bytes:
        # Keys and guards hold no newline: each list as one string reads and writes faster.
        keys, guards = "\n".join(self.keys), "\n".join(self.guards)
        body = {"next": self.next_slot, "dim": self.dim, "keys": keys, "guards": guards}
        return _MAGIC + self.generation.to_bytes(8, "little") + json.dumps(body).encode()


@dataclass
class _Mirror:
    header: _Header
    rows: npt.NDArray[np.float32]  # [SLOTS, dim]


class MeaningLayers:
    """The meaning layers kept in ``cache`` (keys ``s:<bot>:<version>`` and, for the
    vectors, ``s:<bot>:<version>:<chunk>``)."""

    def __init__(self, cache: diskcache.Cache, ttl: float) -> None:
        self._cache = cache
        self._ttl = ttl
        self._mirrors: OrderedDict[str, _Mirror] = OrderedDict()

    def closest(
        self,
        layer: str,
        vector: npt.NDArray[np.float32],
        question_guard: str,
        min_similarity: float,
    ) -> str | None:
        """The key of the most similar answer at ``min_similarity`` or above whose question
        keeps the same guard; None if there is none."""
        mirror = self._read(layer)
        if mirror is None or mirror.header.dim != len(vector):
            return None
        similarities = mirror.rows @ np.asarray(vector, dtype=np.float32)
        for index in map(int, np.argsort(-similarities)):
            if similarities[index] < min_similarity:
                return None
            key = mirror.header.keys[index]
            if key and mirror.header.guards[index] == question_guard:
                return key
        return None

    def add(
        self, layer: str, key: str, vector: npt.NDArray[np.float32], question_guard: str
    ) -> None:
        """Put ``key`` in the next slot (the oldest answer's, once the ring is full), and out
        of any slot it held. Call within a transaction of the cache."""
        row = np.asarray(vector, dtype=np.float32)
        header = _Header.parse(self._cache.get(layer))
        if header is None or header.dim != len(row):
            header = _Header.empty(len(row))
        changed = self._clear(header, {key})
        slot = header.next_slot
        header.keys[slot], header.guards[slot] = key, question_guard
        header.next_slot = (slot + 1) % SLOTS
        changed[slot] = row
        self._write(layer, header, changed)

    def remove(self, layer: str, keys: set[str]) -> None:
        """Take these answers out of the layer, their vectors overwritten (an erasure). Call
        within a transaction of the cache."""
        header = _Header.parse(self._cache.get(layer))
        if header is not None:
            changed = self._clear(header, keys)
            if changed:
                self._write(layer, header, changed)

    @staticmethod
    def _clear(header: _Header, keys: set[str]) -> dict[int, npt.NDArray[np.float32] | None]:
        cleared: dict[int, npt.NDArray[np.float32] | None] = {}
        for slot, key in enumerate(header.keys):
            if key in keys:
                header.keys[slot] = header.guards[slot] = ""
                cleared[slot] = None  # its vector zeroed
        return cleared

    def _write(
        self, layer: str, header: _Header, changed: dict[int, npt.NDArray[np.float32] | None]
    ) -> None:
        mirror = self._mirrors.pop(layer, None)
        header.generation += 1
        for chunk in sorted({slot // CHUNK for slot in changed}):
            rows = self._chunk(layer, chunk, header.dim)
            for slot in (s for s in changed if s // CHUNK == chunk):
                rows[slot % CHUNK] = 0.0 if changed[slot] is None else changed[slot]
            self._cache.set(f"{layer}:{chunk}", rows.tobytes(), expire=self._ttl)
        self._cache.set(layer, header.dump(), expire=self._ttl)
        if (
            mirror is not None
            and mirror.header.generation == header.generation - 1
            and mirror.rows.shape[1] == header.dim
        ):  # this process's copy was the layer before this write: brought up to date
            for slot, row in changed.items():
                mirror.rows[slot] = 0.0 if row is None else row
            self._remember(layer, _Mirror(header, mirror.rows))

    def _chunk(self, layer: str, chunk: int, dim: int) -> npt.NDArray[np.float32]:
        stored = self._cache.get(f"{layer}:{chunk}")
        if isinstance(stored, bytes) and len(stored) == CHUNK * dim * 4:
            return np.frombuffer(stored, dtype=np.float32).reshape(CHUNK, dim).copy()
        return np.zeros((CHUNK, dim), dtype=np.float32)

    def _read(self, layer: str) -> _Mirror | None:
        stored = self._cache.get(layer)
        generation = _Header.generation_of(stored)
        if generation is None:
            return None
        mirror = self._mirrors.get(layer)
        if mirror is not None and mirror.header.generation == generation:
            self._mirrors.move_to_end(layer)
            return mirror
        header = _Header.parse(stored)
        if header is None:
            return None
        chunks = [self._chunk(layer, n, header.dim) for n in range(SLOTS // CHUNK)]
        return self._remember(layer, _Mirror(header, np.concatenate(chunks)))

    def _remember(self, layer: str, mirror: _Mirror) -> _Mirror:
        self._mirrors[layer] = mirror
        self._mirrors.move_to_end(layer)
        while len(self._mirrors) > MIRRORED:
            self._mirrors.popitem(last=False)
        return mirror
