"""Per-request access to the runtime."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from shared.runtime import Runtime, default_runtime


def get_runtime(conn: HTTPConnection) -> Runtime:
    """The runtime the app was built with, else the process-wide one."""
    runtime: Runtime | None = getattr(conn.app.state, "runtime", None)
    return runtime if runtime is not None else default_runtime()
