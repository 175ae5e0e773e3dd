"""GET /v1/widget/try: a bare page that shows a bot's real widget, for the dashboard's
"Try it" panel. The publishable key comes in the URL fragment (``#key=pk_…``), which
browsers never send to a server, so it is in no log; the bot must allow this page's origin
like any site that embeds it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from shared.auth.access import PUBLIC
from shared.http.endpoints import Endpoint
from shared.http.security import page_policy

SCRIPT = """
(function () {
  var key = new URLSearchParams(location.hash.slice(1)).get("key") || "";
  var tag = document.createElement("script");
  tag.src = "/widget.js";
  tag.async = true;
  tag.setAttribute("data-key", key);
  tag.setAttribute("data-open", "true");
  document.body.appendChild(tag);
})();
"""
PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Try your bot</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:15px system-ui,sans-serif;color:#555;margin:24px}}</style></head>
<body><p>This is how your visitors see the chat.</p>
<script>{SCRIPT}</script></body></html>
"""
# The dashboard frames this page from its own origin (another port when run locally).
POLICY = page_policy(scripts=(SCRIPT,), frame_ancestors="*")


async def try_page(request: Request) -> Response:
    return HTMLResponse(
        PAGE,
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": POLICY,
        },
    )


ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/widget/try",
        try_page,
        "A page showing a bot's widget (key in the URL fragment), for the dashboard",
        PUBLIC,
        tag="widget",
    ),
]
