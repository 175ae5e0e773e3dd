"""Users (admins only): dashboard users, created as admins or as a tenant's users."""

from __future__ import annotations

import streamlit as st

from dashboard.context import Context
from dashboard.views.common import attempt


def render(ctx: Context) -> None:
    users = ctx.api.all_items("/v1/admin/users")
    st.dataframe(
        [
            {
                "username": u["username"],
                "role": u["role"],
                "tenant": u["tenant_id"] or "all",
                "disabled": u["disabled"],
                "last login": u["last_login_at"] or "",
            }
            for u in users
        ],
        hide_index=True,
    )
    with st.form("user_new"):
        username = st.text_input("New username")
        password = st.text_input("Initial password (10 characters or more)", type="password")
        role = st.selectbox(
            "Role",
            ["saas_user", "admin"],
            format_func=lambda r: "tenant user" if r == "saas_user" else "admin",
        )
        created = st.form_submit_button("Create user")
    if created:
        body = {
            "username": username,
            "password": password,
            "role": role,
            "tenant_id": ctx.tenant_id if role == "saas_user" else None,
        }
        if attempt(lambda: ctx.api.post("/v1/admin/users", body), f"Created {username}."):
            st.rerun()
