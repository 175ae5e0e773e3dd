"""Parley's dashboard: log in, choose a tenant and a bot, and manage everything.

Run with ``parley dashboard [--api URL]`` (or ``streamlit run dashboard/app.py`` with
``PARLEY_API_URL`` set). It talks to Parley only through the HTTP API; the session token
lives in this browser session's state and nowhere else; passwords go to the login call and
are not kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import streamlit as st

from dashboard.app_settings import api_url
from dashboard.client import Api, ApiError, SessionExpired
from dashboard.context import Context
from dashboard.views import (
    analytics,
    bots,
    conversations,
    documents,
    faqs,
    gaps,
    inbox,
    keys,
    overview,
    privacy,
    users,
)

# Navigation labels, exactly as documented (people and tests find pages by them).
PAGES: dict[str, Callable[[Context], None]] = {
    "Overview": overview.render,
    "Bots": bots.render,
    "FAQs": faqs.render,
    "Documents": documents.render,
    "Conversations": conversations.render,
    "Knowledge gaps": gaps.render,
    "Analytics": analytics.render,
    "API keys": keys.render,
    "Users": users.render,
    "Privacy requests": privacy.render,
    "Inbox": inbox.render,
}
ADMIN_ONLY = {"Users"}


def _login() -> None:
    st.title("Parley")
    notice = st.session_state.pop("notice", None)
    if notice:
        st.warning(notice)
    with st.form("login"):
        username = st.text_input("Username")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Log in")
    if submitted:
        api = Api(api_url())
        try:
            session = api.login(username, password)
        except ApiError as exc:
            st.error(exc.message)
            return
        st.session_state["token"] = session["token"]
        st.session_state["me"] = {k: session[k] for k in ("username", "role", "tenant_id")}
        st.rerun()


def _logout(api: Api) -> None:
    with contextlib.suppress(ApiError):  # the session is gone either way
        api.post("/v1/admin/logout")
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.rerun()


def _context(api: Api) -> Context:
    me = st.session_state["me"]
    tenant_id = me.get("tenant_id")
    with st.sidebar:
        st.caption(f"Logged in as **{me['username']}** ({me['role']})")
        if me["role"] == "admin":
            tenants = api.all_items("/v1/admin/tenants")
            if tenants:
                names = {t["id"]: f"{t['name']} ({t['slug']})" for t in tenants}
                tenant_id = st.selectbox(
                    "Tenant", list(names), format_func=names.__getitem__, key="tenant"
                )
            else:
                tenant_id = None
                st.info("No tenants yet.")
        bot_list = (
            [b for b in api.all_items("/v1/admin/bots") if b["tenant_id"] == tenant_id]
            if tenant_id
            else []
        )
        bot = None
        if bot_list:
            by_id = {b["id"]: b for b in bot_list}
            chosen = st.selectbox(
                "Bot", list(by_id), format_func=lambda i: by_id[i]["name"], key="bot"
            )
            bot = by_id[chosen]
    return Context(api=api, me=me, tenant_id=tenant_id, bots=bot_list, bot=bot)


def _flash() -> None:
    message = st.session_state.pop("flash", None)
    if message:
        st.success(message)


def main() -> None:
    st.set_page_config(page_title="Parley", layout="wide")
    if "token" not in st.session_state:
        _login()
        return
    api = Api(api_url(), st.session_state["token"])
    try:
        ctx = _context(api)
        labels = [p for p in PAGES if p not in ADMIN_ONLY or ctx.is_admin]
        with st.sidebar:
            page = st.radio("Page", labels, key="page")
            if st.button("Log out"):
                _logout(api)
        st.header(page)
        _flash()  # what the last action said before the page reran to show it
        PAGES[page](ctx)
        _flash()  # what an action of this run said
    except SessionExpired as exc:
        for key in list(st.session_state.keys()):
            del st.session_state[key]
        st.session_state["notice"] = exc.message
        st.rerun()
    except ApiError as exc:
        st.error(exc.message)


main()
