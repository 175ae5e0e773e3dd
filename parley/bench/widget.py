"""``parley bench widget``: the widget's size, time to first token on the demo page, and
what waiting for the visitor to open the chat costs.

Starts ``parley serve`` with the demo, opens the demo page in Debian's headless Chromium
(Playwright, a dev dependency), asks FAQ and document questions, and times from pressing
Enter to the first answer text appearing. Baseline in the same run: a bare WebSocket
round trip (``/v1/chat/ws`` with an invalid frame, answered by an error frame).

Then, on a fresh page each time, it clicks the launcher and asks at once, timing until the
bot's settings are shown and until the first answer text: by default the widget fetches
its settings only now; the baseline is the same widget with ``data-preload="true"``, which
fetched them with the page.
"""

from __future__ import annotations

import gzip
import shutil
import statistics
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from parley.bench.servers import ParleyServer

WIDGET = Path(__file__).resolve().parents[2] / "widget" / "widget.js"
QUESTIONS = [
    "How much does shipping cost?",
    "Do you sell gift cards?",
    "Which items can't be returned?",
    "How long does delivery take?",
]


_FIRST_ANSWER_JS = """async (question) => {
    const root = document.querySelector("[data-parley]").shadowRoot;
    const log = root.querySelector(".log");
    const before = log.querySelectorAll(".msg.bot").length;
    const done = new Promise((resolve) => {
        const seen = new MutationObserver(() => {
            const bots = log.querySelectorAll(".msg.bot");
            if (bots.length > before && bots[bots.length - 1].textContent) {
                seen.disconnect();
                resolve(performance.now());
            }
        });
        seen.observe(log, {childList: true, subtree: true, characterData: true,
                           attributes: true});
    });
    const box = root.querySelector("textarea");
    box.value = question;
    const t0 = performance.now();
    box.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter", bubbles: true}));
    return (await done) - t0;
}"""

# The demo page's widget, replaced by one with data-preload="true".
_PRELOAD_JS = """(key) => {
    window.Parley.remove();
    delete window.Parley;
    const tag = document.createElement("script");
    tag.src = "/widget.js";
    tag.setAttribute("data-key", key);
    tag.setAttribute("data-preload", "true");
    document.body.appendChild(tag);
}"""

# Click the launcher and ask at once: ms until the bot's settings show (its title), and
# until the first answer text.
_OPEN_AND_ASK_JS = """async (question) => {
    const root = document.querySelector("[data-parley]").shadowRoot;
    const log = root.querySelector(".log"), title = root.querySelector(".head h2");
    const t0 = performance.now();
    let ready = title.textContent !== "Chat" ? 0 : null;
    const answered = new Promise((resolve) => {
        const seen = new MutationObserver(() => {
            if (ready === null && title.textContent !== "Chat") ready = performance.now() - t0;
            const bot = log.querySelector(".msg.user ~ .msg.bot");
            if (ready !== null && bot && bot.textContent) {
                seen.disconnect();
                resolve(performance.now() - t0);
            }
        });
        seen.observe(root, {childList: true, subtree: true, characterData: true,
                            attributes: true});
    });
    root.querySelector(".launcher").click();
    const box = root.querySelector("textarea");
    box.value = question;
    box.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter", bubbles: true}));
    const answer = await answered;
    return [ready, answer];
}"""

_ROUND_TRIP_JS = """async (url) => {
    const ws = new WebSocket(url);
    await new Promise((r) => ws.onopen = r);
    const t0 = performance.now();
    ws.send("x");
    await new Promise((r) => ws.onmessage = r);
    const elapsed = performance.now() - t0;
    ws.close();
    return elapsed;
}"""


def run(runs: int = 8) -> None:
    raw = WIDGET.read_bytes()
    print(
        f"parley bench widget: widget.js {len(raw) / 1024:.1f} KB, "
        f"{len(gzip.compress(raw, 9)) / 1024:.1f} KB gzipped (budget 20 KB)"
    )
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        server = ParleyServer(Path(tmp) / "state", {"PARLEY_DEMO": "1"})
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            page.goto(server.url)
            page.get_by_role("button", name="Open chat").click()
            page.locator(".head h2").filter(has_text="Fernwood").wait_for()
            key = page.locator("script[data-key]").get_attribute("data-key") or ""
            ws_url = server.url.replace("http", "ws") + "/v1/chat/ws?key=" + key
            firsts, rounds = [], []
            opening: dict[str, list[tuple[float, float]]] = {"on open": [], "preload": []}
            for n in range(runs + 1):
                question = f"{QUESTIONS[n % len(QUESTIONS)]} ({n})"
                # Timed inside the page: from the Enter key to the first answer text.
                first = page.evaluate(_FIRST_ANSWER_JS, question)
                page.locator(".fb").nth(n).wait_for()  # the answer is complete
                echo = page.evaluate(_ROUND_TRIP_JS, ws_url)
                if n:  # the first one warms up
                    firsts.append(first)
                    rounds.append(echo)
            for n in range(runs + 1):
                for mode, times in opening.items():
                    fresh = browser.new_page()
                    fresh.goto(server.url)
                    fresh.get_by_role("button", name="Open chat").wait_for()
                    if mode == "preload":
                        fresh.evaluate(_PRELOAD_JS, key)
                        fresh.locator(".head h2").filter(has_text="Fernwood").wait_for(
                            state="attached"
                        )
                    question = f"{QUESTIONS[n % len(QUESTIONS)]} [{mode} {n}]"  # never cached
                    ready, answered = fresh.evaluate(_OPEN_AND_ASK_JS, question)
                    fresh.close()
                    if n:
                        times.append((ready, answered))
        finally:
            browser.close()
            server.stop()
    base, first = statistics.median(rounds), statistics.median(firsts)
    print(f"  time to first token on the demo page (median of {runs}) {first:7.1f} ms")
    print(f"  baseline: WebSocket round trip, same page            {base:7.1f} ms")
    lazy, eager = opening["on open"], opening["preload"]
    ready = statistics.median(r for r, _ in lazy), statistics.median(r for r, _ in eager)
    answer = statistics.median(a for _, a in lazy), statistics.median(a for _, a in eager)
    print(f"  opening the chat and asking at once (fresh page, median of {runs}):")
    print(f"    settings shown   {ready[0]:7.1f} ms   (preloaded: {ready[1]:6.1f} ms)")
    print(
        f"    first answer     {answer[0]:7.1f} ms   (preloaded: {answer[1]:6.1f} ms,"
        f" added {answer[0] - answer[1]:+.1f} ms, x{answer[0] / answer[1]:.2f})"
    )
