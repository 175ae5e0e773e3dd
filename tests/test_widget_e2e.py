"""The widget in headless Chromium (Debian's package, driven by Playwright) against a real
``parley serve`` with the demo shop."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from playwright.sync_api import Browser, Page, expect
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from shared.bootstrap import demo_publishable_key
from shared.crypto import Keyring
from tests.utils.servers import ParleyProcess, ThreadServer

MASTER = os.urandom(32)
ADMIN_PASSWORD = "e2e admin password"
XSS_QUESTION = "Where can I read the security test notice?"
XSS_ANSWER = (
    'Look: <img src=x onerror="window.__xss=1"> and [this link](javascript:window.__xss=2)'
    " and ![leak](http://127.0.0.1:9/leak.png) and **bold** done."
)


_SESSIONS: dict[str, str] = {}


def admin_auth(client: httpx2.Client) -> dict[str, str]:
    """The demo server's admin, logged in once (logins are limited): its Authorization header."""
    base = str(client.base_url)
    if base not in _SESSIONS:
        response = client.post(
            "/v1/admin/login", json={"username": "root", "password": ADMIN_PASSWORD}
        )
        response.raise_for_status()
        _SESSIONS[base] = response.json()["token"]
    return {"Authorization": f"Bearer {_SESSIONS[base]}"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("e2e") / "state"
    env = {
        "PARLEY_DEMO": "1",
        "PARLEY_MASTER_KEY": base64.b64encode(MASTER).decode(),
        "PARLEY_ADMIN_USERNAME": "root",
        "PARLEY_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    server = ParleyProcess(data_dir, env).start()
    with httpx2.Client(base_url=server.url) as client:
        auth = admin_auth(client)
        bot = client.get("/v1/admin/bots", headers=auth).json()["items"][0]
        created = client.post(
            f"/v1/admin/bots/{bot['id']}/faqs",
            headers=auth,
            json={"question": XSS_QUESTION, "answer": XSS_ANSWER},
        )
        assert created.status_code == 201
    yield server
    server.close()


@pytest.fixture
def page(browser: Browser):
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


def _page(**attributes: str) -> str:
    """A shop page embedding the demo bot's widget with these script-tag attributes
    (``data_open="true"`` -> ``data-open="true"``)."""
    key = demo_publishable_key(Keyring(MASTER))
    extra = " ".join(f'{name.replace("_", "-")}="{value}"' for name, value in attributes.items())
    return (
        "<!doctype html><title>Shop</title><body><h1>Shop</h1>"
        f'<script src="/widget.js" data-key="{key}" {extra} async></script></body>'
    )


# Counts every storage and cookie write the page makes, before any script of it runs.
_COUNT_WRITES = """
window.__writes = [];
for (const name of ["setItem", "removeItem", "clear"]) {
  const original = Storage.prototype[name];
  Storage.prototype[name] = function (...args) {
    window.__writes.push((this === window.localStorage ? "local" : "session") + ":" + name);
    return original.apply(this, args);
  };
}
const cookie = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
Object.defineProperty(document, "cookie", {
  get() { return cookie.get.call(document); },
  set(value) { window.__writes.push("cookie"); cookie.set.call(document, value); },
});
"""


class Traffic:
    """What the page asked of the Parley server: API requests and WebSockets."""

    def __init__(self, page: Page, server: str) -> None:
        self.requests: list[str] = []
        self.sockets: list[Any] = []
        page.on(
            "request",
            lambda r: self.requests.append(r.url) if r.url.startswith(server + "/v1/") else None,
        )
        page.on("websocket", lambda ws: self.sockets.append(ws))


def _writes(page: Page) -> list[str]:
    writes: list[str] = page.evaluate("window.__writes")
    return writes


def test_nothing_is_asked_or_stored_until_the_visitor_opens_the_chat(demo, page):
    page.add_init_script(_COUNT_WRITES)
    traffic = Traffic(page, demo.url)
    page.goto(demo.url)
    launcher = page.get_by_role("button", name="Open chat")
    expect(launcher).to_be_visible()
    page.wait_for_timeout(1_500)  # long enough for anything the widget would do by itself
    assert (traffic.requests, traffic.sockets, _writes(page)) == ([], [], [])
    assert page.context.cookies() == []

    # WHEN the visitor opens the chat THEN it loads the bot's settings, and stores nothing yet
    launcher.click()
    expect(page.locator(".head h2")).to_have_text("Fernwood Outfitters")
    assert [url.split("?")[0] for url in traffic.requests] == [f"{demo.url}/v1/widget/config"]
    assert (traffic.sockets, _writes(page)) == ([], [])

    # WHEN they ask THEN the answer streams over a socket and the tab keeps the conversation
    ask(page, "Do you sell gift cards?")
    expect(page.get_by_role("button", name="Helpful", exact=True)).to_be_visible(timeout=30_000)
    assert len(traffic.sockets) == 1
    assert set(_writes(page)) == {"session:setItem"}  # the tab's storage only: no localStorage
    assert _stored(page, "localStorage") is None
    assert page.context.cookies() == []


def test_with_consent_required_the_widget_waits_for_the_page_and_forgets_on_refusal(demo, page):
    page.add_init_script(_COUNT_WRITES)
    traffic = Traffic(page, demo.url)
    with shop_site(demo, 'data-consent="required"') as shop:
        _consent_flow(page, traffic, shop)


def _consent_flow(page: Page, traffic: Traffic, shop: str) -> None:
    page.goto(shop + "/")
    page.wait_for_function("window.Parley !== undefined")
    page.wait_for_timeout(500)
    assert page.locator("[data-parley]").count() == 0  # not even the launcher
    assert (traffic.requests, traffic.sockets, _writes(page)) == ([], [], [])

    # WHEN the consent banner says yes THEN the launcher appears, still asking nothing
    page.evaluate("Parley.consent(true)")
    launcher = page.get_by_role("button", name="Open chat")
    expect(launcher).to_be_visible()
    page.wait_for_timeout(500)
    assert (traffic.requests, traffic.sockets, _writes(page)) == ([], [], [])
    launcher.click()
    ask(page, "Do you sell gift cards?")
    expect(page.get_by_role("button", name="Helpful", exact=True)).to_be_visible(timeout=30_000)
    assert _stored(page) is not None
    assert len(traffic.sockets) == 1
    socket = traffic.sockets[0]
    assert not socket.is_closed()

    # WHEN the visitor withdraws consent THEN the socket closes and nothing stays stored
    asked = len(traffic.requests)
    page.evaluate("Parley.consent(false)")
    expect(page.locator("[data-parley]")).to_have_count(0)
    page.wait_for_function("!Object.keys(sessionStorage).some(k => k.startsWith('parley:'))")
    for _ in range(100):  # the close reaches this process a moment after the page's call
        if socket.is_closed():
            break
        page.wait_for_timeout(50)
    assert socket.is_closed()
    assert _stored(page) is None
    assert _stored(page, "localStorage") is None
    page.wait_for_timeout(500)
    assert len(traffic.requests) == asked
    assert len(traffic.sockets) == 1

    # AND consenting again starts afresh
    page.evaluate("Parley.consent(true)")
    page.get_by_role("button", name="Open chat").click()
    expect(page.get_by_role("button", name="How much does shipping cost?")).to_be_visible()
    expect(page.locator(".msg.user")).to_have_count(0)


def _remember(demo, setting: str | None) -> None:
    with httpx2.Client(base_url=demo.url) as client:
        auth = admin_auth(client)
        bot = client.get("/v1/admin/bots", headers=auth).json()["items"][0]
        display = {"remember_conversation": setting or "tab"}
        client.patch(
            f"/v1/admin/bots/{bot['id']}", headers=auth, json={"display": display}
        ).raise_for_status()


@pytest.mark.parametrize("setting", ["browser", "off"])
def test_the_bot_decides_where_the_conversation_is_remembered(demo, page, setting):
    _remember(demo, setting)
    try:
        open_chat(page, demo.url)
        ask(page, "Do you sell gift cards?")
        expect(page.get_by_role("button", name="Helpful", exact=True)).to_be_visible(timeout=30_000)
        kept = {store: _stored(page, store) for store in ("localStorage", "sessionStorage")}
        page.reload()
        page.get_by_role("button", name="Open chat").click()
        expect(page.locator(".head h2")).to_have_text("Fernwood Outfitters")
        if setting == "browser":
            assert kept["localStorage"] is not None
            assert kept["sessionStorage"] is None
            expect(page.locator(".msg.user")).to_have_text(["Do you sell gift cards?"])
        else:  # nowhere: a reload starts afresh
            assert kept == {"localStorage": None, "sessionStorage": None}
            expect(page.get_by_role("button", name="How much does shipping cost?")).to_be_visible()
            expect(page.locator(".msg.user")).to_have_count(0)
    finally:
        _remember(demo, None)


def open_chat(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_role("button", name="Open chat").click()
    expect(page.locator(".head h2")).to_have_text("Fernwood Outfitters")


def ask(page: Page, text: str) -> None:
    box = page.locator("textarea")
    box.fill(text)
    box.press("Enter")


def test_a_faq_question_streams_its_answer(demo, page):
    frames: list[dict[str, object]] = []
    page.on(
        "websocket",
        lambda ws: ws.on("framereceived", lambda payload: frames.append(json.loads(payload))),
    )
    # the demo page's Content-Security-Policy lets the widget do all it does
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Security Policy" in m.text else None)
    open_chat(page, demo.url)
    expect(page.get_by_role("button", name="How much does shipping cost?")).to_be_visible()
    ask(page, "what does delivery cost?")
    answer = page.locator(".msg.bot").last
    expect(answer).to_contain_text("€4.90", timeout=30_000)
    expect(answer.locator("strong")).to_have_text("free on orders over €50")
    expect(page.get_by_role("button", name="Helpful", exact=True)).to_be_visible()
    for _ in range(100):  # frame events reach this process a moment after the DOM changes
        if frames and frames[-1]["type"] == "done":
            break
        page.wait_for_timeout(50)
    assert frames[-1]["type"] == "done"
    assert sum(f["type"] == "token" for f in frames) > 1  # it arrived in pieces
    assert refused == []


def test_an_answer_with_html_and_javascript_links_stays_inert(demo, page):
    open_chat(page, demo.url)
    ask(page, XSS_QUESTION)
    answer = page.locator(".msg.bot").last
    expect(answer).to_contain_text('<img src=x onerror="window.__xss=1">', timeout=30_000)
    expect(answer.locator("strong")).to_have_text("bold")
    assert page.locator("[data-parley] img").count() == 0
    assert page.locator("[data-parley] a[href^='javascript']").count() == 0
    assert page.evaluate("window.__xss") is None
    expect(answer).to_contain_text("this link")


def test_reload_restores_the_transcript(demo, page):
    open_chat(page, demo.url)
    ask(page, "Do you sell gift cards?")
    expect(page.locator(".msg.bot").last).to_contain_text("gift cards", timeout=30_000)
    # the answer is complete (its feedback buttons come with the done frame) before reloading
    expect(page.get_by_role("button", name="Helpful", exact=True)).to_be_visible()
    page.reload()
    page.get_by_role("button", name="Open chat").click()
    expect(page.locator(".msg.user")).to_have_text(["Do you sell gift cards?"])
    expect(page.locator(".msg.bot").last).to_contain_text("valid for 3 years")
    page.get_by_role("button", name="Start over").click()
    expect(page.locator(".msg.user")).to_have_count(0)


def test_escape_closes_and_focus_returns_to_the_launcher(demo, page):
    open_chat(page, demo.url)
    expect(page.locator("textarea")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator(".panel")).to_be_hidden()
    expect(page.get_by_role("button", name="Open chat")).to_be_focused()


def test_a_server_restart_mid_conversation_loses_nothing(demo, page):
    open_chat(page, demo.url)
    ask(page, "How long does delivery take?")
    expect(page.locator(".msg.bot").last).to_contain_text("working days", timeout=30_000)
    assert demo.stop(signal.SIGTERM) in (0, 128 + signal.SIGTERM)
    ask(page, "Do you have a physical store?")  # sent while the server is down
    time.sleep(1.5)
    demo.start()
    expect(page.locator(".msg.bot").last).to_contain_text("Lindenstraße", timeout=45_000)
    expect(page.locator(".msg.user")).to_have_count(2)
    expect(page.locator(".msg.bot", has_text="Lindenstraße")).to_have_count(1)


@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("en", "This chat is not enabled on this website."),
        ("de", "Dieser Chat ist auf dieser Website nicht freigeschaltet."),
    ],
)
def test_a_site_that_is_not_allowed_gets_a_clear_message(demo, page, lang, message):
    key = demo_publishable_key(Keyring(MASTER))
    html = (
        "<!doctype html><title>Other shop</title><body><h1>Other shop</h1>"
        f'<script src="{demo.url}/widget.js" data-key="{key}" data-open="true"'
        f' data-lang="{lang}" async></script></body>'
    )

    async def other_shop(request):
        return HTMLResponse(html)

    # another origin (another port) on loopback, as a second real site would be
    with ThreadServer(Starlette(routes=[Route("/", other_shop)])) as other:
        page.goto(other.url + "/")
        expect(page.locator(".notice")).to_have_text(message, timeout=15_000)
        expect(page.locator(".msg.bot")).to_have_count(0)


def test_blocked_websockets_fall_back_to_sse(demo, page):
    page.route_web_socket("**/v1/chat/ws*", lambda ws: ws.close())
    streamed = []
    page.on("request", lambda r: streamed.append(r) if r.url.endswith("/v1/chat") else None)
    open_chat(page, demo.url)
    ask(page, "Can I pick up my order in the store?")
    expect(page.locator(".msg.bot").last).to_contain_text("Pick up in Berlin", timeout=30_000)
    assert streamed
    assert streamed[-1].headers["accept"] == "text/event-stream"


def test_an_unknown_question_offers_the_handoff_and_contact(demo, page):
    open_chat(page, demo.url)
    ask(page, "Who won the football world cup in 1954?")
    answer = page.locator(".msg.bot").last
    expect(answer).to_contain_text("care@fernwood.example", timeout=30_000)
    contact = answer.get_by_role("link", name="Contact our team")
    expect(contact).to_have_attribute("href", "mailto:care@fernwood.example")
    expect(contact).to_have_attribute("rel", "noopener noreferrer")


def test_a_near_miss_offers_its_faq_and_one_click_asks_it(demo, page):
    open_chat(page, demo.url)
    ask(page, "My login link doesn't work")
    answer = page.locator(".msg.bot").last
    offer = answer.get_by_role("group", name="Did you mean:")
    expect(offer.get_by_role("button", name="I forgot my password")).to_be_visible(timeout=30_000)
    offer.get_by_role("button", name="I forgot my password").click()
    expect(page.locator(".msg.user")).to_have_text(
        ["My login link doesn't work", "I forgot my password"]
    )
    expect(page.locator(".msg.bot").last).to_contain_text("valid for 1 hour", timeout=30_000)
    expect(page.get_by_role("group", name="Did you mean:")).to_have_count(0)
    # the offer taken stays taken
    expect(page.get_by_role("button", name="Helpful", exact=True).last).to_be_visible()
    page.reload()
    page.get_by_role("button", name="Open chat").click()
    expect(page.locator(".msg.bot").last).to_contain_text("valid for 1 hour")
    expect(page.get_by_role("group", name="Did you mean:")).to_have_count(0)


def test_an_answer_given_without_the_llm_at_the_spending_cap_offers_a_person(demo, page):
    """The bot's monthly cap is reached: the server answers extractively with why.rule
    spending_cap (tests/test_spending_cap.py); the widget offers the team under it."""
    done = {
        "type": "done",
        "answer": "Personalised items cannot be returned [1].",
        "source": "rag",
        "sources": [],
        "conversation_id": "00000000-0000-0000-0000-000000000001",
        "message_id": "00000000-0000-0000-0000-000000000002",
        "visitor_id": "v_capped",
        "visitor_token": "vt_capped",
        "why": {"rule": "spending_cap"},
    }

    def server(ws):
        ws.on_message(lambda message: ws.send(json.dumps(done)))

    page.route_web_socket("**/v1/chat/ws*", server)
    open_chat(page, demo.url)
    ask(page, "Which items can't be returned?")
    answer = page.locator(".msg.bot").last
    expect(answer).to_contain_text("Personalised items", timeout=10_000)
    expect(answer.get_by_role("button", name="Talk to a person")).to_be_visible()
    expect(answer).not_to_contain_text("I'm not sure")  # not the handoff text: it answered


def test_a_conversation_that_is_gone_starts_afresh(demo, page):
    key = demo_publishable_key(Keyring(MASTER))
    page.goto(demo.url)
    stale = {
        "transcript": [{"role": "user", "text": "Earlier question"}],
        "visitor_id": "v_forged",
        "visitor_token": "vt_forged",
        "conversation_id": "00000000-0000-0000-0000-000000000000",
    }
    page.evaluate(  # where the widget keeps a conversation by default: the tab's storage
        "([k, v]) => sessionStorage.setItem(k, v)", [f"parley:{key[:15]}", json.dumps(stale)]
    )
    page.reload()
    page.get_by_role("button", name="Open chat").click()
    expect(page.locator(".msg.user")).to_have_text(["Earlier question"])
    ask(page, "Do you sell gift cards?")
    expect(page.locator(".msg.bot").last).to_contain_text("gift cards", timeout=30_000)
    expect(page.locator(".notice")).to_be_hidden()


def test_the_greeting_bubble_opens_after_the_bots_delay(demo, page):
    with httpx2.Client(base_url=demo.url) as client:
        auth = admin_auth(client)
        bot = client.get("/v1/admin/bots", headers=auth).json()["items"][0]

        def set_delay(seconds):
            response = client.patch(
                f"/v1/admin/bots/{bot['id']}",
                headers=auth,
                json={"display": {"greeting_delay_seconds": seconds}},
            )
            assert response.status_code == 200

        set_delay(1)
        try:
            # the bubble needs the bot's settings before the visitor opens: data-preload
            with shop_site(demo, 'data-preload="true"') as shop:
                page.goto(shop + "/")
                bubble = page.locator(".bubble")
                expect(bubble).to_contain_text("Fernwood's assistant", timeout=10_000)
                bubble.click()
                expect(page.locator(".panel")).to_be_visible()
                expect(bubble).to_be_hidden()
        finally:
            set_delay(None)


def _stored(page: Page, store: str = "sessionStorage") -> dict[str, Any] | None:
    """What the widget keeps in ``store`` (by default the tab's storage)."""
    stored: dict[str, Any] | None = page.evaluate(
        f"(() => {{ const k = Object.keys({store}).find(k => k.startsWith('parley:'));"
        f" return k ? JSON.parse({store}.getItem(k)) : null; }})()"
    )
    return stored


def test_a_visitor_downloads_then_deletes_their_data(demo, page):
    marker = "GIFTREF" + os.urandom(4).hex().upper()
    open_chat(page, demo.url)
    # before chatting the menu only offers a person: there is no data yet
    page.get_by_role("button", name="More options").click()
    expect(page.get_by_role("button", name="Talk to a person")).to_be_visible()
    expect(page.get_by_role("button", name="Download my data")).to_be_hidden()
    page.get_by_role("button", name="More options").click()
    ask(page, f"Do you sell gift cards? ({marker})")
    expect(page.get_by_role("button", name="Helpful", exact=True)).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="More options").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download my data").click()
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert marker in json.dumps(exported)
    assert exported["request"]["kind"] == "export"
    stored = _stored(page)
    assert stored is not None
    assert stored["visitor_token"].startswith("vt_")

    page.get_by_role("button", name="More options").click()
    page.get_by_role("button", name="Delete my conversation").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("cannot be undone")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator(".msg.user")).to_have_count(1)  # cancelled: nothing happened
    page.get_by_role("button", name="More options").click()
    page.get_by_role("button", name="Delete my conversation").click()
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator(".notice")).to_have_text("Your conversation was deleted.")
    expect(page.locator(".msg.user")).to_have_count(0)
    assert _stored(page) is None  # the browser forgot the transcript, the id and the token

    key = demo_publishable_key(Keyring(MASTER))
    with httpx2.Client(base_url=demo.url) as client:
        response = client.post(
            "/v1/gdpr/export",
            headers={"Authorization": f"Bearer {key}", "Origin": demo.url},
            json={"visitor_id": stored["visitor_id"], "visitor_token": stored["visitor_token"]},
        )
    assert response.status_code == 200
    assert response.json()["conversations"] == []  # and the server holds nothing of it


def test_the_data_menu_speaks_german(demo, page):
    html = _page(data_lang="de", data_open="true")
    page.route(f"{demo.url}/de", lambda route: route.fulfill(body=html, content_type="text/html"))
    page.goto(f"{demo.url}/de")
    ask(page, "Verkaufen Sie Geschenkgutscheine?")
    expect(page.get_by_role("button", name="Hilfreich", exact=True)).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Weitere Optionen").click()
    expect(page.get_by_role("button", name="Meine Daten herunterladen")).to_be_visible()
    page.get_by_role("button", name="Meine Unterhaltung löschen").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("nicht rückgängig")
    page.get_by_role("button", name="Löschen", exact=True).click()
    expect(page.locator(".notice")).to_have_text("Ihre Unterhaltung wurde gelöscht.")


@contextlib.contextmanager
def shop_site(demo, attributes: str = 'data-open="true"') -> Iterator[str]:
    """The shop's own site on another origin, embedding the demo bot's widget (with extra
    script-tag ``attributes``), allowed for the bot; its address."""
    key = demo_publishable_key(Keyring(MASTER))

    async def shop_page(request):
        return HTMLResponse(
            "<!doctype html><title>Shop</title><body>"
            f'<script src="{demo.url}/widget.js" data-key="{key}" {attributes}'
            " async></script></body>"
        )

    with ThreadServer(Starlette(routes=[Route("/", shop_page)])) as shop:
        with httpx2.Client(base_url=demo.url) as client:
            auth = admin_auth(client)
            bot = client.get("/v1/admin/bots", headers=auth).json()["items"][0]
            origins = [*bot["allowed_origins"], shop.url]
            client.patch(
                f"/v1/admin/bots/{bot['id']}", headers=auth, json={"allowed_origins": origins}
            ).raise_for_status()
        yield shop.url


def test_the_data_menu_works_from_the_shops_own_site(demo, page):
    """The widget on another origin (the shop's site, allowed for the bot) reaches the GDPR
    API across origins, as it does the chat API."""
    with shop_site(demo) as shop:
        page.goto(shop + "/")
        ask(page, "Do you sell gift cards?")
        expect(page.get_by_role("button", name="Helpful", exact=True)).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="More options").click()
        with page.expect_download() as download:
            page.get_by_role("button", name="Download my data").click()
        exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
        assert "gift cards" in json.dumps(exported).lower()
        page.get_by_role("button", name="More options").click()
        page.get_by_role("button", name="Delete my conversation").click()
        page.get_by_role("button", name="Delete", exact=True).click()
        expect(page.locator(".notice")).to_have_text("Your conversation was deleted.")


def test_data_transport_http_never_opens_a_websocket(demo, page):
    """What a shop on the Lambda deployment embeds: every message goes to POST /v1/chat."""
    sockets, posts = [], []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.on("request", lambda r: posts.append(r) if r.url.endswith("/v1/chat") else None)
    with shop_site(demo, 'data-transport="http" data-open="true"') as shop:
        page.goto(shop + "/")
        ask(page, "Can I pick up my order in the store?")
        expect(page.locator(".msg.bot").last).to_contain_text("Pick up in Berlin", timeout=30_000)
    assert sockets == []
    assert [r.method for r in posts] == ["POST"]


def _operator(demo, conversation_id: str, action: str, **body: str) -> httpx2.Response:
    """The shop's team, through the admin API: take, messages, release or close."""
    with httpx2.Client(base_url=demo.url) as client:
        response = client.post(
            f"/v1/admin/conversations/{conversation_id}/{action}",
            headers=admin_auth(client),
            json=body or None,
        )
    response.raise_for_status()
    return response


def _waiting_conversation(demo) -> str:
    with httpx2.Client(base_url=demo.url) as client:
        items = client.get("/v1/admin/inbox", headers=admin_auth(client)).json()["items"]
    waiting = [i for i in items if i["state"] == "waiting"]
    assert waiting, items
    return str(waiting[-1]["id"])


def test_a_visitor_talks_to_a_person_and_back_to_the_bot(demo, page):
    open_chat(page, demo.url)
    ask(page, "Who won the football world cup in 1974?")
    answer = page.locator(".msg.bot").last
    expect(answer).to_contain_text("care@fernwood.example", timeout=30_000)
    # WHEN the visitor takes the offer to talk to a person, leaving a name
    answer.get_by_role("button", name="Talk to a person").click()
    page.get_by_role("textbox", name="Your name").fill("Jonas <b>W</b>")
    page.get_by_role("button", name="Ask for a person").click()
    expect(page.locator(".notice")).to_have_text("Waiting for a person to join…")
    conversation = _waiting_conversation(demo)

    # THEN an operator who takes it and replies is seen at once, as a person, as text
    _operator(demo, conversation, "take", operator="Anna")
    expect(page.locator(".notice")).to_have_text("You are chatting with a person.")
    _operator(demo, conversation, "messages", text="Hi Jonas, <i>Anna</i> here. How can I help?")
    reply = page.locator(".msg.op").last
    expect(reply).to_contain_text("<i>Anna</i> here", timeout=5_000)
    expect(reply.locator(".who")).to_have_text("Anna")
    assert page.locator("[data-parley] i").count() == 0

    # AND the bot stays silent while the person handles it
    bots_before = page.locator(".msg.bot").count()
    ask(page, "How long does delivery take?")
    expect(page.locator(".msg.user").last).to_have_text("How long does delivery take?")
    page.wait_for_timeout(1_000)
    expect(page.locator(".msg.bot")).to_have_count(bots_before)
    expect(page.locator(".typing")).to_have_count(0)

    # WHEN the visitor is away while the operator writes THEN it is there when they return
    page.goto("about:blank")
    _operator(demo, conversation, "messages", text="Your parcel left today.")
    page.goto(demo.url)
    page.get_by_role("button", name="Open chat").click()
    expect(page.locator(".msg.op").last).to_contain_text("Your parcel left today.", timeout=10_000)
    expect(page.locator(".msg.op")).to_have_count(2)

    # WHEN the operator hands back THEN the bot answers again
    _operator(demo, conversation, "release")
    expect(page.locator(".notice")).to_have_text("You are chatting with the assistant again.")
    ask(page, "Do you sell gift cards?")
    expect(page.locator(".msg.bot").last).to_contain_text("valid for 3 years", timeout=30_000)


def test_without_a_websocket_the_widget_polls_for_the_persons_replies(demo, page):
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    with shop_site(demo, 'data-transport="http" data-open="true"') as shop:
        page.goto(shop + "/")
        ask(page, "Who won the football world cup in 1990?")
        answer = page.locator(".msg.bot").last
        expect(answer).to_contain_text("care@fernwood.example", timeout=30_000)
        answer.get_by_role("button", name="Talk to a person").click()
        page.get_by_role("button", name="Ask for a person").click()
        expect(page.locator(".notice")).to_have_text("Waiting for a person to join…")
        conversation = _waiting_conversation(demo)
        _operator(demo, conversation, "messages", text="Hello from the team.", operator="Ben")
        expect(page.locator(".msg.op").last).to_contain_text("Hello from the team.", timeout=10_000)
        expect(page.locator(".notice")).to_have_text("You are chatting with a person.")
    assert sockets == []
