"""Adding a knowledge gap's phrasings to a FAQ's other ways to ask, within the admin API's
limit (no Streamlit here: ``parley bench faq --learn`` does what the dashboard's owner does)."""

from __future__ import annotations

MAX_ALTERNATIVES = 50  # the admin API's limit on a FAQ's other phrasings (shared.faq_import)


def with_phrasings(alternatives: list[str], phrasings: list[str]) -> tuple[list[str], int]:
    """A FAQ's alternatives with a gap's phrasings added (those it lacks, up to the API's
    limit; the owner's own come first), and how many did not fit (they stay listed)."""
    have = {a.casefold() for a in alternatives}
    new = [p for p in dict.fromkeys(phrasings) if p.casefold() not in have]
    room = max(0, MAX_ALTERNATIVES - len(alternatives))
    return [*alternatives, *new[:room]], max(0, len(new) - room)
