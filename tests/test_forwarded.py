"""Behind the proxy, limits count per visitor: X-Forwarded-For is believed from the trusted
proxy only, and a header sent from anywhere else changes nothing."""

from __future__ import annotations

import uuid

import httpx2
import pytest

from functions.chat.app import create_app
from tests.chat_fixtures import set_bot


def client_from(app, address: str) -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(app=app, client=(address, 40000))
    return httpx2.AsyncClient(transport=transport, base_url="http://testserver")


async def spend(client, shop, forwarded: str, times: int) -> list[int]:
    """Feedback on unknown messages: each is counted against the sender's allowance."""
    headers = {**shop.headers(), "X-Forwarded-For": forwarded}
    codes = []
    for _ in range(times):
        body = {"message_id": str(uuid.uuid4()), "rating": 1}
        codes.append(
            (await client.post("/v1/chat/feedback", headers=headers, json=body)).status_code
        )
    return codes


@pytest.mark.parametrize(
    ("trusted", "peer", "separate"),
    [
        (("127.0.0.1",), "127.0.0.1", True),  # the proxy: each visitor has their own allowance
        (("10.0.0.0/8",), "10.1.2.3", True),  # a proxy network
        ((), "127.0.0.1", False),  # nothing trusted (the default): the header is ignored
        (("10.0.0.0/8",), "192.0.2.7", False),  # a stranger spoofing the header
    ],
)
async def test_forwarded_addresses_count_only_from_a_trusted_proxy(
    chat_runtime, shop, trusted, peer, separate
):
    chat_runtime.settings = chat_runtime.settings.model_copy(update={"trusted_proxies": trusted})
    await set_bot(chat_runtime, shop.bot_id, rate_limit_per_minute=2)
    async with client_from(create_app(chat_runtime), peer) as client:
        assert await spend(client, shop, "198.51.100.1", 3) == [404, 404, 429]
        other = await spend(client, shop, "198.51.100.2", 1)
    assert other == ([404] if separate else [429])
