"""Users (admins only): dashboard users (admins or a tenant's users) and new tenants."""

from __future__ import annotations

import streamlit as st

from dashboard.context import Context
from dashboard.views.common import attempt, pick


def _new_tenant(ctx: Context) -> None:
    with st.expander("New tenant (a shop)"):
        with st.form("tenant_new"):
            name = st.text_input("Tenant name")
            created = st.form_submit_button("Create tenant")
        if created and attempt(
            lambda: ctx.api.post("/v1/admin/tenants", {"name": name}),
            f"Created {name}: choose it in the sidebar.",
        ):
            st.rerun()


def render(ctx: Context) -> None:
    _new_tenant(ctx)
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

    user = pick("User", users, lambda u: f"{u['username']} ({u['role']})", key="user_pick")
    if user is None:
        return
    with st.form(f"user_{user['id']}"):
        password = st.text_input("New password", type="password")
        active = st.checkbox("Active", not user["disabled"])
        changed = st.form_submit_button("Save user")
    if changed:
        change: dict[str, object] = {"disabled": not active}
        if password:
            change["password"] = password
        if attempt(
            lambda: ctx.api.patch(f"/v1/admin/users/{user['id']}", change),
            f"Saved {user['username']}; their sessions have ended.",
        ):
            st.rerun()
