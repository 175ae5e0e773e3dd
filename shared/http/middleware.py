"""Request ids, one access-log line a request, and a JSON 500 for anything unexpected.

A pure ASGI middleware (it does not buffer streaming responses). When several Parley
apps are nested, as in the local single process, only the outermost one assigns the
id and writes the access line; each still turns a crash into the JSON error shape.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import ParleyError
from shared.logging import get_logger, request_context

log = get_logger("parley.access")
errlog = get_logger("parley.error")

_SCOPE_KEY = "parley.request_id"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_INTERNAL = json.dumps(ParleyError().body()).encode()


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        outermost = _SCOPE_KEY not in scope
        if outermost:
            scope[_SCOPE_KEY] = _request_id(scope)
        request_id: str = scope[_SCOPE_KEY]
        started = False
        status = 0
        begin = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal started, status
            if message["type"] in ("http.response.start", "websocket.accept"):
                started = True
                status = message.get("status", 101)
                if outermost:
                    headers = MutableHeaders(scope=message)
                    headers.append("X-Request-ID", request_id)
                    if message["type"] == "http.response.start":
                        # Time spent in Parley until the response starts (W3C Server-Timing).
                        elapsed = (time.perf_counter() - begin) * 1000
                        headers.append("Server-Timing", f"app;dur={elapsed:.2f}")
            elif message["type"] == "websocket.close" and not started:
                status = 403
            await send(message)

        if not outermost:
            await self._guarded(scope, receive, send_wrapper, lambda: started)
            return

        with request_context(request_id):
            try:
                await self._guarded(scope, receive, send_wrapper, lambda: started)
            finally:
                log.info(
                    "request",
                    method=scope.get("method", "WS"),
                    path=scope.get("path", ""),
                    status=status or 500,
                    duration_ms=round((time.perf_counter() - begin) * 1000, 2),
                )

    async def _guarded(
        self, scope: Scope, receive: Receive, send: Send, started: Callable[[], bool]
    ) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception:
            errlog.exception("unhandled error", path=scope.get("path", ""))
            if started():
                return
            if scope["type"] == "http":
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": _INTERNAL})
            else:
                await send({"type": "websocket.close", "code": 1011})


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _VALID_ID.match(candidate):
                return candidate
    return uuid.uuid4().hex
