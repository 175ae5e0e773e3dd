"""First-start work: the admin account and the demo shop. Both are safe to run again."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any
from uuid import UUID

from shared.auth.tokens import api_key_prefix, hash_token
from shared.config import Settings
from shared.crypto import Keyring
from shared.db import api_keys, bots, chunks, documents, faqs, tenants, users
from shared.db.pool import Conn, Database
from shared.logging import get_logger
from shared.passwords import generate_password, hash_password
from shared.rag.chunk import chunk_markdown

log = get_logger("parley.bootstrap")

DEMO_TENANT_SLUG = "demo"
DEMO_BOT_SLUG = "fernwood"
DEMO_DISPLAY = {
    "title": "Fernwood Outfitters",
    "greeting": "Hi! I'm Fernwood's assistant. Ask me about orders, shipping, returns or gear.",
    "handoff_text": (
        "I'm not sure about that one. Our team is happy to help: care@fernwood.example "
        "or +49 30 1234 5678 (Mon–Fri, 9 am–6 pm CET)."
    ),
    "starter_questions": [
        "How much does shipping cost?",
        "How do I return an item?",
        "What warranty do you offer?",
    ],
    "primary_color": "#2f6b4f",
    "contact_url": "mailto:care@fernwood.example",
}
DEMO_INSTRUCTIONS = (
    "You are the customer-support assistant of Fernwood Outfitters, an online shop for "
    "outdoor gear. Be brief and friendly."
)


@dataclass(frozen=True)
class AdminBootstrap:
    username: str
    generated_password: str | None  # shown once on the console, never logged


async def ensure_configured_admin(conn: Conn, settings: Settings) -> str | None:
    """Create or update the admin named by PARLEY_ADMIN_USERNAME with PARLEY_ADMIN_PASSWORD;
    returns the username, or None when the two are not both set."""
    if not (settings.admin_username and settings.admin_password):
        return None
    await users.upsert_admin(
        conn,
        username=settings.admin_username,
        password_hash=hash_password(settings.admin_password.get_secret_value()),
    )
    log.info("admin ensured from environment", username=settings.admin_username)
    return settings.admin_username


async def ensure_admin(conn: Conn, settings: Settings) -> AdminBootstrap | None:
    """Create/update the configured admin, or create ``admin`` with a random password
    when no admin exists yet. Returns what happened, or None when nothing was needed."""
    configured = await ensure_configured_admin(conn, settings)
    if configured is not None:
        return AdminBootstrap(configured, None)
    if await users.count_admins(conn) > 0:
        return None
    password = generate_password()
    await users.upsert_admin(conn, username="admin", password_hash=hash_password(password))
    log.info("admin created with a generated password", username="admin")
    return AdminBootstrap("admin", password)


@dataclass(frozen=True)
class DemoSeed:
    tenant_id: UUID
    bot_id: UUID
    faqs_added: int
    documents_added: int


def demo_publishable_key(keyring: Keyring) -> str:
    """The demo bot's publishable key, derived from the master key so the demo page can
    show it on every start without storing it anywhere but as a hash."""
    ident = hmac.new(keyring.current, b"parley demo key id", hashlib.sha256).hexdigest()[:12]
    secret = hmac.new(keyring.current, b"parley demo key secret", hashlib.sha256).digest()
    return f"pk_{ident}" + base64.urlsafe_b64encode(secret).decode().rstrip("=")


async def seed_demo(
    db: Database, *, allowed_origins: list[str], publishable_key: str | None = None
) -> DemoSeed:
    """The demo shop's tenant, bot, FAQs, policy documents and (given one) its publishable
    key; a second run adds nothing."""
    async with db.connection() as conn, conn.transaction():
        tenant_id = await tenants.ensure_tenant(
            conn, slug=DEMO_TENANT_SLUG, name="Fernwood Outfitters (demo)"
        )
        bot_id, _ = await bots.ensure_bot(
            conn,
            tenant_id=tenant_id,
            slug=DEMO_BOT_SLUG,
            name="Fernwood assistant",
            allowed_origins=allowed_origins,
            instructions=DEMO_INSTRUCTIONS,
            display=DEMO_DISPLAY,
        )
        # Serving the demo on another host or port must keep its widget working.
        await bots.add_allowed_origins(conn, bot_id=bot_id, origins=allowed_origins)
        faqs_added = 0
        for entry in demo_faqs():
            created = await faqs.create_faq(
                conn,
                tenant_id=tenant_id,
                bot_id=bot_id,
                question=entry["question"],
                alternatives=entry["alternatives"],
                answer=entry["answer"],
                external_id=entry["id"],
            )
            faqs_added += created is not None
        documents_added = 0
        for name, text in demo_documents().items():
            raw = text.encode()
            title = text.splitlines()[0].lstrip("# ").strip()
            created = await documents.register_document(
                conn,
                tenant_id=tenant_id,
                bot_id=bot_id,
                source_uri=f"demo:{name}",
                title=title,
                mime="text/markdown",
                size=len(raw),
                etag=hashlib.md5(raw, usedforsecurity=False).hexdigest(),
            )
            if created is not None:
                # Embeddings are filled in by shared.rag.index.embed_pending.
                await chunks.replace_chunks(
                    conn, document_id=created, bot_id=bot_id, chunks=chunk_markdown(text)
                )
                documents_added += 1
        if faqs_added or documents_added:
            await bots.bump_kb_version(conn, tenant_id=tenant_id, bot_id=bot_id)
        prefix = api_key_prefix(publishable_key) if publishable_key is not None else None
        if publishable_key is not None and prefix is not None:
            await api_keys.ensure_key(
                conn,
                tenant_id=tenant_id,
                bot_id=bot_id,
                name="demo page",
                prefix=prefix,
                key_hash=hash_token(publishable_key),
            )
    if faqs_added or documents_added:
        log.info("demo seeded", faqs=faqs_added, documents=documents_added)
    return DemoSeed(tenant_id, bot_id, faqs_added, documents_added)


def demo_faqs() -> list[dict[str, Any]]:
    text = resources.files("shared.demo").joinpath("faqs.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def demo_documents() -> dict[str, str]:
    folder = resources.files("shared.demo").joinpath("documents")
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".md")
    }
