"""What the per-bot searches (FAQ matching, retrieval) share.

The question as a full-text query, in the bot's language: any of its words (an OR of
its lexemes), so a paraphrase sharing one rare word still ranks.

``QUESTION_QUERY`` is a CTE named ``q`` with one column, ``query`` (NULL when the question
has no lexemes, e.g. only stop words). It is MATERIALIZED: inlined, PostgreSQL pulled the
expression up into the scan and parsed and stemmed the question again for every row
(2.5 ms of a 93-phrasing FAQ match; 0.9 ms once). ``lex_rank(column)`` is the rank of a
row's tsvector against it, 0 for rows that share no word.
"""

from __future__ import annotations

import functools
from uuid import UUID

from psycopg import sql

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


def per_bot(template: str, alias: str, bot_id: UUID, dim: int, *, indexed: bool) -> sql.Composed:
    """A search ``template`` (with ``{bot}`` and ``{distance}`` for table alias ``alias``)
    as an exact scan (the bot as a parameter, prepared once for every bot) or through the
    bot's own partial indexes (shared.db.bot_indexes), which apply only when the query
    names the bot as a constant and orders by the indexed expression."""
    if not indexed:
        return _exact(template, alias)
    column = sql.SQL("{}.embedding").format(sql.Identifier(alias))
    width = sql.Literal(dim)
    distance = sql.SQL("{}::vector({w}) <=> %(vec)s::vector({w})").format(column, w=width)
    return sql.SQL(template).format(distance=distance, bot=sql.Literal(bot_id))


@functools.cache
def _exact(template: str, alias: str) -> sql.Composed:
    column = sql.SQL("{}.embedding").format(sql.Identifier(alias))
    distance = sql.SQL("{} <=> %(vec)s").format(column)
    return sql.SQL(template).format(distance=distance, bot=sql.Placeholder("bot"))
