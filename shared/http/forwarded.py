"""The visitor's real address behind the reverse proxy, and only behind it.

Rate limits count per client address (a visitor's chat allowance, login attempts). Behind
a proxy every request comes from the proxy, so the functions take the client from
``X-Forwarded-For`` — but only when the request comes from an address listed in
``PARLEY_TRUSTED_PROXIES``; from anywhere else the header is ignored, so nobody can pick
the address they are counted under. The parsing is uvicorn's own
(``ProxyHeadersMiddleware``: the right-most address not itself a trusted proxy).
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from shared.config import load_settings
from shared.runtime import Runtime


class ForwardedClientMiddleware:
    def __init__(self, app: ASGIApp, runtime: Runtime | None) -> None:
        self.app = app
        self._runtime = runtime
        self._resolved: ASGIApp | None = None

    def _inner(self) -> ASGIApp:
        # Containers read their settings on first use; only the settings, so /healthz works
        # before (and without) a database.
        if self._resolved is None:
            settings = self._runtime.settings if self._runtime else load_settings()
            trusted = settings.trusted_proxies
            resolved: ASGIApp = self.app
            if trusted:
                wrapped: Any = ProxyHeadersMiddleware(self.app, trusted_hosts=list(trusted))  # type: ignore[arg-type]
                resolved = wrapped
            self._resolved = resolved
        return self._resolved

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        await self._inner()(scope, receive, send)
