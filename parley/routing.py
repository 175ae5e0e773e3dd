"""Which function serves which path: the same table the reverse proxy uses in production
(``infra/Caddyfile``). Functions keep their full paths, so nothing is stripped."""

from __future__ import annotations

ROUTES: tuple[tuple[str, str], ...] = (
    ("/v1/chat", "chat"),
    ("/v1/widget", "chat"),
    ("/v1/admin", "admin"),
    ("/v1/ingest", "ingest"),
    ("/v1/gdpr", "gdpr"),
)


def function_for(path: str) -> str | None:
    """The function that serves ``path``, or None for the local site (health, demo)."""
    for prefix, name in ROUTES:
        if path == prefix or path.startswith(prefix + "/"):
            return name
    return None
