"""What each endpoint requires. Every Endpoint declares one; the route builder enforces it."""

from __future__ import annotations

from dataclasses import dataclass

from shared.auth.principal import CredentialKind, Role


@dataclass(frozen=True)
class Access:
    credentials: frozenset[CredentialKind]
    roles: frozenset[Role]
    name: str

    @property
    def public(self) -> bool:
        return not self.credentials


PUBLIC = Access(frozenset(), frozenset(), "public")
# Dashboard users and server-to-server secret keys, admin or saas_user.
TENANT_USER = Access(
    frozenset({"session", "secret_key"}), frozenset({"admin", "saas_user"}), "tenant_user"
)
# Operators only.
ADMIN = Access(frozenset({"session", "secret_key"}), frozenset({"admin"}), "admin")
# Visitor chat: a bot's publishable key (from an allowed origin) or a secret key.
CHAT = Access(
    frozenset({"publishable_key", "secret_key"}),
    frozenset({"guest", "saas_user", "admin"}),
    "chat",
)
