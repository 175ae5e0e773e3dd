"""The question as a full-text query, in the bot's language: any of its words (an OR of
its lexemes), so a paraphrase sharing one rare word still ranks.

``QUESTION_QUERY`` is a CTE named ``q`` with one column, ``query`` (NULL when the question
has no lexemes, e.g. only stop words). It is MATERIALIZED: inlined, PostgreSQL pulled the
expression up into the scan and parsed and stemmed the question again for every row
(2.5 ms of a 93-phrasing FAQ match; 0.9 ms once). ``lex_rank(column)`` is the rank of a
row's tsvector against it, 0 for rows that share no word.
"""

from __future__ import annotations

QUESTION_QUERY = """
q AS MATERIALIZED (
    SELECT CASE WHEN terms = '' THEN NULL ELSE to_tsquery(cfg, terms) END AS query
      FROM (SELECT b.text_search_config AS cfg,
                   replace(plainto_tsquery(b.text_search_config, %(text)s)::text, '&', '|')
                       AS terms
              FROM bots b WHERE b.id = %(bot)s) t
)"""


def lex_rank(column: str) -> str:
    """SQL: ``column``'s full-text rank against ``q.query`` (0 without a shared word)."""
    return f"CASE WHEN {column} @@ q.query THEN ts_rank_cd({column}, q.query) ELSE 0 END"
