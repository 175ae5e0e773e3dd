"""Password hashing with scrypt (memory-hard), self-describing and constant-time to verify.

>>> stored = hash_password("correct horse")
>>> verify_password("correct horse", stored), verify_password("wrong", stored)
(True, False)
"""

from __future__ import annotations

import base64
import functools
import os
import secrets
import string

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

# 2**15 x 8 x 1: 32 MiB of memory per hash, about 0.1 s on one core here.
_N, _R, _P, _LEN = 2**15, 8, 1, 32


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = Scrypt(salt=salt, length=_LEN, n=_N, r=_R, p=_P).derive(password.encode())
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, digest = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        kdf = Scrypt(salt=salt, length=len(digest), n=int(n), r=int(r), p=int(p))
        kdf.verify(password.encode(), digest)
        return True
    except (InvalidKey, ValueError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def burn_verify_time(password: str) -> None:
    """Spend a verification's time when no user matched, so timing does not tell."""
    verify_password(password, _dummy_hash())


def generate_password(length: int = 20) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))
