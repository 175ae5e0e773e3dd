"""The dashboard as people use it: ``parley serve`` starts it beside the API; headless
Chromium logs in and opens every page, and no page shows an error; stopping the server stops
the dashboard too."""

from __future__ import annotations

import base64
import os

import httpx2
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.test_dashboard import PAGES
from tests.utils.browser import log_in_to_dashboard, open_every_page
from tests.utils.servers import ParleyProcess, free_port, wait_until_responds

PASSWORD = "browser admin password"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    env = {
        "PARLEY_DEMO": "1",
        "PARLEY_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "PARLEY_ADMIN_USERNAME": "root",
        "PARLEY_ADMIN_PASSWORD": PASSWORD,
    }
    server = ParleyProcess(
        tmp_path_factory.mktemp("board") / "state", env, dashboard_port=free_port()
    ).start()
    board = f"http://127.0.0.1:{server.dashboard_port}"
    wait_until_responds(board + "/_stcore/health", timeout=60)
    yield server, board
    server.close()


def log_in(browser, board: str) -> tuple[Page, Locator]:
    page = log_in_to_dashboard(browser, board, "root", PASSWORD)
    return page, page.get_by_test_id("stSidebar")


def test_serve_starts_the_dashboard_and_every_page_opens_without_an_error(served, browser):
    server, board = served
    assert f"The dashboard is on {board}" in server.output()
    page, sidebar = log_in(browser, board)
    expect(sidebar.get_by_text("Logged in as")).to_be_visible(timeout=30_000)
    open_every_page(page, sidebar, PAGES)
    expect(page.locator('[data-testid="stAlertContentError"]')).to_have_count(0)
    page.context.close()


def test_stopping_the_server_stops_the_dashboard(tmp_path):
    env = {"PARLEY_DEMO": "0", "PARLEY_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
    server = ParleyProcess(tmp_path / "state", env, dashboard_port=free_port()).start()
    board = f"http://127.0.0.1:{server.dashboard_port}"
    try:
        wait_until_responds(board + "/_stcore/health", timeout=60)
        assert server.stop() in (0, -15, 143)
        with pytest.raises(httpx2.HTTPError):
            httpx2.get(board + "/_stcore/health", timeout=2)
    finally:
        server.close()


def test_try_it_shows_the_real_widget_for_the_bot(served, browser):
    server, board = served
    page, sidebar = log_in(browser, board)
    sidebar.get_by_text("Bots", exact=True).click()
    expect(page.get_by_role("heading", name="Try it", exact=True)).to_be_visible(timeout=30_000)
    # (the demo bot already allows the local server's origin; the dashboard test checks
    # that "Allow …" adds it to a bot that does not)
    page.get_by_role("button", name="Open the preview").click()
    frame = page.frame_locator(f'iframe[src^="{server.url}/v1/widget/try"]')
    box = frame.locator("textarea")
    box.fill("Do you sell gift cards?")
    box.press("Enter")
    expect(frame.locator(".msg.bot").last).to_contain_text("gift cards", timeout=30_000)
    page.context.close()


def test_the_dashboard_can_live_under_a_path_behind_a_proxy(tmp_path):
    import subprocess
    import sys

    port = free_port()
    command = [sys.executable, "-m", "parley", "dashboard", "--api", "http://127.0.0.1:9"]
    command += ["--port", str(port), "--base-path", "dashboard"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    health = f"http://127.0.0.1:{port}/dashboard/_stcore/health"
    try:
        wait_until_responds(health, timeout=60)
        page = httpx2.get(f"http://127.0.0.1:{port}/dashboard/", timeout=10)
        assert page.status_code == 200
    finally:
        proc.terminate()  # as a service manager or `docker stop` does
        proc.wait(timeout=20)
    # and the stop signal stopped Streamlit itself, not only the command that started it
    with pytest.raises(httpx2.HTTPError):
        httpx2.get(health, timeout=2)
