"""Security headers on every response Parley sends, and the Content-Security-Policy of the
pages it serves itself (the demo page, "Try it").

Every response: ``X-Content-Type-Options: nosniff`` (a JSON body or an upload is never run
as a script), ``Referrer-Policy: strict-origin-when-cross-origin``, and
``Strict-Transport-Security`` when the request came over TLS (behind the proxy, Caddy sets
it for the whole site). HTML pages add their policy with :func:`page_policy`.
"""

from __future__ import annotations

import base64
import hashlib

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = scope.get("scheme") == "https"

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
                if tls:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_wrapper)


def script_hash(script: str) -> str:
    """The CSP source that allows exactly this inline script."""
    digest = hashlib.sha256(script.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def page_policy(*, scripts: tuple[str, ...] = (), frame_ancestors: str = "'self'") -> str:
    """A page's Content-Security-Policy: its own scripts (and these inline ones) only, the
    widget's shadow-root styles, calls and sockets to this origin, no plugins, no base
    tag, forms to this origin."""
    script_src = " ".join(("'self'", *(script_hash(s) for s in scripts)))
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {script_src}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            # 'self' covers same-origin WebSockets in current browsers; ws:/wss: for older.
            "connect-src 'self' ws: wss:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        )
    )
