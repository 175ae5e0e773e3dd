"""``parley bench cache``: what the answer cache costs a question as it fills.

The meaning layer holds a bot's last 256 generated answers with their questions' vectors;
every question the FAQ does not answer is compared with all of them before anything is
generated (``get_similar``), and every generated answer is added (``put``). This times both,
and the exact lookup, with 0, 32 and 256 answers in the layer: medians over ``runs`` calls,
on a cache in a temporary folder (the same settings as a server's). Then caching a FAQ
answer (no vector: the exact layer only) at a conversation's 1st, 100th and 1,000th answer
(medians of 20 puts from there): what a visitor's long conversation costs each answer.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shared.cache import SEMANTIC_ENTRIES, AnswerCache, CachedAnswer

ANSWER = CachedAnswer(
    "Bulky items ship by freight forwarder for a flat €29 [1]. " * 4,
    "rag",
    sources=[{"title": "Shipping", "url": None, "document_id": str(uuid.uuid4()), "chunk_id": 1}],
)


def _median_ms(call: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        begin = time.perf_counter()
        call()
        times.append((time.perf_counter() - begin) * 1000)
    return statistics.median(times)


def _putting(
    cache: AnswerCache, bot: uuid.UUID, tag: str, vector: Callable[[], np.ndarray]
) -> Callable[[], None]:
    """A call that adds one more generated answer, a new question each time."""
    asked = iter(range(10**9))

    def put() -> None:
        question = f"new question {next(asked)} {tag}"
        cache.put(bot, 1, question, ANSWER, conversation_id=uuid.uuid4(), vector=vector())

    return put


def run(runs: int = 50) -> None:
    rng = np.random.default_rng(0)

    def vector() -> np.ndarray:
        row = rng.standard_normal(384).astype(np.float32)
        return row / np.linalg.norm(row)

    bot = uuid.uuid4()
    print(f"parley bench cache: medians of {runs} calls, ms")
    print(f"  {'answers in the layer':>20} {'exact get':>10} {'get_similar':>12} {'put (rag)':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        cache = AnswerCache(Path(tmp) / "cache")
        filled = 0
        for size in (0, 32, SEMANTIC_ENTRIES):
            while filled < size:
                cache.put(
                    bot,
                    1,
                    f"question {filled}",
                    ANSWER,
                    conversation_id=uuid.uuid4(),
                    vector=vector(),
                )
                filled += 1
            # Measured on a layer of this size: each put below adds one and drops the oldest
            # once it is full, so only the last level stays the same size throughout.
            exact = _median_ms(lambda: cache.get(bot, 1, "a question never asked"), runs)
            similar = _median_ms(
                lambda: cache.get_similar(bot, 1, "a question never asked", vector()), runs
            )
            put = _median_ms(_putting(cache, bot, f"at {size}", vector), min(runs, 20))
            filled += min(runs, 20)
            print(f"  {size:>20} {exact:>10.3f} {similar:>12.3f} {put:>10.3f}")
        _faq_answers_in_one_conversation(cache, bot)
        cache.close()


def _faq_answers_in_one_conversation(cache: AnswerCache, bot: uuid.UUID) -> None:
    conversation = uuid.uuid4()
    answer = CachedAnswer("We ship to every EU country, Switzerland, Norway and the UK.", "faq")
    times = []
    for n in range(1020):
        begin = time.perf_counter()
        cache.put(bot, 1, f"faq question {n}", answer, conversation_id=conversation)
        times.append((time.perf_counter() - begin) * 1000)
    medians = {start + 1: statistics.median(times[start : start + 20]) for start in (0, 99, 999)}
    print(
        "  caching a FAQ answer, ms (medians of 20), from the conversation's answer "
        + ", ".join(f"{n}: {ms:.3f}" for n, ms in medians.items())
    )
