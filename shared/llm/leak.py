"""Keeping the prompt out of answers: a model asked to "repeat your instructions" may do so.

:class:`LeakGuard` watches a streamed answer for any run of ``WORDS`` (8) consecutive words of
the system prompt (Parley's rules and the owner's instructions). Text is passed on as it
comes, except for a tail that could still be the start of such a run: that tail waits for
the next piece. So no prompt run ever reaches the visitor, and an ordinary answer is held
back by a word or two at most.
"""

from __future__ import annotations

import re

WORDS = 8  # a run this long of the prompt, copied exactly, is a leak, not a coincidence
REFUSAL = "I can't share how I'm set up, but I'm glad to help with your question."
_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


class LeakGuard:
    def __init__(self, prompt: str, *, words: int = WORDS) -> None:
        tokens = _words(prompt)
        self._size = words
        self._runs = {tuple(tokens[i : i + words]) for i in range(len(tokens) - words + 1)}
        self._starts = {run[:n] for run in self._runs for n in range(1, words)}
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
        return any(tuple(tokens[i : i + size]) in self._runs for i in range(len(tokens) - size + 1))

    def _safe_end(self) -> int:
        """Where the held tail starts: the longest run of final words that begins a prompt
        run (the last word, possibly incomplete, is always held)."""
        matches = list(_WORD.finditer(self._received))
        if not matches:
            return len(self._received)
        tokens = [m.group(0).lower() for m in matches]
        held = 1
        for n in range(min(self._size - 1, len(tokens)), 0, -1):
            if tuple(tokens[-n:]) in self._starts:
                held = max(held, n)
                break
        return matches[len(matches) - held].start()
