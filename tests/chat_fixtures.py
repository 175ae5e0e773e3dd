"""Shared set-up for chat tests: the demo shop, keys, fake LLM servers, a chat client."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest

from functions.chat.app import create_app
from shared.auth.tokens import hash_token, new_api_key
from shared.bootstrap import seed_demo
from shared.crypto import Keyring
from shared.db import api_keys
from shared.db.pool import Database
from shared.rag.index import embed_every_bot
from shared.runtime import Runtime
from tests.utils.fake_llm import FakeLLM
from tests.utils.servers import ThreadServer

ORIGIN = "https://shop.example"
OPENAI_KEY = "sk-test-openai-0123456789"
MISTRAL_KEY = "mistral-test-key-0123456789"


@dataclass
class Shop:
    tenant_id: UUID
    bot_id: UUID
    publishable_key: str
    secret_key: str

    def headers(self, origin: str = ORIGIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.publishable_key}", "Origin": origin}


@pytest.fixture(scope="module")
def fake_openai():
    fake = FakeLLM()
    with ThreadServer(fake.app()) as server:
        fake.url = server.url
        yield fake


@pytest.fixture(scope="module")
def fake_mistral():
    fake = FakeLLM(answer="Mistral says: returns are free from Germany [1].")
    with ThreadServer(fake.app()) as server:
        fake.url = server.url
        yield fake


@pytest.fixture
def llm_settings(make_settings, db_url, fake_openai, fake_mistral):
    for fake in (fake_openai, fake_mistral):
        fake.reset()
    return make_settings(
        DATABASE_URL=db_url,
        OPENAI_API_KEY=OPENAI_KEY,
        OPENAI_BASE_URL=f"{fake_openai.url}/v1",
        MISTRAL_API_KEY=MISTRAL_KEY,
        PARLEY_MISTRAL_BASE_URL=fake_mistral.url,
        PARLEY_LLM="extractive",
    )


@pytest.fixture
async def chat_runtime(llm_settings, db_url, embedder):
    runtime = Runtime(
        settings=llm_settings,
        db=Database(db_url, max_size=4),
        keyring=Keyring(os.urandom(32)),
        embedder=embedder,
    )
    yield runtime
    await runtime.aclose()


async def make_shop(runtime: Runtime) -> Shop:
    seed = await seed_demo(runtime.db, allowed_origins=[ORIGIN])
    async with runtime.db.connection() as conn:
        await embed_every_bot(conn, runtime.embedder_for)
        keys = []
        for kind, role, bot in (
            ("publishable", "guest", seed.bot_id),
            ("secret", "saas_user", None),
        ):
            key, prefix = new_api_key(kind)
            await api_keys.create_key(
                conn,
                tenant_id=seed.tenant_id,
                bot_id=bot,
                kind=kind,
                role=role,
                name=kind,
                prefix=prefix,
                key_hash=hash_token(key),
                expires_at=None,
            )
            keys.append(key)
    return Shop(seed.tenant_id, seed.bot_id, keys[0], keys[1])


@pytest.fixture
async def shop(chat_runtime):
    return await make_shop(chat_runtime)


@pytest.fixture
def chat_client(make_client, chat_runtime):
    return make_client(create_app(chat_runtime))


def read_sse(body: str) -> tuple[str, dict[str, Any]]:
    """An SSE chat answer: the text its token events streamed, and its last event's data
    (the done object)."""
    events = [block.split("\n", 1) for block in body.strip().split("\n\n")]
    streamed = "".join(
        json.loads(data.removeprefix("data: ")).get("text", "")
        for name, data in events
        if name == "event: token"
    )
    last: dict[str, Any] = json.loads(events[-1][1].removeprefix("data: "))
    return streamed, last


async def ask(chat_client: Any, shop: Shop, text: str, **fields: str) -> dict[str, Any]:
    """``POST /v1/chat`` as the shop's widget, expecting an answer: its JSON body."""
    response = await chat_client.post(
        "/v1/chat", json={"message": text, **fields}, headers=shop.headers()
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def set_bot(runtime: Runtime, bot_id: UUID, **columns: object) -> None:
    sets = ", ".join(f"{name} = %({name})s" for name in columns)
    async with runtime.db.connection() as conn:
        await conn.execute(
            f"UPDATE bots SET {sets} WHERE id = %(id)s",
            {**columns, "id": bot_id},
        )
