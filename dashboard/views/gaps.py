"""Knowledge gaps: what visitors asked that the bot could not answer, most frequent first,
each one step from becoming a FAQ or another way to ask an existing one."""

from __future__ import annotations

from functools import partial

import streamlit as st

from dashboard.context import Context
from dashboard.views.common import attempt, need_bot, period


def render(ctx: Context) -> None:
    if not need_bot(ctx):
        return
    since, until = period("gaps")
    gaps = ctx.api.get(ctx.bot_path("/unanswered"), **{"from": since, "to": until})["items"]
    dismissed = st.session_state.setdefault("gaps_dismissed", set())
    gaps = [g for g in gaps if g["question"] not in dismissed]
    if not gaps:
        st.success("No unanswered questions in this period.")
        return
    faqs = ctx.api.all_items(ctx.bot_path("/faqs"))
    by_id = {f["id"]: f for f in faqs}

    def question_of(faq_id: str) -> str:
        return str(by_id[faq_id]["question"])

    for i, gap in enumerate(gaps):
        with st.container(border=True):
            st.markdown(f"**{gap['question']}** — asked {gap['count']}×")
            answer = st.text_area("Answer", key=f"gap_answer_{i}")
            left, middle, right = st.columns(3)
            if left.button("Add as FAQ", key=f"gap_add_{i}"):
                body = {"question": gap["question"], "answer": answer}
                if attempt(
                    partial(ctx.api.post, ctx.bot_path("/faqs"), body),
                    "Added: the next visitor asking this gets the answer.",
                ):
                    dismissed.add(gap["question"])
            if faqs:
                target = middle.selectbox(
                    "FAQ", list(by_id), format_func=question_of, key=f"gap_faq_{i}"
                )
                if middle.button("Add as alternative", key=f"gap_alt_{i}"):
                    faq = by_id[target]
                    body = {"alternatives": [*faq["alternatives"], gap["question"]]}
                    if attempt(
                        partial(ctx.api.patch, ctx.bot_path(f"/faqs/{faq['id']}"), body),
                        "Added as another way to ask.",
                    ):
                        dismissed.add(gap["question"])
            if right.button("Dismiss", key=f"gap_dismiss_{i}"):
                dismissed.add(gap["question"])
                st.rerun()
