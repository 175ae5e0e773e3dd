"""Bots: list, create, every setting, delete with confirmation, and the embed snippet."""

from __future__ import annotations

from typing import Any

import streamlit as st
import streamlit.components.v1 as components

from dashboard.app_settings import public_url
from dashboard.context import Context
from dashboard.views.common import attempt, lines

PROVIDERS = ["mistral", "openai", "extractive"]
CURRENCIES = ["EUR", "USD", "GBP", "CHF"]
# Where the widget keeps a conversation across page loads (display.remember_conversation).
REMEMBER = {
    "tab": "In the browser tab, until it closes",
    "browser": "In the browser, until the visitor deletes it",
    "off": "Nowhere: a reload starts afresh",
}


def _settings_form(ctx: Context, bot: dict[str, Any]) -> None:
    display = bot.get("display") or {}
    with st.form(f"bot_{bot['id']}"):
        name = st.text_input("Name", bot["name"])
        origins = st.text_area("Allowed origins (one a line)", "\n".join(bot["allowed_origins"]))
        language = st.selectbox("Language", ["en", "de"], index=0 if bot["language"] == "en" else 1)
        threshold = st.number_input(
            f"FAQ threshold (0: this bot's default, {bot['default_faq_threshold']:.2f})",
            0.0,
            1.0,
            float(bot["faq_threshold"] or 0.0),
            0.01,
        )
        chain = st.multiselect("Provider chain", PROVIDERS, bot["llm_chain"] or [])
        model = st.text_input("Model of the first provider", bot["llm_model"] or "")
        rate = st.number_input(
            "Messages per minute per visitor", 1, 10_000, int(bot["rate_limit_per_minute"] or 20)
        )
        budget = st.number_input(
            "Daily token budget (0: none)", 0, 10**12, int(bot["daily_token_budget"] or 0)
        )
        retention = st.number_input(
            "Keep conversations (days, 0: forever)", 0, 3650, int(bot["retention_days"] or 0)
        )
        cap = st.number_input(
            "Monthly spending cap (empty: none)",
            min_value=0.0,
            value=bot["monthly_spend_cap"],
            step=1.0,
            help="At the cap the bot answers without its LLM until the month turns;"
            " its team is told at 80% (handoff webhook or e-mail).",
        )
        currency = st.selectbox(
            "Currency of the cap",
            CURRENCIES,
            index=CURRENCIES.index(bot["currency"]) if bot["currency"] in CURRENCIES else 0,
        )
        withhold = st.checkbox(
            "Keep visitors' personal data out of the LLM call",
            bool(bot["withhold_personal_data"]),
            help="E-mail addresses, phone numbers, IBANs, card and order numbers go to the"
            " provider as placeholders; turn off only for your own self-hosted endpoint.",
        )
        paraphrase = st.checkbox(
            "Have the LLM write more ways to ask each FAQ",
            bool(bot["paraphrase_faqs"]),
            help="Up to ten a FAQ, once, so more of your visitors' wordings find it; they are"
            " listed under each FAQ, where you delete the ones you do not want.",
        )
        check = st.checkbox(
            "Have the LLM confirm a FAQ that only nearly matches",
            bool(bot["check_faq_matches"]),
            help="When a question is close to a FAQ but under the threshold, the LLM is shown"
            " the nearest FAQs and says which one answers, if any: one short call before"
            " the answer.",
        )
        title = st.text_input("Title", display.get("title", ""))
        greeting = st.text_area("Greeting", display.get("greeting", ""))
        color = st.color_picker("Colour", display.get("primary_color", "#2f6b4f"))
        starters = st.text_area(
            "Starter questions (one a line)", "\n".join(display.get("starter_questions", []))
        )
        contact = st.text_input("Contact link", display.get("contact_url") or "")
        handoff = st.text_area("Handoff text", display.get("handoff_text", ""))
        remembered = display.get("remember_conversation", "tab")
        remember = st.selectbox(
            "Remember the conversation",
            list(REMEMBER),
            index=list(REMEMBER).index(remembered),
            format_func=REMEMBER.__getitem__,
        )
        saved = st.form_submit_button("Save settings")
    if saved:
        changes: dict[str, Any] = {
            "name": name,
            "allowed_origins": lines(origins),
            "language": language,
            "llm_chain": chain or None,
            "llm_model": model or None,
            "rate_limit_per_minute": int(rate),
            "monthly_spend_cap": cap,
            "currency": currency,
            "withhold_personal_data": withhold,
            "paraphrase_faqs": paraphrase,
            "check_faq_matches": check,
            "display": {
                **display,
                "title": title,
                "greeting": greeting,
                "primary_color": color,
                "starter_questions": lines(starters),
                "contact_url": contact or None,
                "handoff_text": handoff,
                "remember_conversation": remember,
            },
        }
        if threshold:
            changes["faq_threshold"] = float(threshold)
        if budget:
            changes["daily_token_budget"] = int(budget)
        if retention:
            changes["retention_days"] = int(retention)
        if attempt(
            lambda: ctx.api.patch(f"/v1/admin/bots/{bot['id']}", changes), "Settings saved."
        ):
            st.rerun()


def _publishable_key(ctx: Context, bot: dict[str, Any], name: str) -> dict[str, Any] | None:
    """A new publishable key for the bot (the answer holds the key, this once)."""
    body = {"tenant_id": bot["tenant_id"], "kind": "publishable", "bot_id": bot["id"], "name": name}
    made: dict[str, Any] | None = attempt(lambda: ctx.api.post("/v1/admin/api-keys", body))
    return made


def _embed(ctx: Context, bot: dict[str, Any]) -> None:
    st.subheader("Embed on your site")
    made = st.session_state.get(f"snippet_{bot['id']}")
    if made:
        st.code(
            f'<script src="{public_url()}/widget.js" data-key="{made}" async></script>',
            language="html",
        )
        st.caption("This key is shown once. Paste the tag before </body> on every page.")
    elif st.button("Create a publishable key and show the snippet", key=f"mk_{bot['id']}"):
        key = _publishable_key(ctx, bot, "widget")
        if key:
            st.session_state[f"snippet_{bot['id']}"] = key["key"]
            st.rerun()


def _try_it(ctx: Context, bot: dict[str, Any]) -> None:
    """The real widget for this bot, in a frame served by Parley (``/v1/widget/try``)."""
    st.subheader("Try it")
    origin = public_url()
    if origin not in bot["allowed_origins"]:
        st.caption(f"The preview page is served from {origin}; the bot answers only allowed sites.")
        if st.button(f"Allow {origin} for this bot", key=f"allow_{bot['id']}"):
            origins = {"allowed_origins": [*bot["allowed_origins"], origin]}
            if attempt(lambda: ctx.api.patch(f"/v1/admin/bots/{bot['id']}", origins), "Allowed."):
                st.rerun()
        return
    slot = f"try_key_{bot['id']}"
    if slot not in st.session_state:
        if not st.button("Open the preview", key=f"try_{bot['id']}"):
            return
        made = _publishable_key(ctx, bot, "dashboard preview")
        if not made:
            return
        st.session_state[slot] = made["key"]
    components.iframe(f"{origin}/v1/widget/try#key={st.session_state[slot]}", height=680)


def render(ctx: Context) -> None:
    if ctx.bots:
        st.dataframe(
            [
                {
                    "name": b["name"],
                    "slug": b["slug"],
                    "language": b["language"],
                    "origins": ", ".join(b["allowed_origins"]),
                    "kb version": b["kb_version"],
                }
                for b in ctx.bots
            ],
            hide_index=True,
        )
    with st.expander("New bot", expanded=not ctx.bots):
        with st.form("new_bot"):
            name = st.text_input("Bot name")
            origins = st.text_area("Allowed origins of the new bot (one a line)")
            created = st.form_submit_button("Create bot")
        if created and ctx.tenant_id:
            body = {"tenant_id": ctx.tenant_id, "name": name, "allowed_origins": lines(origins)}
            if attempt(lambda: ctx.api.post("/v1/admin/bots", body), "Bot created."):
                st.rerun()
    bot = ctx.bot
    if bot is None:
        return
    st.subheader(f"Settings of {bot['name']}")
    _settings_form(ctx, bot)
    _embed(ctx, bot)
    _try_it(ctx, bot)
    st.subheader("Delete")
    sure = st.checkbox(
        f"Yes, delete {bot['name']} with its FAQs, documents and conversations",
        key=f"del_{bot['id']}",
    )
    if st.button("Delete bot", disabled=not sure, key=f"delbtn_{bot['id']}") and (
        attempt(lambda: ctx.api.delete(f"/v1/admin/bots/{bot['id']}"), "Bot deleted.") is not None
    ):
        st.rerun()
