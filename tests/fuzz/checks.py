"""Schemathesis checks of Parley's own promises, loaded with SCHEMATHESIS_HOOKS: every
refusal is the JSON error shape of DESIGN.md, and no body gives away internals."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import schemathesis

# What a body must never contain: a Python traceback, a file path of the code, SQL, the
# database driver's own words.
INTERNALS = re.compile(
    r"Traceback \(most recent call last\)|File \"/|\bpsycopg\b|\bSELECT\b.+\bFROM\b"
    r"|\bINSERT INTO\b|\bUPDATE\b.+\bSET\b|violates .* constraint",
    re.DOTALL,
)


@schemathesis.check
def parley_error_shape(ctx: Any, response: Any, case: Any) -> None:
    """A 4xx or 5xx answer is ``{"error": {"code": str, "message": str, ...}}``."""
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{response.status_code} with a body that is not JSON") from None
    error = body.get("error") if isinstance(body, dict) else None
    if not (
        isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and isinstance(error.get("message"), str)
    ):
        raise AssertionError(f"{response.status_code} not in the error shape: {body!r:.200}")
    return None


@schemathesis.check
def parley_no_internals(ctx: Any, response: Any, case: Any) -> None:
    """No traceback, source path or SQL in any body."""
    text = response.content.decode("utf-8", "replace")
    found = INTERNALS.search(text)
    if found:
        raise AssertionError(f"the body shows internals: {found.group(0)[:80]!r}")
    return None


# Chat and GDPR bodies name a bot: a random id only ever reaches "no such bot". With
# PARLEY_FUZZ_BOT_ID set, a generated id (a valid UUID) becomes that bot's, so the fuzzer
# reaches the chat path itself; malformed ids are left as generated.
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _aim(values: Any) -> Any:
    bot_id = os.environ.get("PARLEY_FUZZ_BOT_ID")
    if bot_id and isinstance(values, dict) and _UUID.match(str(values.get("bot_id", ""))):
        values["bot_id"] = bot_id
    return values


@schemathesis.hook
def map_body(ctx: Any, body: Any) -> Any:
    return _aim(body)


@schemathesis.hook
def map_query(ctx: Any, query: Any) -> Any:
    return _aim(query)
