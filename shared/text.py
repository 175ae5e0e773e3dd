"""Small text helpers shared by the cache, analytics and the chat service."""

from __future__ import annotations

import re


def normalize_question(text: str) -> str:
    """Fold case, spacing and surrounding punctuation so repeats of a question compare equal."""
    return re.sub(r"\s+", " ", text).strip().strip("?!.¿¡ ").lower()
