"""Security headers on every response, and the pages' Content-Security-Policy."""

from __future__ import annotations

import httpx2
import pytest

from parley.server import create_local_app

PAGES = ("/", "/v1/widget/try")
OTHERS = (
    "/healthz",
    "/openapi.json",
    "/widget.js",
    "/v1/admin/bots",  # 401
    "/v1/chat/nowhere",  # 404
    "/v1/widget/config",  # 401 without a key
)


@pytest.fixture
def app(runtime):
    return create_local_app(runtime)


async def _get(app, url: str, path: str) -> httpx2.Response:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=url) as c:
        return await c.get(path)


@pytest.mark.parametrize("path", [*PAGES, *OTHERS])
async def test_every_response_carries_the_security_headers(app, path):
    response = await _get(app, "http://testserver", path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] in (
        "strict-origin-when-cross-origin",
        "no-referrer",  # "Try it": its URL fragment holds a key
    )
    assert "strict-transport-security" not in response.headers  # not over TLS
    over_tls = await _get(app, "https://testserver", path)
    assert over_tls.headers["strict-transport-security"].startswith("max-age=31536000")


@pytest.mark.parametrize("path", PAGES)
async def test_the_pages_allow_only_their_own_scripts(app, path):
    response = await _get(app, "http://testserver", path)
    policy = dict(
        part.strip().split(" ", 1)
        for part in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    if "<script>" in response.text:  # an inline script is allowed by its hash only
        assert "'sha256-" in policy["script-src"]


@pytest.mark.parametrize("path", OTHERS)
async def test_json_and_scripts_are_not_pages(app, path):
    response = await _get(app, "http://testserver", path)
    assert "text/html" not in response.headers.get("content-type", "")
