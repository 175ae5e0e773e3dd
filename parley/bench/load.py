"""``parley bench load``: how cost grows with load, WebSocket visitors asking distinct questions.

The run, all on loopback and bounded in time:

1. the model's own rates, measured here first: one question at a time, and in batches of
   16 and 64 (the ceiling for FAQ answers: everything else is overhead);
2. a ``parley serve`` with the demo shop; for each level (1, 4, 16, 64 visitors), that many
   WebSocket visitors each keep asking the demo's FAQ questions, every one made distinct
   (so the answer cache never answers), for ``seconds``;
3. per level: answers/s and its ratio to the model's batch rate, client p50/p99, the
   server's own answering time (``latency_ms``), the share answered from the FAQ, the
   server's RSS and how many PostgreSQL connections it holds, and the CPU time one answer
   cost in the server, in PostgreSQL and in this benchmark's own visitors (on a machine
   with few cores they share it, so this shows where the answers' cost lies).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import psycopg
import websockets
from websockets.typing import Origin

from parley.bench import model
from parley.bench.servers import ParleyServer


def _questions() -> list[str]:
    text = resources.files("shared.demo").joinpath("faqs.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [q for row in rows for q in [row["question"], *row["alternatives"]]]


@dataclass
class Level:
    visitors: int
    answers: int
    seconds: float
    wall_ms: list[float]
    server_ms: list[float]
    faq: int
    rss_mb: float
    pg_connections: int
    sources: dict[str, int] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)  # seconds in the measured window

    @property
    def rate(self) -> float:
        return self.answers / self.seconds


def _model_rates(questions: list[str]) -> dict[str, float]:
    """The model's own rates, on the runner the server uses (PARLEY_LOCAL_RUNTIME)."""
    embedder = model.local_model()
    embedder.encode(questions[:8])  # load and warm up
    salted = [f"{q} (#{n})" for n, q in enumerate(questions * 8)]
    single = []
    for text in salted[:150]:
        begin = time.perf_counter()
        embedder.encode([text])
        single.append(time.perf_counter() - begin)
    rates = {"one at a time": 1 / statistics.median(single)}
    for size in (16, 64):
        runs = []
        for _ in range(3):
            begin = time.perf_counter()
            for start in range(0, 256, size):
                embedder.encode(salted[start : start + size])
            runs.append(256 / (time.perf_counter() - begin))
        rates[f"batches of {size}"] = statistics.median(runs)
    return rates


CONVERSATION_FIELDS = ("conversation_id", "visitor_id", "visitor_token")


async def ask_over_socket(
    ws: websockets.ClientConnection, text: str, conversation: dict[str, str]
) -> dict[str, Any]:
    """Send one message in ``conversation`` and read frames up to its final one; the
    conversation's fields are updated for the next message."""
    await ws.send(json.dumps({"type": "message", "text": text, **conversation}))
    while True:
        frame: dict[str, Any] = json.loads(await ws.recv())
        if frame["type"] in ("done", "error"):
            break
    if frame["type"] == "error":
        raise RuntimeError(f"the server answered an error: {frame}")
    conversation.update({k: frame[k] for k in CONVERSATION_FIELDS})
    return frame


async def _visitor(
    url: str, key: str, origin: str, questions: list[str], offset: int, until: float, level: Level
) -> None:
    async with websockets.connect(
        f"{url.replace('http', 'ws', 1)}/v1/chat/ws?key={key}",
        origin=Origin(origin),
        max_size=2**20,
    ) as ws:
        conversation: dict[str, str] = {}
        n = offset
        while time.monotonic() < until:
            text = f"{questions[n % len(questions)]} (#{n})"
            n += 7919  # distinct across visitors too
            begin = time.perf_counter()
            frame = await ask_over_socket(ws, text, conversation)
            level.wall_ms.append((time.perf_counter() - begin) * 1000)
            level.server_ms.append(float(frame["latency_ms"]))
            level.answers += 1
            level.faq += frame["source"] == "faq"
            level.sources[frame["source"]] = level.sources.get(frame["source"], 0) + 1


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:  # a backend that ended meanwhile
            continue
        total += times.user + times.system
    return total


def _cpu_by_part(server: psutil.Process, pgdata: Path) -> dict[str, float]:
    """CPU seconds so far of the server process, of PostgreSQL (the embedded postmaster,
    found by its pid file, and its backends) and of this process."""
    postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))
    return {
        "server": _cpu_seconds([server]),
        "postgres": _cpu_seconds([postmaster, *postmaster.children(recursive=True)]),
        "visitors": _cpu_seconds([psutil.Process()]),
    }


def _pg_connections(pgdata: Path) -> int:
    with psycopg.connect(f"postgresql://postgres@/postgres?host={pgdata}") as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
            " AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


async def _level(
    server: ParleyServer, key: str, questions: list[str], visitors: int, seconds: float, base: int
) -> Level:
    """``base`` keeps this level's questions apart from every other level's (and the cache)."""
    level = Level(visitors, 0, seconds, [], [], 0, 0.0, 0)
    # A short warm-up at this level, not counted, then the measured window.
    warm_until = time.monotonic() + 1.0
    scratch = Level(visitors, 0, 1.0, [], [], 0, 0.0, 0)
    await asyncio.gather(
        *(
            _visitor(server.url, key, server.url, questions, base + 10**6 + v, warm_until, scratch)
            for v in range(visitors)
        )
    )
    process = psutil.Process(server.proc.pid)
    before = _cpu_by_part(process, server.data_dir / "pg")
    begin = time.monotonic()
    until = begin + seconds
    await asyncio.gather(
        *(
            _visitor(server.url, key, server.url, questions, base + v, until, level)
            for v in range(visitors)
        )
    )
    level.seconds = time.monotonic() - begin
    after = _cpu_by_part(process, server.data_dir / "pg")
    level.cpu_s = {part: after[part] - before[part] for part in after}
    level.rss_mb = process.memory_info().rss / 2**20
    level.pg_connections = _pg_connections(server.data_dir / "pg")
    return level


def run(levels: list[int], seconds: float = 6.0) -> None:
    questions = _questions()
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        state = Path(tmp) / "state"
        runner = model.runner()  # the server below runs the same
        rates = _model_rates(questions)
        batch = rates["batches of 64"]
        print(
            f"parley bench load: {len(questions)} demo FAQ phrasings, each asked made distinct;"
            f" the local model on {runner}"
        )
        print("  the model alone: " + ", ".join(f"{k} {v:.0f}/s" for k, v in rates.items()))
        server = ParleyServer(state, {"PARLEY_DEMO": "1"})
        try:
            key = server.demo_visitor_key()
            results = [
                asyncio.run(_level(server, key, questions, n, seconds, base=i * 10**8))
                for i, n in enumerate(levels)
            ]
        finally:
            server.stop()
    print(
        f"\n  {'visitors':>8s} {'answers/s':>10s} {'x batch64':>9s} {'p50 ms':>7s} {'p99 ms':>7s}"
        f" {'server p50':>10s} {'FAQ':>5s} {'RSS MB':>7s} {'PG conns':>8s}"
        f"   CPU ms per answer: server / PostgreSQL / visitors"
    )
    for r in results:
        print(
            f"  {r.visitors:8d} {r.rate:10.1f} {r.rate / batch:9.2f}"
            f" {np.percentile(r.wall_ms, 50):7.1f} {np.percentile(r.wall_ms, 99):7.1f}"
            f" {np.percentile(r.server_ms, 50):10.1f} {r.faq / max(r.answers, 1):5.0%}"
            f" {r.rss_mb:7.0f} {r.pg_connections:8d}   "
            + " / ".join(f"{1000 * r.cpu_s[p] / max(r.answers, 1):.1f}" for p in r.cpu_s)
            + f"   {r.sources}"
        )
