"""Where the dashboard finds Parley: the API it calls, and the address visitors' browsers use."""

from __future__ import annotations

import os


def api_url() -> str:
    return os.environ.get("PARLEY_API_URL", "http://127.0.0.1:8000").rstrip("/")


def public_url() -> str:
    """The address in embed snippets (the proxy's public origin in production)."""
    return os.environ.get("PARLEY_PUBLIC_URL", api_url()).rstrip("/")
