"""API keys: list, create (the key is shown once), revoke."""

from __future__ import annotations

import streamlit as st

from dashboard.context import Context
from dashboard.views.common import attempt, pick


def render(ctx: Context) -> None:
    if ctx.tenant_id is None:
        st.info("Choose a tenant.")
        return
    made = st.session_state.pop("new_key", None)
    if made:
        st.success("Your new key — copy it now, it is not shown again:")
        st.code(made, language=None)
    keys = [k for k in ctx.api.all_items("/v1/admin/api-keys") if k["tenant_id"] == ctx.tenant_id]
    st.dataframe(
        [
            {
                "name": k["name"],
                "kind": k["kind"],
                "role": k["role"],
                "prefix": k["prefix"],
                "last used": k["last_used_at"] or "",
                "revoked": k["revoked_at"] or "",
            }
            for k in keys
        ],
        hide_index=True,
    )
    with st.form("key_new"):
        name = st.text_input("Key name")
        kind = st.selectbox(
            "Kind",
            ["publishable", "secret"],
            key="key_kind",
            help="Publishable: one bot's widget, from its allowed origins."
            " Secret: server to server.",
        )
        role = st.selectbox(
            "Role of a secret key", ["saas_user", "admin"] if ctx.is_admin else ["saas_user"]
        )
        created = st.form_submit_button("Create key")
    if created:
        body: dict[str, object] = {"tenant_id": ctx.tenant_id, "kind": kind, "name": name}
        if kind == "publishable":
            if ctx.bot is None:
                st.error("A publishable key belongs to a bot: create one first.")
                return
            body["bot_id"] = ctx.bot["id"]
        else:
            body["role"] = role
        key = attempt(lambda: ctx.api.post("/v1/admin/api-keys", body))
        if key:
            st.session_state["new_key"] = key["key"]
            st.rerun()
    live = [k for k in keys if not k["revoked_at"]]
    key = pick(
        "Key to revoke", live, lambda k: f"{k['name'] or k['prefix']} ({k['kind']})", key="key_pick"
    )
    if (
        key is not None
        and st.button("Revoke key")
        and attempt(
            lambda: ctx.api.delete(f"/v1/admin/api-keys/{key['id']}"),
            "Revoked: it is refused from now on.",
        )
    ):
        st.rerun()
