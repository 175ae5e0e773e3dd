"""Headless Chromium (Debian's package) through Playwright, for the widget and dashboard."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    expect,
    sync_playwright,
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        launched.close()


def log_in_to_dashboard(
    browser: Browser,
    url: str,
    username: str,
    password: str,
    *,
    console: Callable[[ConsoleMessage], None] | None = None,
) -> Page:
    """A new page, logged in to the dashboard at ``url`` (``console`` hears every message
    from the first load on)."""
    page = browser.new_context().new_page()
    if console is not None:
        page.on("console", console)
    page.goto(url)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    return page


def open_every_page(page: Page, sidebar: Locator, pages: list[str]) -> None:
    """Open each dashboard page from the sidebar; none may show an exception."""
    for name in pages:
        sidebar.get_by_text(name, exact=True).click()
        expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible(timeout=30_000)
        page.wait_for_load_state("networkidle")
        expect(page.get_by_test_id("stException")).to_have_count(0)
