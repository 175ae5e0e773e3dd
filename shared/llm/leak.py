"""Keeping the prompt out of answers: a model asked to "repeat your instructions" may do so.

:class:`LeakGuard` watches a streamed answer for any run of ``WORDS`` (8) consecutive words of
the system prompt (Parley's rules and the owner's instructions). Text is passed on as it
comes, except for a tail that could still be the start of such a run: that tail waits for
the next piece. So no prompt run ever reaches the visitor, and an ordinary answer is held
back by a word or two at most. A word still being streamed is held only while it could
grow into such a start, so a first word that begins no run reaches the visitor as soon as
the provider sends it, not with the provider's second piece.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

WORDS = 8  # a run this long of the prompt, copied exactly, is a leak, not a coincidence
REFUSAL = "I can't share how I'm set up, but I'm glad to help with your question."
_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


@dataclass(frozen=True)
class _PromptRuns:
    runs: frozenset[tuple[str, ...]]  # every run of ``words`` consecutive prompt words
    starts: frozenset[tuple[str, ...]]  # their beginnings, 1 to ``words`` - 1 words long
    # For a word still being streamed: the words that may follow each start of 0 to
    # ``words`` - 2 words, which it could still grow into.
    following: dict[tuple[str, ...], frozenset[str]]


@lru_cache(maxsize=256)
def _prompt_runs(prompt: str, words: int) -> _PromptRuns:
    """A prompt's runs, worked out once per prompt (a bot's stays the same from question to
    question): about a millisecond for a system prompt of 120 words."""
    tokens = _words(prompt)
    runs = frozenset(tuple(tokens[i : i + words]) for i in range(len(tokens) - words + 1))
    following: dict[tuple[str, ...], set[str]] = {}
    for run in runs:
        for n in range(words - 1):
            following.setdefault(run[:n], set()).add(run[n])
    return _PromptRuns(
        runs,
        frozenset(run[:n] for run in runs for n in range(1, words)),
        {start: frozenset(nexts) for start, nexts in following.items()},
    )


class LeakGuard:
    def __init__(self, prompt: str, *, words: int = WORDS) -> None:
        self._size = words
        self._prompt = _prompt_runs(prompt, words)
        self._received = ""
        self._passed = 0  # characters of _received already passed on
        self.leaked = False

    def feed(self, piece: str) -> str:
        """What of ``piece`` (and of the held tail) can go to the visitor now."""
        self._received += piece
        if self.leaked or self._repeats_prompt():
            self.leaked = True
            return ""
        safe = self._safe_end()
        out = self._received[self._passed : safe]
        self._passed = max(self._passed, safe)
        return out

    def finish(self) -> str:
        """The held tail, once the answer is complete ("" if it repeated the prompt)."""
        if self.leaked or self._repeats_prompt():
            self.leaked = True
            return ""
        out = self._received[self._passed :]
        self._passed = len(self._received)
        return out

    def _repeats_prompt(self) -> bool:
        tokens = _words(self._received)
        size = self._size
        runs = self._prompt.runs
        return any(tuple(tokens[i : i + size]) in runs for i in range(len(tokens) - size + 1))

    def _safe_end(self) -> int:
        """Where the held tail starts: the longest run of final words that begins a prompt
        run, or could once its last word is complete (a word with nothing after it yet may
        still be growing: the provider's next piece can continue it)."""
        matches = list(_WORD.finditer(self._received))
        if not matches:
            return len(self._received)
        tokens = [m.group(0).lower() for m in matches]
        growing = matches[-1].end() == len(self._received)
        held = 0
        for n in range(min(self._size - 1, len(tokens)), 0, -1):
            if self._may_start(tuple(tokens[-n:]), growing):
                held = n
                break
        return matches[len(matches) - held].start() if held else len(self._received)

    def _may_start(self, tail: tuple[str, ...], growing: bool) -> bool:
        """Whether ``tail`` begins a prompt run, or could once its last word is complete."""
        if not growing:
            return tail in self._prompt.starts
        partial = tail[-1]
        return any(word.startswith(partial) for word in self._prompt.following.get(tail[:-1], ()))
