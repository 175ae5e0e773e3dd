"""Documents: upload, the list with status and errors, retry, delete."""

from __future__ import annotations

from functools import partial

import streamlit as st

from dashboard.context import Context
from dashboard.views.common import attempt, need_bot, pick


def render(ctx: Context) -> None:
    if not need_bot(ctx):
        return
    docs = ctx.api.all_items(ctx.bot_path("/documents"))
    busy = [d for d in docs if d["status"] in ("pending", "processing")]
    if busy:
        st.info(f"Ingesting {len(busy)} document(s)… (refresh to follow)")
    st.dataframe(
        [
            {
                "title": d["title"],
                "status": d["status"],
                "error": d.get("error") or "",
                "attempts": d.get("attempts", 0),
                "chunks": d.get("chunk_count", 0),
            }
            for d in docs
        ],
        hide_index=True,
    )
    uploads = st.file_uploader(
        "Upload files (PDF, HTML, Markdown, text, FAQ CSV/JSONL)", accept_multiple_files=True
    )
    if uploads and st.button("Upload"):
        # Each upload is ingested (parsed, chunked, embedded) before its call returns.
        progress = st.progress(0.0, text="Ingesting…")
        for count, upload in enumerate(uploads):
            progress.progress(count / len(uploads), text=f"Ingesting {upload.name}…")
            files = {
                "file": (upload.name, upload.getvalue(), upload.type or "application/octet-stream")
            }
            attempt(
                partial(ctx.api.request, "POST", ctx.bot_path("/documents"), files=files),
                f"Uploaded {upload.name}.",
            )
        progress.progress(1.0, text=f"Ingested {len(uploads)} file(s).")
    with st.expander("Write a text document"):
        with st.form("doc_text"):
            title = st.text_input("File name", "notes.md")
            text = st.text_area("Text (Markdown)")
            sent = st.form_submit_button("Add document")
        if sent:
            done = attempt(
                lambda: ctx.api.request(
                    "POST",
                    ctx.bot_path("/documents"),
                    content=text.encode(),
                    params={"filename": title},
                ),
                f"Added {title}.",
            )
            if done:
                st.rerun()
    doc = pick("Document", docs, lambda d: f"{d['title']} ({d['status']})", key="doc_pick")
    if doc is not None:
        left, right = st.columns(2)
        if left.button("Retry ingestion") and attempt(
            lambda: ctx.api.post(ctx.bot_path(f"/documents/{doc['id']}/retry")), "Retried."
        ):
            st.rerun()
        if right.button("Delete document") and attempt(
            lambda: ctx.api.delete(ctx.bot_path(f"/documents/{doc['id']}")), "Deleted."
        ):
            st.rerun()
