"""What counts as a visitor's personal data in a chat message: e-mail addresses, phone
numbers, IBANs, payment card numbers, order numbers, and the patterns a bot adds.

Each detector is a pattern and, where the kind has one, a checksum (cards: Luhn; IBANs:
ISO 13616 mod 97), so that a price, a date or a product number is not taken for a card or
an account. A bot's own patterns run under the ``regex`` module's timeout: a pattern that
backtracks for ever costs a message its check, not the process.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import regex

from shared.logging import get_logger

log = get_logger("parley.privacy")

# How long one bot pattern may search one message.
PATTERN_TIMEOUT_SECONDS = 0.05
KIND = re.compile(r"^[A-Z][A-Z0-9]{1,19}$")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return int(number) % 97 == 1


@dataclass(frozen=True)
class Found:
    kind: str
    start: int
    end: int
    value: str


@dataclass(frozen=True)
class Detector:
    kind: str
    pattern: re.Pattern[str]
    valid: Callable[[str], bool] = lambda value: True
    group: int = 0  # the part of the match that is the value (an order number, not "order")

    def find(self, text: str) -> Iterator[Found]:
        for match in self.pattern.finditer(text):
            value = match.group(self.group)
            if value and self.valid(value):
                yield Found(self.kind, match.start(self.group), match.end(self.group), value)


_CARD_GROUPS = re.compile(r"\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}")


def _card(value: str) -> bool:
    """13 to 19 digits passing Luhn, or written in a card's groups of four (a mistyped
    card is still a card)."""
    digits = re.sub(r"[ -]", "", value)
    return 13 <= len(digits) <= 19 and (luhn_valid(digits) or bool(_CARD_GROUPS.fullmatch(value)))


def _iban(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    return 15 <= len(compact) <= 34 and iban_valid(compact)


def _phone(value: str) -> bool:
    return 7 <= sum(char.isdigit() for char in value) <= 15


def _order(value: str) -> bool:
    return sum(char.isdigit() for char in value) >= 3


# In this order: a card or an IBAN is also a run of digits a phone pattern would take.
BUILT_IN: tuple[Detector, ...] = (
    Detector("EMAIL", re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")),
    Detector(
        "IBAN",
        re.compile(r"\b[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,4})?\b"),
        _iban,
    ),
    Detector("CARD", re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"), _card),
    # International (+49 …) or national (0…) numbers, with the usual separators.
    Detector(
        "PHONE",
        re.compile(r"(?<![\w+])(?:\+|00)?\(?0?\d{1,4}\)?(?:[ ./-]?\(?\d{2,}\)?){1,5}(?![\w-])"),
        lambda value: _phone(value) and (value.startswith(("+", "0", "(0"))),
    ),
    # An order, invoice or parcel reference after the word that names it, or after "#".
    Detector(
        "ORDER",
        re.compile(
            r"(?i)(?:\b(?:order|orders|invoice|tracking|parcel|shipment|bestellung|bestellnummer"
            r"|auftrag|auftragsnummer|rechnung|rechnungsnummer|sendung|sendungsnummer)"
            r"(?:\s*(?:no\.?|nr\.?|number|nummer|id|ref\.?))?"
            r"(?:\s+(?:is|was|ist|lautet))?\s*[:#]?\s*|#)"
            r"([A-Za-z]{0,4}-?\d[\w-]{2,})"
        ),
        _order,
        group=1,
    ),
    # Any other long number (a customer, contract or mistyped card number).
    Detector("NUMBER", re.compile(r"(?<![\d.,])\d{9,}(?![\d.,])")),
)


@dataclass(frozen=True)
class BotPattern:
    """A bot's own kind of personal data (a customer number, a booking code)."""

    kind: str
    pattern: str

    def find(self, text: str) -> Iterator[Found]:
        try:
            compiled = regex.compile(self.pattern)
            for match in compiled.finditer(text, timeout=PATTERN_TIMEOUT_SECONDS):
                if match.group(0):
                    yield Found(self.kind, match.start(), match.end(), match.group(0))
        except TimeoutError:
            log.warning("a bot's personal-data pattern timed out; skipped", kind=self.kind)


def pattern_error(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a bot's pattern, or None."""
    try:
        compiled = regex.compile(pattern)
    except regex.error as exc:
        return f"not a regular expression ({exc})"
    if compiled.search("", timeout=PATTERN_TIMEOUT_SECONDS) is not None:
        return "matches an empty text"
    return None


def find_all(text: str, extra: Sequence[BotPattern] = ()) -> list[Found]:
    """Every piece of personal data in ``text``, left to right, none overlapping (the
    earlier detector wins a tie: built-in before the bot's)."""
    found: list[Found] = []
    taken: list[tuple[int, int]] = []
    detectors: list[Detector | BotPattern] = [*BUILT_IN, *extra]
    for detector in detectors:
        for hit in detector.find(text):
            if any(hit.start < end and start < hit.end for start, end in taken):
                continue
            found.append(hit)
            taken.append((hit.start, hit.end))
    return sorted(found, key=lambda hit: hit.start)
