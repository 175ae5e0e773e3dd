"""Placeholders for a visitor's personal data in what goes to an LLM provider, and the real
values put back into the answer the visitor sees.

One ``Placeholders`` serves one generation: the same value gets the same placeholder in the
question and in the history (``[EMAIL_1]``, ``[ORDER_2]``), so the model can refer to it.
A card number is never given back: its placeholder becomes the masked card (•••• 4242).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from shared.llm.base import ChatMessage, Generation
from shared.privacy.detectors import BotPattern, find_all

PLACEHOLDER = re.compile(r"\[([A-Z][A-Z0-9]{1,19})_(\d{1,3})\]", re.IGNORECASE)
# A placeholder being streamed: "[", "[EM", "[EMAIL_1" … (held back until it is whole).
_PARTIAL = re.compile(r"\[[A-Za-z0-9_]{0,24}$")


def masked_card(value: str) -> str:
    return "•••• " + re.sub(r"\D", "", value)[-4:]


class Placeholders:
    def __init__(self, patterns: Sequence[BotPattern] = ()) -> None:
        self.patterns = tuple(patterns)
        self._by_value: dict[tuple[str, str], str] = {}
        self._shown: dict[str, str] = {}  # PLACEHOLDER -> what the visitor is shown
        self.revealed = False  # an answer held a visitor's value once put back

    @property
    def kinds(self) -> dict[str, int]:
        """How many values of each kind were withheld (no values: safe to log and store)."""
        return dict(Counter(placeholder.split("_")[0][1:] for placeholder in self._shown))

    def hide(self, text: str) -> str:
        parts, last = [], 0
        for hit in find_all(text, self.patterns):
            parts.append(text[last : hit.start])
            parts.append(self._placeholder(hit.kind, hit.value))
            last = hit.end
        parts.append(text[last:])
        return "".join(parts)

    def hide_request(self, request: Generation) -> Generation:
        """The request with the visitor's values withheld: the question and the history
        (the owner's instructions and documents are not the visitor's)."""
        history = [ChatMessage(m.role, self.hide(m.content)) for m in request.history]
        return replace(request, question=self.hide(request.question), history=history)

    def reveal(self, text: str) -> str:
        def put_back(match: re.Match[str]) -> str:
            shown = self._shown.get(f"[{match[1].upper()}_{match[2]}]")
            if shown is None:
                return match[0]
            self.revealed = True
            return shown

        return PLACEHOLDER.sub(put_back, text)

    def revealing(self) -> Revealer:
        return Revealer(self)

    def _placeholder(self, kind: str, value: str) -> str:
        key = (kind, value)
        if key not in self._by_value:
            number = sum(1 for k, _ in self._by_value if k == kind) + 1
            placeholder = f"[{kind}_{number}]"
            self._by_value[key] = placeholder
            self._shown[placeholder] = masked_card(value) if kind == "CARD" else value
        return self._by_value[key]


class Revealer:
    """Puts values back into a streamed answer, holding back a placeholder cut between two
    pieces until it is whole."""

    def __init__(self, placeholders: Placeholders) -> None:
        self.placeholders = placeholders
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        partial = _PARTIAL.search(text)
        cut = partial.start() if partial else len(text)
        self._held = text[cut:]
        return self.placeholders.reveal(text[:cut])

    def finish(self) -> str:
        rest, self._held = self._held, ""
        return self.placeholders.reveal(rest)
