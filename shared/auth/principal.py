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
    # A public id of the credential (a key's lookup prefix, a session's hash prefix),
    # which rate-limit buckets are named after.
    credential_id: str = ""

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
