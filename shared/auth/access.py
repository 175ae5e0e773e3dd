"""What each endpoint requires. Every Endpoint declares one; the route builder enforces it."""

from __future__ import annotations

from dataclasses import dataclass

from shared.auth.principal import CredentialKind, Role


@dataclass(frozen=True)
class Access:
    credentials: frozenset[CredentialKind]
    roles: frozenset[Role]
    name: str
    # Whether a publishable key's request here is a visitor's message, counted against the
    # visitor's chat allowance (shared.auth.limits). Other credentials always count.
    visitor_message: bool = False

    @property
    def public(self) -> bool:
        return not self.credentials


PUBLIC = Access(frozenset(), frozenset(), "public")
# Dashboard users and server-to-server secret keys, admin or saas_user.
TENANT_USER = Access(
    frozenset({"session", "secret_key"}), frozenset({"admin", "saas_user"}), "tenant_user"
)
# A dashboard user's own session (logging out).
SESSION = Access(frozenset({"session"}), frozenset({"admin", "saas_user"}), "session")
# Operators only.
ADMIN = Access(frozenset({"session", "secret_key"}), frozenset({"admin"}), "admin")
# Visitor chat: a bot's publishable key (from an allowed origin) or a secret key.
CHAT = Access(
    frozenset({"publishable_key", "secret_key"}),
    frozenset({"guest", "saas_user", "admin"}),
    "chat",
    visitor_message=True,
)
# What the widget loads around the messages (its settings, the WebSocket handshake): the
# same callers, but a page load is not a message, so it does not use up the allowance.
WIDGET = Access(CHAT.credentials, CHAT.roles, "widget")
# GDPR requests: a visitor through the bot's publishable key (allowed origins only, counted
# like a message), or the shop through a secret key or a dashboard session.
GDPR = Access(
    frozenset({"publishable_key", "secret_key", "session"}),
    frozenset({"guest", "saas_user", "admin"}),
    "gdpr",
    visitor_message=True,
)
