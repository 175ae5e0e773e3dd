"""FAQs: the table, edit one, add, delete, import JSONL/CSV (all or nothing), export CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

import streamlit as st

from dashboard.context import Context
from dashboard.views.common import attempt, lines, pick


def _csv(faqs: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["question", "answer", "alternatives"])
    for f in faqs:
        writer.writerow([f["question"], f["answer"], "|".join(f["alternatives"])])
    return out.getvalue()


def render(ctx: Context) -> None:
    if ctx.bot is None:
        st.info("Create a bot first (page “Bots”).")
        return
    faqs = ctx.api.all_items(ctx.bot_path("/faqs"))
    st.dataframe(
        [
            {
                "question": f["question"],
                "alternatives": " | ".join(f["alternatives"]),
                "answer": f["answer"],
                "enabled": f["enabled"],
                "hits": f["hits"],
            }
            for f in faqs
        ],
        hide_index=True,
    )
    st.download_button(
        "Export as CSV", _csv(faqs), file_name=f"{ctx.bot['slug']}-faqs.csv", mime="text/csv"
    )

    faq = pick("Edit a FAQ", faqs, lambda f: f["question"], key="faq_pick")
    if faq is not None:
        with st.form(f"faq_{faq['id']}"):
            question = st.text_input("Question", faq["question"])
            alternatives = st.text_area(
                "Other ways to ask (one a line)", "\n".join(faq["alternatives"])
            )
            answer = st.text_area("Answer", faq["answer"])
            enabled = st.checkbox("Enabled", faq["enabled"])
            saved = st.form_submit_button("Save FAQ")
        if saved:
            body = {
                "question": question,
                "alternatives": lines(alternatives),
                "answer": answer,
                "enabled": enabled,
            }
            if attempt(
                lambda: ctx.api.patch(ctx.bot_path(f"/faqs/{faq['id']}"), body), "FAQ saved."
            ):
                st.rerun()
        if st.button("Delete this FAQ", key=f"faq_del_{faq['id']}") and attempt(
            lambda: ctx.api.delete(ctx.bot_path(f"/faqs/{faq['id']}")), "FAQ deleted."
        ):
            st.rerun()

    with st.expander("Add a FAQ"):
        with st.form("faq_new"):
            question = st.text_input("New question")
            alternatives = st.text_area("Other ways to ask it (one a line)")
            answer = st.text_area("Its answer")
            added = st.form_submit_button("Add FAQ")
        if added:
            body = {"question": question, "alternatives": lines(alternatives), "answer": answer}
            if attempt(lambda: ctx.api.post(ctx.bot_path("/faqs"), body), "FAQ added."):
                st.rerun()

    with st.expander("Import JSONL or CSV"):
        st.caption(
            'JSONL: {"question", "answer", "alternatives"} a line; CSV: question,answer,'
            "alternatives (alternatives split by |). Bad lines are listed by number and"
            " nothing is imported."
        )
        upload = st.file_uploader("FAQ file", type=["jsonl", "csv"])
        pasted = st.text_area("…or paste the lines here")
        if st.button("Import"):
            content = upload.getvalue() if upload is not None else pasted.encode()
            name = (
                upload.name
                if upload is not None
                else (
                    "faqs.csv" if pasted.lstrip().lower().startswith("question,") else "faqs.jsonl"
                )
            )
            result = attempt(
                lambda: ctx.api.request(
                    "POST", ctx.bot_path("/faqs/import"), content=content, params={"filename": name}
                )
            )
            if result:
                st.success(f"Imported {result['imported']} FAQs.")
