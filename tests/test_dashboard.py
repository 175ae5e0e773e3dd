"""The dashboard through Streamlit's AppTest against a real running Parley (``parley serve``
on the embedded PostgreSQL with the demo shop): it is only ever a client of the HTTP API."""

from __future__ import annotations

import base64
import os
import uuid
from typing import Any

import httpx2
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.phrasings import MAX_ALTERNATIVES, with_phrasings
from parley.dashboard import app_path
from shared.bootstrap import demo_publishable_key
from shared.crypto import Keyring
from shared.faq_import import MAX_ALTERNATIVES as API_LIMIT
from tests.utils.servers import ParleyProcess

MASTER = os.urandom(32)
ADMIN, PASSWORD = "root", "dashboard admin password"
PAGES = [
    "Overview",
    "Bots",
    "FAQs",
    "Documents",
    "Conversations",
    "Knowledge gaps",
    "Analytics",
    "API keys",
    "Users",
    "Privacy requests",
    "Inbox",
]


@pytest.fixture(scope="module")
def parley(tmp_path_factory):
    env = {
        "PARLEY_DEMO": "1",
        "PARLEY_MASTER_KEY": base64.b64encode(MASTER).decode(),
        "PARLEY_ADMIN_USERNAME": ADMIN,
        "PARLEY_ADMIN_PASSWORD": PASSWORD,
    }
    server = ParleyProcess(tmp_path_factory.mktemp("dash") / "state", env).start()
    yield server
    server.close()


@pytest.fixture
def api(parley, monkeypatch):
    monkeypatch.setenv("PARLEY_API_URL", parley.url)
    with httpx2.Client(base_url=parley.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def admin_session(parley) -> dict[str, Any]:
    """One login for the module's tests (logins are limited to 10 per user in 5 minutes)."""
    response = httpx2.post(
        f"{parley.url}/v1/admin/login", json={"username": ADMIN, "password": PASSWORD}
    )
    response.raise_for_status()
    session: dict[str, Any] = response.json()
    return session


def admin_headers(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['token']}"}


def as_admin(session: dict[str, Any]) -> AppTest:
    """The dashboard as the logged-in admin (the login form itself is tested on its own)."""
    at = AppTest.from_file(str(app_path()), default_timeout=60)
    at.session_state["token"] = session["token"]
    at.session_state["me"] = {k: session[k] for k in ("username", "role", "tenant_id")}
    return at.run()


def chat(api, parley, message: str, **fields: str) -> dict[str, Any]:
    key = demo_publishable_key(Keyring(MASTER))
    response = api.post(
        "/v1/chat",
        headers={"Authorization": f"Bearer {key}", "Origin": parley.url},
        json={"message": message, **fields},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def field(at: AppTest, label: str):
    for kind in (at.text_input, at.text_area):
        for widget in kind:
            if widget.label == label:
                return widget
    raise AssertionError(f"no field {label!r}: {[w.label for w in at.text_input]}")


def button(at: AppTest, label: str):
    found = [b for b in at.button if b.label == label]
    assert found, f"no button {label!r}: {[b.label for b in at.button]}"
    return found[0]


def login(username: str = ADMIN, password: str = PASSWORD, *, ok: bool = True) -> AppTest:
    at = AppTest.from_file(str(app_path()), default_timeout=60).run()
    field(at, "Username").input(username)
    field(at, "Password").input(password)
    button(at, "Log in").click().run()
    if ok:
        assert "token" in at.session_state, [e.value for e in at.error]
    return at


def open_page(at: AppTest, page: str) -> AppTest:
    at.sidebar.radio[0].set_value(page).run()
    assert not at.exception, at.exception
    assert [h.value for h in at.header] == [page]
    return at


def shown(at: AppTest) -> str:
    """Everything the page shows as text, tables included."""
    parts = [e.value for e in (*at.markdown, *at.caption, *at.text, *at.code)]
    parts += [frame.value.to_csv() for frame in at.dataframe]
    return "\n".join(str(p) for p in parts)


def test_login_shows_the_apis_message_then_lets_the_user_in(api):
    at = login(password="not the password", ok=False)
    assert [e.value for e in at.error] == ["Wrong username or password."]
    assert "token" not in at.session_state
    at = login()
    assert not at.exception
    assert at.sidebar.radio[0].options == PAGES
    assert at.sidebar.caption[0].value == "Logged in as **root** (admin)"
    # the password is not kept anywhere in the session
    assert PASSWORD not in repr(at.session_state.to_dict())


def test_every_page_renders_with_data(api, parley, admin_session):
    chat(api, parley, "Do you sell gift cards?")
    chat(api, parley, "Can I pay with seashells on Mars?")
    near = chat(api, parley, "My login link doesn't work")  # a near miss: its FAQ is offered
    visitor = {k: near[k] for k in ("conversation_id", "visitor_id", "visitor_token")}
    # far from the exchange FAQ's phrasings, near its answer: offered for its answer
    chat(api, parley, "Can I swap these boots for a bigger size?", **visitor)
    at = as_admin(admin_session)
    for page in PAGES:
        open_page(at, page)
        assert not at.error, (page, [e.value for e in at.error])
    assert "Fernwood" in shown(open_page(at, "Bots"))
    assert "gift cards" in shown(open_page(at, "FAQs")).lower()
    transcript = open_page(at, "Conversations")
    assert transcript.chat_message  # the chosen conversation's messages
    assert "source:" in shown(transcript)  # each answer explained
    assert "offered “I forgot my password”" in shown(transcript)  # the latest conversation
    assert "offered “Can I exchange an item for a different size?” (its answer fits" in shown(
        transcript
    )
    assert "seashells" in shown(open_page(at, "Knowledge gaps")).lower()
    assert "but FAQs offered" in shown(open_page(at, "Analytics"))


def test_a_faq_edited_in_the_dashboard_answers_the_chat(api, parley, admin_session):
    at = open_page(as_admin(admin_session), "FAQs")
    # the gift-card FAQ, whichever the list shows first (the module's other tests ask the
    # demo's other FAQs and expect their answers)
    question = "Do you sell gift cards?"
    picker = at.selectbox(key="faq_pick")
    picker.select_index(picker.options.index(question)).run()
    chosen = at.selectbox(key="faq_pick")
    assert chosen.format_func(chosen.value) == question
    marker = f"Gift cards come in a Fernwood tin ({uuid.uuid4().hex[:6]})."
    field(at, "Answer").input(marker)
    button(at, "Save FAQ").click().run()
    assert [s.value for s in at.success] == ["FAQ saved."]
    answer = chat(api, parley, question)
    assert answer["source"] == "faq"
    assert answer["answer"] == marker


def test_paraphrases_written_by_the_llm_are_shown_and_can_be_removed(api, admin_session):
    headers = admin_headers(admin_session)
    at = open_page(as_admin(admin_session), "FAQs")
    chosen = at.selectbox(key="faq_pick")
    question = chosen.format_func(chosen.value)
    # GIVEN the chosen FAQ has paraphrases the bot's LLM wrote (the paraphrase job's result)
    (bot,) = api.get("/v1/admin/bots", headers=headers).json()["items"]
    faqs_url = f"/v1/admin/bots/{bot['id']}/faqs"
    (faq,) = [
        f
        for f in api.get(f"{faqs_url}?limit=100", headers=headers).json()["items"]
        if f["question"] == question
    ]
    written = ["Do you do gift tins?", "Any vouchers for a friend?"]
    patched = api.patch(
        f"{faqs_url}/{faq['id']}", json={"generated_alternatives": written}, headers=headers
    )
    assert patched.status_code == 200, patched.text
    try:
        # WHEN the owner deletes one line of them in the dashboard and saves
        at.run()
        label = "Ways to ask written by the bot's LLM (one a line; delete the ones you do not want)"
        assert field(at, label).value == "\n".join(written)
        field(at, label).input(written[1])
        button(at, "Save FAQ").click().run()
        assert [s.value for s in at.success] == ["FAQ saved."]
        # THEN only the other is kept
        listed = api.get(f"{faqs_url}?q=vouchers", headers=headers).json()["items"]
        assert [f["generated_alternatives"] for f in listed] == [[written[1]]]
    finally:  # the module's other tests match against this FAQ's phrasings as they were
        api.patch(
            f"{faqs_url}/{faq['id']}",
            json={"generated_alternatives": faq["generated_alternatives"]},
            headers=headers,
        ).raise_for_status()


def test_a_document_written_in_the_dashboard_reaches_ready(api, admin_session):
    at = open_page(as_admin(admin_session), "Documents")
    field(at, "File name").input("pets.md")
    field(at, "Text (Markdown)").input("# Pets\n\nDogs on a lead are welcome in our Berlin shop.\n")
    button(at, "Add document").click().run()
    assert not at.error, [e.value for e in at.error]
    assert [s.value for s in at.success] == ["Added pets.md."]
    table = at.dataframe[0].value  # titled by its heading, indexed by the time it is listed
    assert table[table["title"] == "Pets"]["status"].tolist() == ["ready"]


def test_a_key_is_shown_once_then_revoked_and_refused(api, admin_session):
    at = open_page(as_admin(admin_session), "API keys")
    field(at, "Key name").input("dashboard test")
    at.selectbox(key="key_kind").set_value("secret")
    button(at, "Create key").click().run()
    keys = [c.value for c in at.code if str(c.value).startswith("sk_")]
    assert len(keys) == 1
    key = keys[0]
    assert api.get("/v1/admin/bots", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    at.run()
    assert key not in shown(at)  # shown once
    revoke = at.selectbox(key="key_pick")
    revoke.select_index(next(i for i, o in enumerate(revoke.options) if "dashboard test" in o))
    button(at, "Revoke key").click().run()
    refused = api.get("/v1/admin/bots", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 401


def test_a_tenant_user_sees_only_their_own_tenant(api, admin_session):
    headers = admin_headers(admin_session)
    suffix = uuid.uuid4().hex[:6]
    tenant = api.post("/v1/admin/tenants", headers=headers, json={"name": f"Other {suffix}"}).json()
    api.post(
        "/v1/admin/bots",
        headers=headers,
        json={"tenant_id": tenant["id"], "name": f"Other helper {suffix}"},
    ).raise_for_status()
    user = f"owner{suffix}"
    api.post(
        "/v1/admin/users",
        headers=headers,
        json={
            "username": user,
            "password": "owner password 1",
            "role": "saas_user",
            "tenant_id": tenant["id"],
        },
    ).raise_for_status()
    at = login(user, "owner password 1")
    assert not at.exception
    assert "Users" not in at.sidebar.radio[0].options
    assert [s.label for s in at.sidebar.selectbox] == ["Bot"]  # no tenant to choose
    bots = at.sidebar.selectbox[0]
    assert bots.options == [f"Other helper {suffix}"]  # (AppTest lists the shown labels)
    for page in [p for p in PAGES if p != "Users"]:
        text = shown(open_page(at, page))
        assert "Fernwood" not in text, page


def test_a_knowledge_gap_turned_into_a_faq_answers_the_next_visitor(api, parley, admin_session):
    question = "Who won the football world cup in 1954?"
    assert chat(api, parley, question)["source"] == "fallback"
    at = open_page(as_admin(admin_session), "Knowledge gaps")
    gaps = [m for m in at.markdown if "asked" in str(m.value)]
    # (listed as normalised: lower case, no punctuation)
    position = next(i for i, m in enumerate(gaps) if "football world cup in 1954" in m.value)
    at.text_area(key=f"gap_answer_{position}").input(
        "Germany did, in Bern; our beach kiosk shows the final."
    )
    at.button(key=f"gap_add_{position}").click().run()
    assert not at.error, [e.value for e in at.error]
    answer = chat(api, parley, question)
    assert answer["source"] == "faq"
    assert "beach kiosk" in answer["answer"]


def test_a_gap_whose_visitors_took_an_offered_faq_joins_it_in_one_click(api, parley, admin_session):
    # GIVEN a visitor handed over with a FAQ offered, who takes it
    near_miss = "Can I use fabric softener on my rain jacket?"
    first = chat(api, parley, near_miss)
    assert first["source"] == "fallback"
    offered = first["suggestions"][0]
    taken = chat(
        api,
        parley,
        offered["question"],
        conversation_id=first["conversation_id"],
        visitor_id=first["visitor_id"],
        visitor_token=first["visitor_token"],
    )
    assert taken["faq_id"] == offered["faq_id"]
    # WHEN the owner opens the knowledge gaps
    at = open_page(as_admin(admin_session), "Knowledge gaps")
    gaps = [m for m in at.markdown if "asked" in str(m.value)]
    position = next(i for i, m in enumerate(gaps) if "fabric softener" in m.value)
    # THEN the gap says which FAQ its visitor took, and that FAQ is the one chosen
    assert f"then took: “{offered['question']}” 1×" in shown(at)
    assert at.selectbox(key=f"gap_faq_{position}").value == offered["faq_id"]
    # WHEN the owner adds the phrasing to it; THEN the next visitor gets that FAQ's answer
    headers = admin_headers(admin_session)
    (before, faq_url) = next(
        (f, f"/v1/admin/bots/{bot['id']}/faqs/{f['id']}")
        for bot in api.get("/v1/admin/bots", headers=headers).json()["items"]
        for f in api.get(f"/v1/admin/bots/{bot['id']}/faqs?limit=100", headers=headers).json()[
            "items"
        ]
        if f["id"] == offered["faq_id"]
    )
    try:
        at.button(key=f"gap_alt_{position}").click().run()
        assert not at.error, [e.value for e in at.error]
        again = chat(api, parley, near_miss)
        assert (again["source"], again.get("faq_id")) == ("faq", offered["faq_id"])
    finally:  # the module's other tests match against this FAQ's phrasings as they were
        restored = {"alternatives": before["alternatives"]}
        api.patch(faq_url, json=restored, headers=headers).raise_for_status()


def test_a_gaps_phrasings_join_a_faq_up_to_the_apis_limit():
    assert MAX_ALTERNATIVES == API_LIMIT  # the dashboard keeps to the API's own
    owners = [f"way {n}" for n in range(MAX_ALTERNATIVES - 2)]
    merged, left_out = with_phrasings(owners, ["Way 3", "new one", "new two", "new three"])
    # the owner's own first; one already there (whatever its case); what fits of the rest
    assert merged == [*owners, "new one", "new two"]
    assert left_out == 1
    assert with_phrasings([], ["a", "a", "b"]) == (["a", "b"], 0)


def test_an_ended_session_returns_to_the_login_form_with_a_message(api):
    at = login()
    token = at.session_state["token"]
    api.post("/v1/admin/logout", headers={"Authorization": f"Bearer {token}"})
    at.run()
    assert [w.value for w in at.warning] == ["Your session has ended. Please log in again."]
    assert [f.label for f in at.text_input] == ["Username", "Password"]


def test_testing_a_question_shows_the_decision_and_stores_nothing(api, admin_session):
    headers = admin_headers(admin_session)
    bot = api.get("/v1/admin/bots", headers=headers).json()["items"][0]
    before = api.get(f"/v1/admin/bots/{bot['id']}/conversations", headers=headers).json()
    at = open_page(as_admin(admin_session), "FAQs")
    for question, decision, note in (
        ("do you sell gift cards", "Answered from the FAQ", None),
        # above the threshold, but only the shipping policy speaks of canoes
        ("How much is shipping for a canoe?", "Answered from the documents", "no FAQ mentions"),
        ("Can I pay with seashells on Mars?", "Not answered", None),
        # too far from the exchange FAQ's phrasings, near its answer: offered with the handoff
        ("Can I swap these boots for a bigger size?", "Not answered", "its answer fits"),
        # no passage answers it and the rental FAQ's answer does
        ("Can I hire a backpack for a week?", "Answered from the FAQ", "answer fits"),
    ):
        field(at, "Test a question").input(question)
        button(at, "Test").click().run()
        assert not at.error, [e.value for e in at.error]
        assert decision in shown(at), shown(at)
        notes = " ".join(i.value for i in at.info)
        assert note is None or note in notes, notes
    assert "Matched FAQ: “Can I rent equipment?”" in shown(at)
    assert "Offered with the handoff text" not in shown(at)  # none came near without answering
    field(at, "Test a question").input("My login link doesn't work")
    button(at, "Test").click().run()
    assert "Offered with the handoff text: “I forgot my password”" in shown(at)
    after = api.get(f"/v1/admin/bots/{bot['id']}/conversations", headers=headers).json()
    assert after["items"] == before["items"]


def test_saving_the_faq_table_updates_adds_and_deletes_what_changed():
    from dashboard.views.faqs import table_changes

    faqs: list[dict[str, Any]] = [
        {
            "id": "1",
            "question": "Hours?",
            "alternatives": ["Open when?"],
            "answer": "9-5",
            "enabled": True,
        },
        {"id": "2", "question": "Parking?", "alternatives": [], "answer": "Yes", "enabled": True},
        {
            "id": "3",
            "question": "Dogs?",
            "alternatives": [],
            "answer": "On a lead",
            "enabled": True,
        },
    ]
    rows: list[dict[str, Any]] = [
        {
            "id": "1",
            "question": "Hours?",
            "alternatives": "Open when? | When open?",
            "answer": "9-5",
            "enabled": True,
        },
        {"id": "2", "question": "Parking?", "alternatives": "", "answer": "Yes", "enabled": False},
        {
            "id": None,
            "question": "Cafe?",
            "alternatives": None,
            "answer": "Upstairs",
            "enabled": None,
        },
        {"id": None, "question": None, "alternatives": None, "answer": None, "enabled": None},
    ]
    updates, creates, deletes = table_changes(faqs, rows)
    assert updates == [
        ("1", {"alternatives": ["Open when?", "When open?"]}),
        ("2", {"enabled": False}),
    ]
    assert creates == [
        {"question": "Cafe?", "alternatives": [], "answer": "Upstairs", "enabled": True}
    ]
    assert deletes == ["3"]
    unchanged = [{**f, "alternatives": " | ".join(f["alternatives"])} for f in faqs]
    assert table_changes(faqs, unchanged) == ([], [], [])


def test_try_it_first_allows_the_preview_origin_then_frames_the_widget(api, parley, admin_session):
    headers = admin_headers(admin_session)
    demo = api.get("/v1/admin/bots", headers=headers).json()["items"][0]
    bot = api.post(
        "/v1/admin/bots",
        headers=headers,
        json={"tenant_id": demo["tenant_id"], "name": f"Bare {uuid.uuid4().hex[:5]}"},
    ).json()
    at = as_admin(admin_session)
    at.sidebar.selectbox(key="bot").set_value(bot["id"]).run()
    at = open_page(at, "Bots")
    button(at, f"Allow {parley.url} for this bot").click().run()
    assert not at.error, [e.value for e in at.error]
    allowed = api.get(f"/v1/admin/bots/{bot['id']}", headers=headers).json()["allowed_origins"]
    assert allowed == [parley.url]
    button(at, "Open the preview").click().run()
    assert not at.exception
    assert at.session_state[f"try_key_{bot['id']}"].startswith("pk_")


def test_an_admin_creates_a_tenant_and_resets_a_users_password(api, admin_session):
    at = open_page(as_admin(admin_session), "Users")
    name = f"Harbour Books {uuid.uuid4().hex[:4]}"
    field(at, "Tenant name").input(name)
    button(at, "Create tenant").click().run()
    assert not at.error, [e.value for e in at.error]
    tenants = api.get("/v1/admin/tenants", headers=admin_headers(admin_session)).json()["items"]
    assert name in {t["name"] for t in tenants}

    headers = admin_headers(admin_session)
    user = f"clerk{uuid.uuid4().hex[:5]}"
    api.post(
        "/v1/admin/users",
        headers=headers,
        json={"username": user, "password": "first password 1", "role": "admin"},
    ).raise_for_status()
    at = open_page(as_admin(admin_session), "Users")
    chooser = at.selectbox(key="user_pick")
    chooser.select_index(next(i for i, o in enumerate(chooser.options) if o.startswith(user)))
    at.run()
    field(at, "New password").input("second password 2")
    button(at, "Save user").click().run()
    assert not at.error, [e.value for e in at.error]
    old = api.post("/v1/admin/login", json={"username": user, "password": "first password 1"})
    assert old.status_code == 401
    new = api.post("/v1/admin/login", json={"username": user, "password": "second password 2"})
    assert new.status_code == 200


def test_the_inbox_takes_answers_and_hands_back_a_waiting_visitor(api, parley, admin_session):
    key = demo_publishable_key(Keyring(MASTER))
    visitor = {"Authorization": f"Bearer {key}", "Origin": parley.url}
    first = chat(api, parley, "Can I pay with seashells on Mars?")
    asked = api.post(
        "/v1/chat/handoff",
        headers=visitor,
        json={
            "conversation_id": first["conversation_id"],
            "visitor_token": first["visitor_token"],
            "name": "Mia from Mars",
        },
    )
    assert asked.status_code == 200, asked.text
    at = open_page(as_admin(admin_session), "Inbox")
    assert "Mia from Mars" in shown(at)
    assert "seashells" in shown(at).lower()  # the live transcript
    picked = at.selectbox(key="inbox_pick")
    picked.set_value(first["conversation_id"]).run()
    field(at, "Your name (shown to the visitor)").input("Anna").run()
    button(at, "Take").click().run()
    assert not at.exception, at.exception
    field(at, "Reply").input("Hello Mia, Anna here: we take cards, not seashells.")
    button(at, "Send").click().run()
    assert not at.exception, at.exception
    polled = api.get(
        f"/v1/chat/conversations/{first['conversation_id']}/messages",
        headers=visitor,
        params={"visitor_token": first["visitor_token"], "after": first["message_id"]},
    ).json()
    assert polled["state"] == "human"
    assert [(m["role"], m.get("operator")) for m in polled["messages"]] == [("operator", "Anna")]
    assert "not seashells" in polled["messages"][0]["text"]
    button(at, "Hand back to the bot").click().run()
    assert not at.exception, at.exception
    inbox = api.get("/v1/admin/inbox", headers=admin_headers(admin_session)).json()["items"]
    assert first["conversation_id"] not in [i["id"] for i in inbox]


def test_privacy_and_spending_settings_are_saved_and_the_overview_shows_the_cap(
    api, parley, admin_session
):
    at = open_page(as_admin(admin_session), "Bots")
    # the threshold field says what the bot is held to without one of its own
    listed = api.get("/v1/admin/bots", headers=admin_headers(admin_session)).json()["items"]
    [threshold] = [n for n in at.number_input if n.label.startswith("FAQ threshold")]
    default = listed[0]["default_faq_threshold"]
    assert threshold.label == f"FAQ threshold (0: this bot's default, {default:.2f})"
    [cap] = [n for n in at.number_input if n.label == "Monthly spending cap (empty: none)"]
    cap.set_value(25.0)
    [currency] = [s for s in at.selectbox if s.label == "Currency of the cap"]
    currency.set_value("CHF")
    [withhold] = [c for c in at.checkbox if c.label.startswith("Keep visitors' personal data")]
    assert withhold.value is True  # on by default
    withhold.uncheck()
    [paraphrase] = [c for c in at.checkbox if c.label.startswith("Have the LLM write more ways")]
    assert paraphrase.value is True  # on by default
    paraphrase.uncheck()
    [check] = [c for c in at.checkbox if c.label.startswith("Have the LLM confirm a FAQ")]
    assert check.value is True  # on by default
    check.uncheck()
    [remember] = [s for s in at.selectbox if s.label == "Remember the conversation"]
    assert remember.value == "tab"
    remember.set_value("off")
    [save] = [b for b in at.button if b.label == "Save settings"]
    save.click().run()
    assert [s.value for s in at.success] == ["Settings saved."]
    bot = api.get("/v1/admin/bots", headers=admin_headers(admin_session)).json()["items"][0]
    try:
        assert bot["monthly_spend_cap"] == 25.0
        assert bot["currency"] == "CHF"
        assert bot["withhold_personal_data"] is False
        assert bot["paraphrase_faqs"] is False
        assert bot["check_faq_matches"] is False
        assert bot["display"]["remember_conversation"] == "off"
        overview = shown(open_page(at, "Overview"))
        assert "LLM spending this month: 0.00 of 25.00 CHF" in overview
    finally:
        api.patch(
            f"/v1/admin/bots/{bot['id']}",
            headers=admin_headers(admin_session),
            json={
                "monthly_spend_cap": None,
                "withhold_personal_data": True,
                "paraphrase_faqs": True,
                "check_faq_matches": True,
                "display": {"remember_conversation": "tab"},
            },
        ).raise_for_status()
