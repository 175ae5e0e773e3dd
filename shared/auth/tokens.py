"""Secrets handed to callers: API keys and session tokens. Only their hashes are stored.

An API key reads ``sk_`` or ``pk_``, then a 12-character public id (the stored prefix is
``sk_`` plus that id, used to look the key up), then 43 characters of secret (256 bits).
High-entropy secrets need no slow KDF: SHA-256 of the whole key is stored and compared in
constant time.
"""

from __future__ import annotations

import hashlib
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
_KINDS = {"publishable": "pk", "secret": "sk"}
_ID_LEN = 12
SESSION_PREFIX = "ps_"


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def new_api_key(kind: str) -> tuple[str, str]:
    """A fresh key of ``kind`` ('publishable' or 'secret'): (the key, its public prefix)."""
    ident = "".join(secrets.choice(_ALPHABET) for _ in range(_ID_LEN))
    prefix = f"{_KINDS[kind]}_{ident}"
    return prefix + secrets.token_urlsafe(32), prefix


def api_key_prefix(key: str) -> str | None:
    """The lookup prefix of something shaped like an API key, else None."""
    head = key[:3]
    if head not in ("pk_", "sk_") or len(key) < 3 + _ID_LEN + 40:
        return None
    return key[: 3 + _ID_LEN]


def new_session_token() -> str:
    return SESSION_PREFIX + secrets.token_urlsafe(32)
