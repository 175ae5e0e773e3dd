"""The no-LLM answer: the sentences of the best passage that best fit the question, read in
the bot's language."""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from shared.languages import TEXT_SEARCH
from shared.llm.base import Deadlines, Generation, LLMError, LLMProvider, NotInSources, Usage

MAX_WORDS = 70
# A sentence ends before a capital (accented ones too: "Ärger", "Élan"), a digit, a list's
# or table's mark, or a line break.
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9*|À-ÖØ-Þ])|\n+")
_WORD = re.compile(r"[a-zA-ZÀ-ÿ0-9]+")
_STOP = {
    "a",
    "an",
    "the",
    "is",
    "are",
    "do",
    "does",
    "i",
    "you",
    "my",
    "your",
    "to",
    "of",
    "in",
    "on",
    "for",
    "and",
    "or",
    "it",
    "how",
    "what",
    "when",
    "can",
    "with",
    "be",
    "we",
    "me",
}


_NEGATION = re.compile(r"\b(?:not|no|never|cannot|can't|won't|don't|doesn't|isn't|aren't)\b|n't\b")
# The words that negate a question in the other languages a bot may have.
_NEGATIONS = {
    "de": "nicht|kein|keine|keinen|keinem|keiner|keines|nie|niemals",
    "fr": "ne|pas|jamais|aucun|aucune",
    "es": "no|nunca|ningún|ninguna|ninguno",
    "it": "non|mai|nessun|nessuno|nessuna",
    "nl": "niet|geen|nooit",
    "pt": "não|nunca|nenhum|nenhuma",
    "sv": "inte|ej|aldrig|ingen|inget|inga",
    "da": "ikke|aldrig|ingen|intet",
    "no": "ikke|aldri|ingen",
    "fi": "ei|en|et|emme|ette|eivät",
}
# A Markdown table as the chunker leaves it: rows on one line, "| a | b | | --- | --- | | …".
_TABLE = re.compile(r"\|[^\n]*?\|\s*:?-{3,}:?\s*\|[^\n]*\|")
_RULE = re.compile(r":?-{3,}:?")


def _stem(word: str) -> str:
    """A crude stem: "canoes" and "canoe", "shipping" and "ship", "returned" and "return"
    meet (then the first six letters, as before)."""
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
        if word[-1] == word[-2] and word[-1] not in "aeiousl":
            word = word[:-1]  # "shipping" -> "ship"
    elif (word.endswith("ed") and len(word) > 4) or (
        word.endswith("es") and word[:-2].endswith(("s", "x", "z", "ch", "sh"))
    ):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        word = word[:-1]
    return word[:6]


@dataclass(frozen=True)
class _Reading:
    """How the words of one language are compared: which carry no meaning, what a word's
    stem is, and what negates a question."""

    stop: frozenset[str]
    stem: Callable[[str], str]
    negation: re.Pattern[str]
    # What is read out shares half the question's words, rounded up in English; rounded down
    # in the others, whose inflections and compounds leave fewer words in common.
    half_up: bool = False


_ENGLISH = _Reading(frozenset(_STOP), _stem, _NEGATION, half_up=True)


@cache
def _reading(language: str) -> _Reading:
    """English as measured (its own short stop list and stemmer); another language of
    ``shared.languages`` with its stop words and Snowball stemmer (PostgreSQL's full-text
    search stems with Snowball too), cut to six letters as English words are, so the head of
    a compound meets the word ("Versand", "Versandkosten"); any other language by the
    English rules."""
    name = TEXT_SEARCH.get(language)
    if language == "en" or name is None:
        return _ENGLISH
    import snowballstemmer  # loaded for a bot of another language only (30 ms: every stemmer)
    import stop_words

    stemmer = snowballstemmer.stemmer(name)

    @lru_cache(maxsize=20_000)
    def stem(word: str) -> str:
        return str(stemmer.stemWord(word))[:6]

    negation = re.compile(rf"\b(?:{_NEGATIONS[language]})\b")
    return _Reading(frozenset(stop_words.get_stop_words(name)), stem, negation)


def _words(text: str, reading: _Reading = _ENGLISH) -> set[str]:
    lowered = text.lower()
    found = {reading.stem(w) for w in _WORD.findall(lowered) if w not in reading.stop}
    if reading.negation.search(lowered):
        found.add("<not>")  # "which items can't be returned" wants the sentence that says so
    return found


def _table_rows(table: str) -> list[str]:
    """Each body row of a flattened Markdown table as one line: "first cell — header: value;
    …", so a row can be chosen and read on its own."""
    cells = [c.strip() for c in table.strip().strip("|").split("|")]
    columns = sum(1 for c in cells if _RULE.fullmatch(c))
    if columns < 2:
        return [" ".join(cells)]
    header = cells[:columns]
    # The body starts after the rule row; the flattened table may hold an empty cell
    # between rows ("| a | b | | --- | --- | | c | d |"), which the loop below skips.
    body = cells[max(i for i, c in enumerate(cells) if _RULE.fullmatch(c)) + 1 :]
    rows: list[list[str]] = []
    row: list[str] = []
    for cell in body:
        if not cell and len(row) in (0, columns):  # the gap between two rows
            if row:
                rows.append(row)
            row = []
            continue
        row.append(cell)
        if len(row) == columns:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return [
        row[0] + " — " + "; ".join(f"{h}: {v}" for h, v in zip(header[1:], row[1:], strict=False))
        for row in rows
        if row
    ]


def _units(passage: str) -> list[tuple[str, bool]]:
    """The passage as sentences and table rows, in order; True marks a table row."""
    units: list[tuple[str, bool]] = []
    position = 0
    for table in _TABLE.finditer(passage):
        units += [(s, False) for s in _sentences(passage[position : table.start()])]
        units += [(row, True) for row in _table_rows(table.group(0))]
        position = table.end()
    units += [(s, False) for s in _sentences(passage[position:])]
    return units


def _sentences(text: str) -> list[str]:
    return [s.strip(" |") for s in _SENTENCE.split(text) if s.strip(" |")]


def extract_answer(
    question: str, passage: str, *, language: str = "en", max_words: int = MAX_WORDS
) -> str:
    """The passage's sentence (or table row) that best fits the question, and for a sentence
    what follows it, trimmed to ``max_words``; "" when what it would read out shares too few
    of the question's words (below). Words the question shares with a unit count by how rare
    they are in the passage, so "UK" outweighs the "Express" every row has. ``language``:
    the bot's, whose stop words and stems the words are compared by."""
    reading = _reading(language)
    units = _units(passage)
    bags = [_words(text, reading) for text, _ in units]
    wanted = _words(question, reading)
    rarity = {
        w: math.log(1 + len(bags) / sum(1 for bag in bags if w in bag))
        for w in wanted
        if any(w in bag for bag in bags)
    }
    if not rarity:
        return ""
    scores = [sum(rarity.get(w, 0.0) for w in wanted & bag) for bag in bags]
    start = max(range(len(units)), key=lambda i: (scores[i], -i))
    if units[start][1]:  # a table row answers on its own
        text = _trim(units[start][0].split(), max_words)
    else:
        picked: list[str] = []
        count = 0
        for sentence, is_row in units[start:]:
            words = sentence.split()
            if is_row or (picked and count + len(words) > max_words):
                break
            picked.append(" ".join(words[: max_words - count]))
            count += len(words)
        text = " ".join(picked)
        text = text if count <= max_words else text.rstrip(",;:") + " …"
    # What is read out must share two of the question's words (half of a shorter question's:
    # ``_Reading.half_up``), or be the table row the question names (its first cell): one
    # word of several in common is a coincidence more often than an answer ("customer"
    # service and "custom"-length poles), and the bot then hands over instead.
    asked = wanted - {"<not>"}
    if len(asked & _words(text, reading)) >= min(2, (len(asked) + reading.half_up) // 2):
        return text
    named_row = units[start][1] and asked & _words(units[start][0].split(" — ")[0], reading)
    return text if named_row else ""


def _trim(words: list[str], max_words: int) -> str:
    text = " ".join(words[:max_words])
    return text if len(words) <= max_words else text.rstrip(",;:") + " …"


class ExtractiveProvider(LLMProvider):
    """The offline answer, as a provider like the others: the best-fitting sentences of the
    first passage that shares enough of the question's words (``extract_answer``), citing
    it ([1] for the best one). Needs no key and never fails; raises NotInSources when no
    passage does."""

    name = "extractive"
    default_model = "extractive"
    remote = False

    async def stream(
        self,
        request: Generation,
        *,
        model: str,
        max_tokens: int,
        deadlines: Deadlines,
    ) -> AsyncIterator[str | Usage]:
        for number, passage in enumerate(request.passages, start=1):
            text = extract_answer(request.question, passage.text, language=request.language)
            if text:
                yield f"{text} [{number}]"
                yield Usage(0, 0)
                return
        raise NotInSources(self.name)

    def stream_messages(
        self,
        messages: Sequence[dict[str, str]],
        *,
        model: str,
        max_tokens: int,
        deadlines: Deadlines,
    ) -> AsyncIterator[str | Usage]:
        raise LLMError(self.name, "client", "it answers from passages, not from a prompt")
