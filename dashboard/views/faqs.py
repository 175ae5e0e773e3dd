"""FAQs: the table, edit one, add, delete, import JSONL/CSV (all or nothing), export CSV."""

from __future__ import annotations

import csv
import io
from functools import partial
from typing import Any

import streamlit as st

from dashboard.context import Context
from dashboard.views.common import attempt, lines, pick

ALTERNATIVES = " | "


def _row(faq: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": faq["id"],
        "question": faq["question"],
        "alternatives": ALTERNATIVES.join(faq["alternatives"]),
        "answer": faq["answer"],
        "enabled": faq["enabled"],
        "hits": faq["hits"],
    }


def table_changes(
    faqs: list[dict[str, Any]], rows: list[dict[str, Any]]
) -> tuple[list[tuple[str, dict[str, Any]]], list[dict[str, Any]], list[str]]:
    """What saving the edited table means: (FAQ id, changed fields) to update, new FAQs to
    create, FAQ ids to delete."""
    by_id = {f["id"]: f for f in faqs}
    updates, creates, kept = [], [], set()
    for row in rows:
        fields = {
            "question": str(row.get("question") or "").strip(),
            "alternatives": [
                a.strip() for a in str(row.get("alternatives") or "").split("|") if a.strip()
            ],
            "answer": str(row.get("answer") or "").strip(),
            "enabled": row.get("enabled") is not False,  # a new row's empty cell: enabled
        }
        faq = by_id.get(row.get("id"))
        if faq is None:
            if fields["question"] or fields["answer"]:
                creates.append(fields)
            continue
        kept.add(faq["id"])
        changed = {k: v for k, v in fields.items() if v != faq[k]}
        if changed:
            updates.append((faq["id"], changed))
    return updates, creates, [i for i in by_id if i not in kept]


def _save_table(ctx: Context, faqs: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    updates, creates, deletes = table_changes(faqs, rows)
    done = 0
    for faq_id, changed in updates:
        done += (
            attempt(partial(ctx.api.patch, ctx.bot_path(f"/faqs/{faq_id}"), changed)) is not None
        )
    for fields in creates:
        done += attempt(partial(ctx.api.post, ctx.bot_path("/faqs"), fields)) is not None
    for faq_id in deletes:
        done += attempt(partial(ctx.api.delete, ctx.bot_path(f"/faqs/{faq_id}"))) is not None
    if done == len(updates) + len(creates) + len(deletes):
        st.session_state["flash"] = (
            f"Saved: {len(updates)} changed, {len(creates)} added, {len(deletes)} deleted."
        )
        st.rerun()


def _csv(faqs: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["question", "answer", "alternatives"])
    for f in faqs:
        writer.writerow([f["question"], f["answer"], "|".join(f["alternatives"])])
    return out.getvalue()


DECISIONS = {
    "faq": "Answered from the FAQ",
    "documents": "Answered from the documents (generated from these passages)",
    "not_answered": "Not answered: the visitor gets the handoff text",
}


def _test_a_question(ctx: Context) -> None:
    with st.form("faq_test"):
        question = st.text_input("Test a question")
        tried = st.form_submit_button("Test")
    if not (tried and question.strip()):
        return
    result = attempt(lambda: ctx.api.post(ctx.bot_path("/preview"), {"question": question}))
    if not result:
        return
    st.markdown(
        f"**{DECISIONS[result['decision']]}** — confidence {result['confidence']:.2f}"
        f" (threshold {result['threshold']:.2f})"
    )
    if result["faq"]:
        st.markdown(f"Matched FAQ: “{result['faq']['question']}”")
    if result.get("lacking"):
        st.info(
            "Above the threshold, but the question asks about something no FAQ mentions and"
            f" your documents do ({', '.join(result['lacking'])}): the documents answer. Add"
            " it to a FAQ's answer or phrasings if the FAQ should."
        )
    if result.get("answer_similarity") is not None:
        st.info(
            "Under the threshold and nothing in your documents answers it, but the FAQ's"
            f" answer fits the question too (similarity {result['answer_similarity']:.2f}):"
            " the FAQ answers."
        )
    if result.get("suggested"):
        offered = ", ".join(f"“{q}”" for q in result["suggested"])
        st.markdown(f"Offered with the handoff text: {offered}")
    if result.get("offered_for_answer"):
        for_answer = result["offered_for_answer"]
        st.info(
            f"“{for_answer['question']}” is offered because its answer fits the question"
            f" (similarity {for_answer['answer_similarity']:.2f}), though its phrasings do not."
        )
    if result.get("llm_check"):
        st.info(
            "Close to a FAQ but under the threshold: your bot's LLM is first asked which of"
            " the candidates below answers, if any. The decision above is what happens"
            " without it."
        )
    if result["candidates"]:
        st.caption("FAQ candidates, best first")
        st.dataframe(
            [{"question": c["question"], "score": c["score"]} for c in result["candidates"]],
            hide_index=True,
        )
    if result["passages"]:
        st.caption("Passages")
        st.dataframe(result["passages"], hide_index=True, column_order=["title", "similarity"])


def render(ctx: Context) -> None:
    if ctx.bot is None:
        st.info("Create a bot first (page “Bots”).")
        return
    faqs = ctx.api.all_items(ctx.bot_path("/faqs"))
    st.caption("Edit cells, add rows at the bottom, delete rows; then save the table.")
    edited = st.data_editor(
        [_row(f) for f in faqs],
        num_rows="dynamic",
        hide_index=True,
        disabled=["id", "hits"],
        column_order=["question", "alternatives", "answer", "enabled", "hits"],
        key=f"faq_table_{ctx.bot['kb_version']}",
    )
    if st.button("Save table"):
        _save_table(ctx, faqs, edited)
    st.download_button(
        "Export as CSV", _csv(faqs), file_name=f"{ctx.bot['slug']}-faqs.csv", mime="text/csv"
    )

    _test_a_question(ctx)
    faq = pick("Edit a FAQ", faqs, lambda f: f["question"], key="faq_pick")
    if faq is not None:
        with st.form(f"faq_{faq['id']}"):
            question = st.text_input("Question", faq["question"])
            alternatives = st.text_area(
                "Other ways to ask (one a line)", "\n".join(faq["alternatives"])
            )
            generated = faq.get("generated_alternatives")
            written = (
                None
                if generated is None
                else st.text_area(
                    "Ways to ask written by the bot's LLM (one a line; delete the ones you"
                    " do not want)",
                    "\n".join(generated),
                )
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
            if written is not None and lines(written) != generated:
                body["generated_alternatives"] = lines(written)
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
