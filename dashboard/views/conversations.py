"""Conversations: filter by period and visitor, page through, read a transcript with each
answer explained, delete a conversation (a GDPR erasure, so it leaves every copy)."""

from __future__ import annotations

import streamlit as st

from dashboard.context import Context
from dashboard.views.common import attempt, need_bot, period

PAGE = 50
SOURCE_LABELS = {
    "": "any",
    "faq": "FAQ",
    "rag": "documents",
    "cache": "cache",
    "fallback": "not answered",
}


# How the dashboard names the rule that chose an answer's source (shared.chat.service._why).
RULES = {
    "faq_above_threshold": "FAQ above the threshold",
    "faq_grey_zone": "FAQ, closer than any document",
    "faq_checked": "FAQ, confirmed by the bot's LLM",
    "faq_answer_agrees": "FAQ, its answer fits the question too",
    "documents": "from the documents",
    "no_answer": "nothing relevant: handoff",
    "answer_cache": "from the answer cache",
    "spending_cap": "spending cap reached: answered offline",
}


def render(ctx: Context) -> None:
    if not need_bot(ctx):
        return
    since, until = period("conv")
    left, middle, right = st.columns(3)
    visitor = left.text_input("Visitor id", key="conv_visitor")
    source = middle.selectbox(
        "Answered by",
        ["", "faq", "rag", "cache", "fallback"],
        key="conv_source",
        format_func=lambda s: SOURCE_LABELS[s],
    )
    rated = right.selectbox(
        "Feedback",
        ["", "up", "down"],
        key="conv_feedback",
        format_func=lambda f: {"": "any", "up": "👍", "down": "👎"}[f],
    )
    words = st.text_input("Words said in it", key="conv_words")
    number = st.number_input("Page", 1, 10_000, 1, key="conv_page")
    listed = ctx.api.get(
        ctx.bot_path("/conversations"),
        **{
            "from": since,
            "to": until,
            "visitor_id": visitor,
            "source": source,
            "feedback": rated,
            "q": words,
            "limit": PAGE,
            "offset": (int(number) - 1) * PAGE,
        },
    )
    items = listed["items"]
    if not items:
        st.info("No conversations in this period.")
        return
    st.dataframe(
        [
            {
                "started": c["started_at"][:16],
                "visitor": c["visitor_id"],
                "messages": c["message_count"],
                "channel": c["channel"],
            }
            for c in items
        ],
        hide_index=True,
    )
    by_id = {c["id"]: c for c in items}
    chosen = st.selectbox(
        "Conversation",
        list(by_id),
        format_func=lambda i: f"{by_id[i]['started_at'][:16]} · {by_id[i]['visitor_id']}",
        key="conv_pick",
    )
    transcript = ctx.api.get(f"/v1/admin/conversations/{chosen}")
    for m in transcript["messages"]:
        with st.chat_message("user" if m["role"] == "user" else "assistant"):
            st.text(m["text"])
            if m["role"] == "assistant":
                why = [f"source: {m['source']}"]
                if m.get("matched_question"):
                    why.append(f"FAQ “{m['matched_question']}” ({(m.get('confidence') or 0):.2f})")
                decided = m.get("why") or {}
                if decided.get("rule"):
                    limit = decided.get("threshold")
                    said = RULES.get(decided["rule"], decided["rule"])
                    why.append(said + (f" (threshold {limit:.2f})" if limit is not None else ""))
                for_answer = decided.get("offered_for_answer") or {}
                offered = [
                    f"“{s['question']}”"
                    + (
                        f" (its answer fits, {for_answer['answer_similarity']:.2f})"
                        if s["faq_id"] == for_answer.get("faq_id")
                        else ""
                    )
                    for s in decided.get("suggested") or []
                ]
                if offered:
                    why.append("offered " + ", ".join(offered))
                if m.get("provider"):
                    why.append(f"{m['provider']} {m.get('model') or ''}".strip())
                why.append(f"{m.get('latency_ms') or 0} ms")
                if m.get("cost_usd"):
                    why.append(f"${m['cost_usd']:.5f}")
                if m.get("feedback"):
                    why.append("👍" if m["feedback"] > 0 else "👎")
                cited = ", ".join(s.get("title", "") for s in m.get("sources") or [])
                if cited:
                    why.append(f"cited: {cited}")
                st.caption(" · ".join(why))
    sure = st.checkbox(
        "Yes, delete this conversation everywhere (database, cache, archives)",
        key=f"conv_sure_{chosen}",
    )
    if st.button("Delete conversation", disabled=not sure):
        receipt = attempt(lambda: ctx.api.post("/v1/gdpr/erasure", {"conversation_id": chosen}))
        if receipt:
            st.success(f"Deleted ({receipt['counts']['messages']} messages).")
