"""The authenticated caller and what it may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from shared.errors import NotFoundError

Role = Literal["admin", "saas_user", "guest"]
CredentialKind = Literal["session", "secret_key", "publishable_key"]


@dataclass(frozen=True)
class Principal:
    credential: CredentialKind
    role: Role
    tenant_id: UUID | None  # None only for admin users, who see every tenant
    bot_id: UUID | None = None  # publishable keys are bound to one bot
    user_id: UUID | None = None
    key_id: UUID | None = None
    username: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def scope(self) -> UUID | None:
        """The tenant every query is limited to; None means all tenants (admin)."""
        return None if self.is_admin else self.tenant_id

    def require_tenant(self, tenant_id: UUID) -> None:
        """Another tenant's objects answer 404, so ids cannot be probed."""
        if not self.is_admin and tenant_id != self.tenant_id:
            raise NotFoundError("tenant", tenant_id)

    @property
    def rate_limit_key(self) -> str:
        return f"key:{self.key_id}" if self.key_id else f"user:{self.user_id}"
