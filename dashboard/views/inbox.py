"""Inbox: visitors waiting for a person (oldest first) and conversations a person handles,
across the caller's tenants; the live transcript, a reply box, and take / hand back /
close. The page reads the inbox again every few seconds by itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import streamlit as st

from dashboard.context import Context
from dashboard.views.common import attempt

REFRESH = timedelta(seconds=5)
STATES = {"waiting": "⏳ waiting", "human": "💬 with a person"}
SPEAKERS = {"user": "Visitor", "assistant": "Bot"}


def render(ctx: Context) -> None:
    st.caption("Visitors who asked for a person. This page refreshes by itself.")
    st.text_input(
        "Your name (shown to the visitor)", value=ctx.me.get("username", ""), key="inbox_operator"
    )
    _live(ctx)


@st.fragment(run_every=REFRESH)
def _live(ctx: Context) -> None:
    items = ctx.api.get("/v1/admin/inbox")["items"]
    if not items:
        st.info("Nobody is waiting for a person.")
        return
    st.dataframe(
        [
            {
                "state": STATES[i["state"]],
                "waiting": _ago(i["waiting_seconds"]),
                "bot": i["bot_name"],
                "visitor": i["visitor_name"] or "—",
                "e-mail": i["contact"] or "—",
                "handled by": i["assigned_name"] or "—",
                "messages": i["message_count"],
            }
            for i in items
        ],
        hide_index=True,
    )
    by_id = {i["id"]: i for i in items}
    chosen = st.selectbox(
        "Conversation",
        list(by_id),
        format_func=lambda i: _label(by_id[i]),
        key="inbox_pick",
    )
    _conversation(ctx, by_id[chosen])


def _conversation(ctx: Context, item: dict[str, Any]) -> None:
    path = f"/v1/admin/conversations/{item['id']}"
    transcript = ctx.api.get(path)
    for m in transcript["messages"]:
        with st.chat_message("user" if m["role"] == "user" else "assistant"):
            who = m.get("operator") if m["role"] == "operator" else SPEAKERS[m["role"]]
            st.caption(f"{who} · {m['created_at'][11:16]}")
            st.text(m["text"])
    operator = {"operator": st.session_state.get("inbox_operator") or None}
    take, back, close = st.columns(3)
    if item["state"] == "waiting" and take.button("Take", key="inbox_take"):
        _act(lambda: ctx.api.post(f"{path}/take", operator), "You handle this conversation.")
    if back.button("Hand back to the bot", key="inbox_release"):
        _act(lambda: ctx.api.post(f"{path}/release"), "The bot answers this visitor again.")
    if close.button("Close", key="inbox_close"):
        _act(lambda: ctx.api.post(f"{path}/close"), "Conversation closed.")
    with st.form("inbox_reply", clear_on_submit=True):
        text = st.text_area("Reply", max_chars=4000)
        sent = st.form_submit_button("Send")
    if sent and text.strip():
        _act(lambda: ctx.api.post(f"{path}/messages", {"text": text, **operator}), "Sent.")


def _act(call: Any, success: str) -> None:
    if attempt(call, success) is not None:
        st.rerun()


def _label(item: dict[str, Any]) -> str:
    who = item["visitor_name"] or item["contact"] or "visitor"
    return f"{STATES[item['state']]} · {item['bot_name']} · {who} · {_ago(item['waiting_seconds'])}"


def _ago(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
