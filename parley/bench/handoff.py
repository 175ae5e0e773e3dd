"""``parley bench handoff``: from an operator's reply to the visitor's screen, across processes.

Two ``parley serve`` processes on one (embedded) PostgreSQL, as two containers of the stack
would be: a visitor's WebSocket on the first asks for a person; an operator logged in to the
second takes the conversation and replies, ``replies`` times per run. For each reply: the
time from sending ``POST /v1/admin/conversations/{id}/messages`` until its
``operator_message`` frame reaches the visitor (through LISTEN/NOTIFY), beside the reply
request's own time — and, as the baseline in the same run, the same with the operator on the
visitor's own process. Figures are medians and 95th percentiles over all replies.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx2
import websockets
from websockets.typing import Origin

from parley.bench.servers import ParleyServer
from shared.bootstrap import demo_publishable_key
from shared.crypto import Keyring
from shared.db.embedded import EmbeddedPostgres

ORIGIN = "http://127.0.0.1:8000"  # among the demo bot's allowed origins


async def _replies(
    visitor_url: str, operator_url: str, token: str, key: str, replies: int
) -> tuple[list[float], list[float]]:
    """(delays to the visitor's socket, reply request times), in ms."""
    ws_url = visitor_url.replace("http://", "ws://") + f"/v1/chat/ws?key={key}"
    delays, requests = [], []
    async with (
        websockets.connect(ws_url, origin=Origin(ORIGIN)) as socket,
        httpx2.AsyncClient(
            base_url=operator_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as http,
    ):
        await socket.send(json.dumps({"type": "handoff"}))
        status = json.loads(await asyncio.wait_for(socket.recv(), 30))
        path = f"/v1/admin/conversations/{status['conversation_id']}"
        (await http.post(f"{path}/take", json={"operator": "Bench"})).raise_for_status()
        json.loads(await asyncio.wait_for(socket.recv(), 30))  # status: human
        for n in range(replies):
            started = time.perf_counter()
            response = await http.post(f"{path}/messages", json={"text": f"Reply {n}"})
            answered = time.perf_counter()
            response.raise_for_status()
            while True:
                frame = json.loads(await asyncio.wait_for(socket.recv(), 30))
                if frame["type"] == "operator_message":
                    break
            delays.append((time.perf_counter() - started) * 1000)
            requests.append((answered - started) * 1000)
        (await http.post(f"{path}/close")).raise_for_status()
    return delays, requests


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def run(runs: int = 5, replies: int = 20) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="parley-bench-handoff-"))
    database = EmbeddedPostgres(tmp / "pg", delete_on_stop=True)
    master = os.urandom(32)
    env = {
        "DATABASE_URL": database.start(),
        "PARLEY_MASTER_KEY": base64.b64encode(master).decode(),
        "PARLEY_DEMO": "1",
    }
    servers: list[ParleyServer] = []
    try:
        servers.append(ParleyServer(tmp / "data", env))
        servers.append(ParleyServer(tmp / "data", env))
        first, second = servers
        key = demo_publishable_key(Keyring(master))
        # One login for both: sessions live in the shared database (the second server's
        # start set the admin's password last).
        with httpx2.Client(base_url=second.url) as client:
            token = second.login(client)
        measured: dict[str, tuple[list[float], list[float]]] = {
            "same process": ([], []),
            "other process": ([], []),
        }
        for _ in range(runs):
            for label, operator in (("same process", first), ("other process", second)):
                delays, requests = asyncio.run(
                    _replies(first.url, operator.url, token, key, replies)
                )
                measured[label][0].extend(delays)
                measured[label][1].extend(requests)
    finally:
        for server in servers:
            server.stop()
        database.stop()
    print(f"operator reply -> visitor's WebSocket, {runs} runs x {replies} replies, 2 processes")
    print(f"{'operator on':<15} {'p50 ms':>8} {'p95 ms':>8} {'reply request p50':>18} {'ratio':>7}")
    base = statistics.median(measured["same process"][0])
    for label, (delays, requests) in measured.items():
        p50 = statistics.median(delays)
        print(
            f"{label:<15} {p50:>8.1f} {_p95(delays):>8.1f} {statistics.median(requests):>15.1f} ms"
            f" {p50 / base:>6.2f}x"
        )
    print("(ratio: against the operator on the visitor's own process, measured in the same run)")
