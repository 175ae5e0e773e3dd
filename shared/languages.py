"""Bot languages and the PostgreSQL text-search configuration each one uses."""

from __future__ import annotations

TEXT_SEARCH = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "nl": "dutch",
    "pt": "portuguese",
    "sv": "swedish",
    "da": "danish",
    "fi": "finnish",
    "no": "norwegian",
}


def text_search_config(language: str) -> str:
    """The full-text configuration for ``language``; 'simple' (no stemming) otherwise."""
    return TEXT_SEARCH.get(language, "simple")
