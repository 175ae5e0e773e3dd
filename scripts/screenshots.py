"""Screenshots of the dashboard's main pages, for docs/ and the README.

    python3 scripts/screenshots.py        # needs pip install '.[bench]' (Playwright) and chromium

Starts a throw-away ``parley serve`` with the demo shop and its dashboard, asks the demo bot
a few questions (so the pages have something to show), logs in with headless Chromium and
saves ``docs/screenshots/<page>.png``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import httpx2
from playwright.sync_api import sync_playwright

from parley.bench.servers import ParleyServer, free_port, wait_until_responds
from shared.crypto import Keyring

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
PAGES = ["Overview", "Bots", "FAQs", "Documents", "Conversations", "Knowledge gaps", "Analytics"]
QUESTIONS = [
    "Do you sell gift cards?",
    "What does delivery cost?",
    "Which items can't be returned?",
    "Who won the football world cup in 1954?",
]


def main() -> int:
    import base64
    import os

    master = os.urandom(32)
    board_port = free_port()
    with tempfile.TemporaryDirectory(prefix="parley-shots-") as tmp:
        server = ParleyServer(
            Path(tmp) / "state",
            {"PARLEY_DEMO": "1", "PARLEY_MASTER_KEY": base64.b64encode(master).decode()},
            dashboard_port=board_port,
        )
        try:
            from shared.bootstrap import demo_publishable_key

            key = demo_publishable_key(Keyring(master))
            with httpx2.Client(base_url=server.url, timeout=60) as client:
                for question in QUESTIONS:
                    client.post(
                        "/v1/chat",
                        headers={"Authorization": f"Bearer {key}", "Origin": server.url},
                        json={"message": question},
                    ).raise_for_status()
            board = f"http://127.0.0.1:{board_port}"
            wait_until_responds(board + "/_stcore/health", timeout=60)
            OUT.mkdir(parents=True, exist_ok=True)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                    args=["--no-sandbox", "--disable-gpu"],
                )
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                page.goto(board)
                page.get_by_role("textbox", name="Username").fill("bench")
                page.get_by_role("textbox", name="Password").fill(server.password)
                page.get_by_role("button", name="Log in").click()
                sidebar = page.get_by_test_id("stSidebar")
                sidebar.get_by_text("Logged in as").wait_for(timeout=30_000)
                for name in PAGES:
                    sidebar.get_by_text(name, exact=True).click()
                    page.get_by_role("heading", name=name, exact=True).wait_for(timeout=30_000)
                    page.wait_for_load_state("networkidle")
                    page.wait_for_timeout(1500)  # charts draw after the data arrives
                    target = OUT / f"{name.lower().replace(' ', '-')}.png"
                    page.screenshot(path=str(target), full_page=False)
                    print(f"saved {target.relative_to(OUT.parents[1])}")
                browser.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
