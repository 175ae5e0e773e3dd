"""Small helpers the pages share: needing a bot, running an API call next to its form."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

import streamlit as st

from dashboard.client import ApiError, SessionExpired
from dashboard.context import Context

T = TypeVar("T")


def need_bot(ctx: Context) -> bool:
    if ctx.bot is None:
        st.info("Create a bot first (page “Bots”).")
        return False
    return True


def attempt(call: Callable[[], T], success: str | None = None) -> T | None:
    """Run one API call; its error is shown here, next to what failed. ``success`` is shown
    once, also when the page reruns to show the change (see ``app.main``)."""
    try:
        result = call()
    except SessionExpired:
        raise
    except ApiError as exc:
        st.error(exc.message)
        return None
    if success:
        st.session_state["flash"] = success
    return result


def period(key: str, default_days: int = 30) -> tuple[str, str]:
    """A from/to date picker; ISO times for the API (to: the end of the chosen day)."""
    today = datetime.now(UTC).date()
    left, right = st.columns(2)
    since: date = left.date_input("From", today - timedelta(days=default_days), key=f"{key}_from")
    until: date = right.date_input("To", today, key=f"{key}_to")
    start = datetime.combine(since, time.min, UTC)
    end = datetime.combine(until, time.min, UTC) + timedelta(days=1)
    return start.isoformat(), end.isoformat()


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def pick(
    label: str, items: list[dict[str, Any]], show: Callable[[dict[str, Any]], str], key: str
) -> dict[str, Any] | None:
    if not items:
        return None
    by_id = {item["id"]: item for item in items}
    chosen = st.selectbox(label, list(by_id), format_func=lambda i: show(by_id[i]), key=key)
    return by_id.get(chosen)
