"""Two tenants with a bot, a FAQ, a conversation, a user and keys each, plus an admin.

Built straight through shared/db (not the API under test), so access tests start from
known objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from shared.auth.tokens import hash_token, new_api_key, new_session_token
from shared.db import (
    api_keys,
    bots,
    documents,
    faqs,
    sessions,
    tenants,
    users,
)
from shared.runtime import Runtime
from tests.utils import rows

PASSWORD = "correct horse battery"


@dataclass
class TenantWorld:
    slug: str
    tenant_id: UUID
    bot_id: UUID
    faq_id: UUID
    conversation_id: UUID
    user_id: UUID
    session: str
    secret_key: str
    secret_key_id: UUID
    publishable_key: str
    publishable_key_id: UUID
    visitor_text: str
    document_id: UUID


@dataclass
class World:
    admin_session: str
    admin_key: str
    tenants: dict[str, TenantWorld] = field(default_factory=dict)

    def headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


async def _key(conn, *, tenant_id, bot_id, kind, role) -> tuple[str, UUID]:
    key, prefix = new_api_key(kind)
    row = await api_keys.create_key(
        conn,
        tenant_id=tenant_id,
        bot_id=bot_id,
        kind=kind,
        role=role,
        name=f"{role} key",
        prefix=prefix,
        key_hash=hash_token(key),
        expires_at=None,
    )
    return key, row["id"]


async def _session(conn, user_id: UUID) -> str:
    token = new_session_token()
    await sessions.create_session(
        conn, user_id=user_id, token_hash=hash_token(token), ttl_seconds=3600
    )
    return token


async def build_world(runtime: Runtime, password_hash: str) -> World:
    async with runtime.db.connection() as conn:
        admin = await users.create_user(
            conn, username="root", password_hash=password_hash, role="admin", tenant_id=None
        )
        world = World(admin_session=await _session(conn, admin["id"]), admin_key="")
        for slug in ("a", "b"):
            tenant = await tenants.create_tenant(conn, slug=f"shop-{slug}", name=f"Shop {slug}")
            tid = tenant["id"]
            bot = await bots.create_bot(
                conn,
                tenant_id=tid,
                slug="helper",
                name="Helper",
                settings={"allowed_origins": [f"https://{slug}.example"]},
            )
            faq_id = await faqs.create_faq(
                conn,
                tenant_id=tid,
                bot_id=bot["id"],
                question=f"Where is shop {slug}?",
                answer=f"Shop {slug} is online.",
            )
            assert faq_id is not None
            cipher = await runtime.cipher(conn, tid)
            conv = await rows.create_conversation(
                conn, tenant_id=tid, bot_id=bot["id"], visitor_id=f"visitor-{slug}"
            )
            text = f"my order {slug}-4711 never arrived"
            await rows.add_message(
                conn,
                conversation_id=conv,
                bot_id=bot["id"],
                role="user",
                content_enc=cipher.encrypt(text),
            )
            await rows.add_message(
                conn,
                conversation_id=conv,
                bot_id=bot["id"],
                role="assistant",
                content_enc=cipher.encrypt("Sorry! Please contact us."),
                source="fallback",
                latency_ms=12,
                provider="extractive",
                model="extractive",
            )
            user = await users.create_user(
                conn,
                username=f"owner-{slug}",
                password_hash=password_hash,
                role="saas_user",
                tenant_id=tid,
            )
            secret, secret_id = await _key(
                conn, tenant_id=tid, bot_id=None, kind="secret", role="saas_user"
            )
            public, public_id = await _key(
                conn, tenant_id=tid, bot_id=bot["id"], kind="publishable", role="guest"
            )
            document_id = await documents.register_document(
                conn,
                tenant_id=tid,
                bot_id=bot["id"],
                source_uri=f"demo:{slug}-policy.md",
                title="Policy",
                mime="text/markdown",
                size=5,
                etag="e",
            )
            assert document_id is not None
            world.tenants[slug] = TenantWorld(
                slug=slug,
                tenant_id=tid,
                bot_id=bot["id"],
                faq_id=faq_id,
                conversation_id=conv,
                user_id=user["id"],
                session=await _session(conn, user["id"]),
                secret_key=secret,
                secret_key_id=secret_id,
                publishable_key=public,
                publishable_key_id=public_id,
                visitor_text=text,
                document_id=document_id,
            )
        world.admin_key, _ = await _key(
            conn, tenant_id=world.tenants["a"].tenant_id, bot_id=None, kind="secret", role="admin"
        )
    return world
