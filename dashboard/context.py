"""What every page gets: the API client, who is logged in, the chosen tenant and bot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboard.client import Api


@dataclass
class Context:
    api: Api
    me: dict[str, Any]  # the login answer: username, role, tenant_id
    tenant_id: str | None  # the tenant the pages work on (an admin chooses it)
    bots: list[dict[str, Any]]  # the tenant's bots
    bot: dict[str, Any] | None  # the chosen bot, for the pages about one bot

    @property
    def is_admin(self) -> bool:
        return self.me.get("role") == "admin"

    def bot_path(self, rest: str = "") -> str:
        assert self.bot is not None
        return f"/v1/admin/bots/{self.bot['id']}{rest}"
