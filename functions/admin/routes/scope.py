"""Objects named in an admin route's path, looked up within the caller's tenant scope."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from shared.db import bots
from shared.db.pool import Conn
from shared.http.endpoints import get_principal
from shared.http.params import path_uuid


async def scoped_bot(conn: Conn, request: Request) -> dict[str, Any]:
    """The ``{bot_id}`` of the path; 404 unless the caller may see its tenant."""
    return await bots.get_bot(
        conn, scope=get_principal(request).scope, bot_id=path_uuid(request, "bot_id")
    )
