"""The local process and the production proxy route paths to functions the same way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from parley.routing import ROUTES, function_for

CADDYFILE = Path(__file__).resolve().parents[1] / "infra" / "Caddyfile"


def test_caddyfile_matches_the_routing_table():
    text = CADDYFILE.read_text()
    proxied: dict[str, str] = {}
    for name, paths in re.findall(r"@(\w+) path ([^\n]+)", text):
        for path in paths.split():
            if not path.endswith("/*"):
                proxied[path] = name
    assert proxied == dict(ROUTES)


@pytest.mark.parametrize(
    ("path", "function"),
    [
        ("/v1/chat", "chat"),
        ("/v1/chat/ws", "chat"),
        ("/v1/widget/config", "chat"),
        ("/v1/admin/tenants", "admin"),
        ("/v1/ingest/s3-events", "ingest"),
        ("/v1/gdpr/erasure", "gdpr"),
        ("/v1/chatter", None),
        ("/healthz", None),
        ("/", None),
    ],
)
def test_function_for(path, function):
    assert function_for(path) == function
