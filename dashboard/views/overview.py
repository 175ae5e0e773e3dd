"""Overview: the chosen bot's period at a glance, with a daily trend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st

from dashboard.context import Context
from dashboard.views.common import need_bot

SOURCES = {"faq": "FAQ", "rag": "documents", "cache": "cache", "fallback": "not answered"}


def _spending(spend: dict[str, Any]) -> None:
    """This month's LLM spending against the bot's cap."""
    currency, spent, cap = spend["currency"], spend["spent"], spend["cap"]
    if cap is None:
        st.caption(f"LLM spending this month: {spent:.2f} {currency} (no monthly cap)")
        return
    st.caption(f"LLM spending this month: {spent:.2f} of {cap:.2f} {currency}")
    st.progress(min(spend["share"] or 0.0, 1.0))
    if spend["capped"]:
        st.warning(
            "The monthly spending cap is reached: the bot answers from its FAQ and documents"
            " without the LLM, and offers a person, until next month or a higher cap."
        )


def render(ctx: Context) -> None:
    if not need_bot(ctx):
        return
    days = st.selectbox(
        "Period", [7, 14, 30], format_func=lambda d: f"last {d} days", key="ov_days"
    )
    until = datetime.now(UTC)
    since = until - timedelta(days=days)
    data = ctx.api.get(
        ctx.bot_path("/analytics"), **{"from": since.isoformat(), "to": until.isoformat()}
    )
    tokens = sum(
        int(p.get("tokens_in") or 0) + int(p.get("tokens_out") or 0) for p in data["providers"]
    )
    cost = sum(float(p.get("cost_usd") or 0) for p in data["providers"])
    rated = data["feedback"]["up"] + data["feedback"]["down"]
    cols = st.columns(4)
    cols[0].metric("Conversations", data["conversations"])
    cols[1].metric("Questions", data["answers"])
    cols[2].metric(
        "Latency p50 / p95",
        f"{data['latency_ms']['p50'] or 0:.0f} / {data['latency_ms']['p95'] or 0:.0f} ms",
    )
    cols[3].metric("Thumbs up", f"{data['feedback']['up'] / rated:.0%}" if rated else "—")
    shares = st.columns(len(SOURCES) + 1)
    for col, (source, label) in zip(shares, SOURCES.items(), strict=False):
        col.metric(
            f"Answered by {label}" if source != "fallback" else "Not answered",
            f"{data['shares'][source]:.0%}",
        )
    shares[-1].metric("LLM tokens", f"{tokens:,}", help=f"cost: ${cost:.4f}")
    _spending(data["spend"])

    by_day = {d["day"]: d for d in data["daily"]}
    days_shown = [(since + timedelta(days=i + 1)).date().isoformat() for i in range(days)]
    trend = {
        "day": days_shown,
        "questions": [by_day.get(d, {}).get("answers", 0) for d in days_shown],
        "answered by FAQ": [by_day.get(d, {}).get("faq", 0) for d in days_shown],
    }
    st.caption("Questions a day, and how many the FAQ answered")
    st.line_chart(trend, x="day", y=["questions", "answered by FAQ"], height=200)
