"""``parley bench soak``: does one ``parley serve`` process stay within its memory budget?

A ``parley serve`` with the demo shop gets rounds of varied traffic, every question made
distinct (so nothing is answered twice from a cache and every in-process cache fills):
WebSocket visitors, JSON and SSE chat from new visitors (FAQ hits and document answers),
widget settings, visitors asking for a person, and an owner's admin reads and FAQ edits.
After each round the server's RSS is read. Printed: RSS fresh (ready, nothing asked), after
the first round, after each later one, and the growth over the second half of the run,
where a bounded process is flat.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx2
import psutil
import websockets
from websockets.typing import Origin

from parley.bench.load import _questions, ask_over_socket
from parley.bench.servers import ParleyServer

DOCUMENT_QUESTIONS = [
    "How long does delivery to {} take?",
    "Can I return a {} I bought on sale?",
    "Is there a warranty on the {}?",
    "Do you have the {} in another colour?",
]
THINGS = ["Austria", "Canada", "jacket", "kettle", "bicycle", "lamp", "sofa", "Japan"]


class Traffic:
    def __init__(self, server: ParleyServer, key: str, admin_token: str, bot_id: str) -> None:
        self.server = server
        self.key = key
        self.admin = {"Authorization": f"Bearer {admin_token}"}
        self.bot_id = bot_id
        self.faq_questions = _questions()
        self.numbers = itertools.count()
        self.requests = 0

    def question(self) -> str:
        n = next(self.numbers)
        if n % 3 == 2:
            text = DOCUMENT_QUESTIONS[n % len(DOCUMENT_QUESTIONS)].format(THINGS[n % len(THINGS)])
        else:
            text = self.faq_questions[n % len(self.faq_questions)]
        return f"{text} (#{n})"

    def visitor(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.key}",
            "Origin": self.server.url,
            "X-Parley-Visitor-Id": f"soak-{next(self.numbers)}",
        }

    async def websocket_visitor(self, messages: int) -> None:
        url = self.server.url.replace("http", "ws", 1)
        async with websockets.connect(
            f"{url}/v1/chat/ws?key={self.key}", origin=Origin(self.server.url)
        ) as ws:
            conversation: dict[str, str] = {}
            for _ in range(messages):
                await ask_over_socket(ws, self.question(), conversation)
                self.requests += 1

    async def http_visitor(self, client: httpx2.AsyncClient, *, stream: bool) -> None:
        headers = self.visitor()
        if stream:
            headers["Accept"] = "text/event-stream"
        response = await client.post("/v1/chat", json={"message": self.question()}, headers=headers)
        response.raise_for_status()
        self.requests += 1
        if not stream and next(self.numbers) % 10 == 0:  # now and then: ask for a person
            body = response.json()
            handoff = await client.post(
                "/v1/chat/handoff",
                headers=headers,
                json={
                    "conversation_id": body["conversation_id"],
                    "visitor_token": body["visitor_token"],
                    "name": "Soak Visitor",
                    "email": "soak@example.com",
                },
            )
            handoff.raise_for_status()
            self.requests += 1

    async def owner(self, client: httpx2.AsyncClient) -> None:
        base = f"/v1/admin/bots/{self.bot_id}"
        for path in (
            f"{base}/conversations",
            f"{base}/analytics",
            f"{base}/faqs",
            "/v1/admin/inbox",
        ):
            (await client.get(path, headers=self.admin)).raise_for_status()
            self.requests += 1
        created = await client.post(
            f"{base}/faqs",
            headers=self.admin,
            json={"question": self.question(), "answer": "A soak test's answer."},
        )
        created.raise_for_status()
        deleted = await client.delete(f"{base}/faqs/{created.json()['id']}", headers=self.admin)
        deleted.raise_for_status()
        self.requests += 2

    async def round(self) -> None:
        async with httpx2.AsyncClient(base_url=self.server.url, timeout=120) as client:
            jobs: list[Coroutine[Any, Any, None]] = [self.websocket_visitor(25) for _ in range(8)]
            jobs += [self.http_visitor(client, stream=n % 5 == 0) for n in range(120)]
            jobs += [self.owner(client) for _ in range(5)]
            jobs += [self.widget(client) for _ in range(20)]
            gate = asyncio.Semaphore(12)  # a few at a time, as real traffic arrives

            async def gated(job: Coroutine[Any, Any, None]) -> None:
                async with gate:
                    await job

            await asyncio.gather(*(gated(job) for job in jobs))

    async def widget(self, client: httpx2.AsyncClient) -> None:
        headers = {"Authorization": f"Bearer {self.key}", "Origin": self.server.url}
        (await client.get("/v1/widget/config", headers=headers)).raise_for_status()
        self.requests += 1


def rss_mb(server: ParleyServer) -> float:
    return float(psutil.Process(server.proc.pid).memory_info().rss) / 2**20


def run(rounds: int = 12) -> None:
    print(f"parley bench soak: {rounds} rounds of varied traffic against one parley serve")
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        server = ParleyServer(Path(tmp) / "state", {"PARLEY_DEMO": "1"})
        try:
            key = server.demo_visitor_key()
            with httpx2.Client(base_url=server.url, timeout=60) as client:
                token = server.login(client)
                bots = client.get("/v1/admin/bots", headers={"Authorization": f"Bearer {token}"})
                bot_id = bots.json()["items"][0]["id"]
            traffic = Traffic(server, key, token, bot_id)
            fresh = rss_mb(server)
            print(f"\n  {'round':>5s} {'requests':>9s} {'seconds':>8s} {'RSS MB':>7s}")
            print(f"  {'fresh':>5s} {0:9d} {0.0:8.1f} {fresh:7.0f}")
            readings = []
            for n in range(1, rounds + 1):
                begin = time.monotonic()
                asyncio.run(traffic.round())
                readings.append((traffic.requests, rss_mb(server)))
                print(
                    f"  {n:5d} {traffic.requests:9d} {time.monotonic() - begin:8.1f}"
                    f" {readings[-1][1]:7.0f}"
                )
        finally:
            server.stop()
    half = readings[len(readings) // 2 - 1] if len(readings) > 1 else readings[0]
    last = readings[-1]
    per_thousand = (last[1] - half[1]) / max(last[0] - half[0], 1) * 1000
    print(
        f"\n  fresh {fresh:.0f} MB, after round 1 {readings[0][1]:.0f} MB, at the end"
        f" {last[1]:.0f} MB ({last[0]} requests); second half: {per_thousand:+.1f} MB per"
        " 1,000 requests"
    )
