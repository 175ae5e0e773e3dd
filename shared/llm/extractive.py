"""The no-LLM answer: the sentences of the best passage that best fit the question."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from shared.llm.base import Deadlines, Generation, LLMProvider, Usage

MAX_WORDS = 70
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9*|])|\n+")
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


def _words(text: str) -> set[str]:
    return {w.lower()[:6] for w in _WORD.findall(text) if w.lower() not in _STOP}


def extract_answer(question: str, passage: str, *, max_words: int = MAX_WORDS) -> str:
    """The passage's best-fitting sentence and what follows it, trimmed to ``max_words``."""
    sentences = [s.strip(" |") for s in _SENTENCE.split(passage) if s.strip(" |")]
    if not sentences:
        return ""
    wanted = _words(question)
    scores = [len(wanted & _words(s)) for s in sentences]
    start = max(range(len(sentences)), key=lambda i: (scores[i], -i))
    picked: list[str] = []
    count = 0
    for sentence in sentences[start:]:
        words = sentence.split()
        if picked and count + len(words) > max_words:
            break
        picked.append(" ".join(words[: max_words - count]))
        count += len(words)
    text = " ".join(picked)
    return text if count <= max_words else text.rstrip(",;:") + " …"


class ExtractiveProvider(LLMProvider):
    """The offline answer, as a provider like the others: the best passage's best-fitting
    sentences, citing it as [1]. Needs no key and never fails."""

    name = "extractive"
    default_model = "extractive"

    async def stream(
        self,
        request: Generation,
        *,
        model: str,
        max_tokens: int,
        deadlines: Deadlines,
    ) -> AsyncIterator[str | Usage]:
        if request.passages:
            yield f"{extract_answer(request.question, request.passages[0].text)} [1]"
        yield Usage(0, 0)
