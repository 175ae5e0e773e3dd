"""Knowledge gaps: what visitors asked that the bot did not answer or answered badly,
grouped by meaning, most frequent first; each one step from becoming a FAQ (or more ways to
ask an existing one). A handled or dismissed gap leaves the list for good."""

from __future__ import annotations

from functools import partial

import streamlit as st

from dashboard.context import Context
from dashboard.phrasings import MAX_ALTERNATIVES, with_phrasings
from dashboard.views.common import attempt, need_bot, period

REASONS = {"not_answered": "not answered", "thumbs_down": "thumbs-down"}


def render(ctx: Context) -> None:
    if not need_bot(ctx):
        return
    since, until = period("gaps")
    gaps = ctx.api.get(ctx.bot_path("/gaps"), **{"from": since, "to": until})["items"]
    if not gaps:
        st.success("No knowledge gaps in this period.")
        return
    faqs = ctx.api.all_items(ctx.bot_path("/faqs"))
    by_id = {f["id"]: f for f in faqs}

    def question_of(faq_id: str) -> str:
        return str(by_id[faq_id]["question"])

    def done(phrasings: list[str]) -> None:
        attempt(partial(ctx.api.post, ctx.bot_path("/gaps/dismiss"), {"phrasings": phrasings}))
        st.rerun()

    for i, gap in enumerate(gaps):
        with st.container(border=True):
            why = ", ".join(f"{n}× {REASONS.get(r, r)}" for r, n in gap["reasons"].items())
            st.markdown(f"**{gap['question']}** — asked {gap['count']}× ({why})")
            others = [p for p in gap["phrasings"] if p != gap["question"]]
            if others:
                st.caption("Also asked as: " + " · ".join(others[:5]))
            # FAQ id -> the phrasings whose visitors took it from those offered (most first)
            taken = {t["faq_id"]: t["phrasings"] for t in gap["picked"] if t["faq_id"] in by_id}
            if taken:
                took = " · ".join(
                    f"“{question_of(t['faq_id'])}” {t['count']}×"
                    for t in gap["picked"]
                    if t["faq_id"] in taken
                )
                st.caption("Offered FAQs its visitors then took: " + took)
            answer = st.text_area("Answer", key=f"gap_answer_{i}")
            left, middle, right = st.columns(3)
            if left.button("Add as FAQ", key=f"gap_add_{i}"):
                body = {
                    "question": gap["question"],
                    "alternatives": others[:MAX_ALTERNATIVES],
                    "answer": answer,
                }
                if attempt(
                    partial(ctx.api.post, ctx.bot_path("/faqs"), body),
                    "Added: the next visitor asking this gets the answer.",
                ):
                    done(gap["phrasings"])
            if faqs:
                # the FAQ its visitors took most often comes first
                choices = [*taken, *(f for f in by_id if f not in taken)]
                target = middle.selectbox(
                    "FAQ", choices, format_func=question_of, key=f"gap_faq_{i}"
                )
                # to a FAQ its visitors took, the phrasings that led there; else all of them
                adding = taken.get(target, gap["phrasings"])
                if len(adding) < len(gap["phrasings"]):
                    middle.caption(f"Adds the {len(adding)} phrasing(s) whose visitors took it")
                if middle.button("Add as alternative", key=f"gap_alt_{i}"):
                    faq = by_id[target]
                    merged, left_out = with_phrasings(faq["alternatives"], adding)
                    said = "Added as more ways to ask."
                    if left_out:
                        said += (
                            f" {left_out} did not fit: a FAQ has at most {MAX_ALTERNATIVES} other"
                            " ways to ask; remove some in the FAQ's editor to make room."
                        )
                    if attempt(
                        partial(
                            ctx.api.patch,
                            ctx.bot_path(f"/faqs/{faq['id']}"),
                            {"alternatives": merged},
                        ),
                        said,
                    ):
                        held = {m.casefold() for m in merged}
                        done([p for p in gap["phrasings"] if p.casefold() in held])
            if right.button("Dismiss", key=f"gap_dismiss_{i}"):
                done(gap["phrasings"])
