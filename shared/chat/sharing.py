"""Which answers the answer cache may hand to another visitor.

A cached answer is served to anyone who asks the same (or nearly the same) question, so
it must carry nothing of the visitor who caused it:

- a FAQ answer is the owner's own text: always shareable;
- a generated answer only when it was the first turn of its conversation (a follow-up
  depends on what was said before), its question holds nothing specific to a person
  (digits, such as order or phone numbers; e-mail addresses; links), and it repeats no
  word of the question that its sources do not contain (a name, a reference the
  visitor typed): what is left came from the knowledge base.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_SPECIFIC = re.compile(r"\d|@|https?://|www\.", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]{3,}")
# Words any answer may repeat from any question without saying anything about the asker.
_COMMON_WORDS = """
    about after also and any are asked can could did does for from get had has have here
    how into its just like may more most much not now off only other our out over please
    should some than that the their them then there these they this those too use very
    was were what when where which who why will with would yes you your
    aber alle auch auf aus bei bin bitte das dass dem den der des die doch ein eine einen
    einer für gibt hat habe ich ihr ihre ist kann können mit nach nicht noch nur oder sie
    sind und uns von was wenn wie wir wird zum zur
"""
_COMMON = frozenset(_COMMON_WORDS.split())


def _words(text: str) -> set[str]:
    return {w.casefold() for w in _WORD.findall(text)} - _COMMON


def shareable(
    *, source: str, question: str, answer: str, sources: Iterable[str], first_turn: bool
) -> bool:
    if source == "faq":
        return True
    if source != "rag" or not first_turn or _SPECIFIC.search(question):
        return False
    echoed = _words(question) & _words(answer)
    known = set().union(*(_words(text) for text in sources))
    return echoed <= known
