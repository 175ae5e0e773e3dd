"""Privacy requests: the tenant's GDPR requests, and running an export or an erasure."""

from __future__ import annotations

import json

import streamlit as st

from dashboard.context import Context
from dashboard.views.common import attempt


def render(ctx: Context) -> None:
    requests = ctx.api.all_items("/v1/admin/gdpr-requests")
    if ctx.is_admin and ctx.tenant_id:
        requests = [r for r in requests if r["tenant_id"] in (ctx.tenant_id, None)]
    st.dataframe(
        [
            {
                "received": r["received_at"][:16],
                "kind": r["kind"],
                "status": r["status"],
                "deadline": r["deadline"][:10],
                "by": r["requested_by"],
                "subject": r["subject_kind"],
                "verified": r["verified"],
                **r["counts"],
            }
            for r in requests
        ],
        hide_index=True,
    )
    st.subheader("Run a request")
    how = st.radio("Who", ["Visitor id", "Contact address"], horizontal=True, key="gdpr_how")
    value = st.text_input(
        "Visitor id of the chosen bot" if how == "Visitor id" else "E-mail address",
        key="gdpr_value",
    ).strip()
    if how == "Visitor id":
        if ctx.bot is None:
            st.info("Choose a bot.")
            return
        body: dict[str, str] = {"bot_id": ctx.bot["id"], "visitor_id": value}
    else:
        body = {"contact": value}
        if ctx.is_admin and ctx.tenant_id:
            body["tenant_id"] = ctx.tenant_id
    left, right = st.columns(2)
    if left.button("Export", disabled=not value):
        exported = attempt(lambda: ctx.api.post("/v1/gdpr/export", body))
        if exported and "conversations" in exported:
            st.download_button(
                "Download the export",
                json.dumps(exported, indent=2, ensure_ascii=False),
                file_name="export.json",
                mime="application/json",
            )
            st.success(f"{len(exported['conversations'])} conversation(s) found.")
        elif exported:
            data = attempt(lambda: ctx.api.get(exported["download_url"]))
            if data:
                st.download_button(
                    "Download the export",
                    json.dumps(data, indent=2, ensure_ascii=False),
                    file_name="export.json",
                    mime="application/json",
                )
    sure = right.checkbox("Yes, erase everything of this person", key="gdpr_sure")
    if right.button("Erase", disabled=not (value and sure)):
        receipt = attempt(lambda: ctx.api.post("/v1/gdpr/erasure", body))
        if receipt:
            counts = receipt["counts"]
            st.success(
                f"Erasure {receipt['status']}: {counts['conversations']} conversation(s),"
                f" {counts['messages']} message(s)."
            )
