"""``parley bench gdpr``: what a GDPR request costs, end to end through the GDPR function.

On an embedded PostgreSQL and a local storage folder in a temporary directory, one tenant's
bot gets ``archived`` conversations moved into archive objects of ``per_object`` each, and
visitors of three shapes, one of each per run:

- ``1 conversation``: the baseline, a visitor with one conversation in Postgres;
- ``10 conversations``: a visitor with ten conversations in Postgres;
- ``archived``: a visitor with one conversation in each archive object, among all the
  others' (every erasure rewrites those objects).

Each run times ``POST /v1/gdpr/export`` then ``POST /v1/gdpr/erasure`` for each, through
the function's ASGI app in-process (a shop's secret key: auth, rate limit and receipts
included). Figures are medians over the runs, and ratios against the baseline.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx2

from functions.gdpr.app import create_app
from shared.auth.tokens import hash_token, new_api_key
from shared.config import load_settings
from shared.db import api_keys, bots, conversations, tenants
from shared.db.migrate import migrate
from shared.ingest.archive import archive
from shared.runtime import Runtime

SHAPES = ("1 conversation", "10 conversations", "archived")


async def _chat(runtime: Runtime, tenant_id: UUID, bot_id: UUID, visitor: str, n: int) -> None:
    async with runtime.db.connection() as conn:
        cipher = await runtime.cipher(conn, tenant_id)
        for i in range(n):
            await conversations.store_exchange(
                conn,
                tenant_id=tenant_id,
                bot_id=bot_id,
                conversation_id=None,
                visitor_id=visitor,
                channel="widget",
                question_enc=cipher.encrypt(f"Where is my order {visitor}-{i}? It was due Monday."),
                client_message_id=None,
                answer_enc=cipher.encrypt("Parcels arrive in 2–4 working days. " * 4),
                faq_hit=False,
                billed_provider=None,
                source="rag",
                latency_ms=40,
            )


async def _measure(runs: int, archived: int, per_object: int) -> dict[str, dict[str, list[float]]]:
    per_object = max(runs + 1, min(per_object, archived))
    tmp = tempfile.mkdtemp(prefix="parley-bench-gdpr-")
    settings = load_settings({"PARLEY_DATA_DIR": tmp, "PARLEY_DEMO": "0"}, env_file=None)
    runtime = Runtime.from_settings(settings)
    try:
        async with runtime.db.connection() as conn:
            await migrate(conn)
            tenant = await tenants.create_tenant(conn, slug="bench", name="Bench")
            bot = await bots.create_bot(
                conn,
                tenant_id=tenant["id"],
                slug="help",
                name="Help",
                settings={"retention_days": 1},
            )
            key, prefix = new_api_key("secret")
            await api_keys.create_key(
                conn,
                tenant_id=tenant["id"],
                bot_id=None,
                kind="secret",
                role="saas_user",
                name="bench",
                prefix=prefix,
                key_hash=hash_token(key),
                expires_at=None,
            )
        tid, bid = tenant["id"], bot["id"]
        later = datetime.now(UTC) + timedelta(days=2)
        for part in range(max(1, round(archived / per_object))):
            for i in range(per_object - runs):
                await _chat(runtime, tid, bid, f"crowd-{part}-{i}", 1)
            for r in range(runs):
                await _chat(runtime, tid, bid, f"archived-{r}", 1)
            await archive(runtime, runtime.get_storage(), now=later)
        for r in range(runs):
            await _chat(runtime, tid, bid, f"one-{r}", 1)
            await _chat(runtime, tid, bid, f"ten-{r}", 10)

        times: dict[str, dict[str, list[float]]] = {
            s: {"export": [], "erasure": []} for s in SHAPES
        }
        visitor_of = {"1 conversation": "one", "10 conversations": "ten", "archived": "archived"}
        headers = {"Authorization": f"Bearer {key}"}
        transport = httpx2.ASGITransport(app=create_app(runtime))
        async with httpx2.AsyncClient(transport=transport, base_url="http://bench") as client:
            for r in range(runs):
                for shape in SHAPES:
                    body = {"bot_id": str(bid), "visitor_id": f"{visitor_of[shape]}-{r}"}
                    for kind in ("export", "erasure"):
                        begin = time.perf_counter()
                        response = await client.post(f"/v1/gdpr/{kind}", json=body, headers=headers)
                        times[shape][kind].append((time.perf_counter() - begin) * 1000)
                        if response.status_code != 200:
                            raise RuntimeError(f"{kind} answered {response.status_code}")
        return times
    finally:
        await runtime.aclose()
        runtime.stop_embedded()
        shutil.rmtree(tmp, ignore_errors=True)


def run(runs: int = 5, archived: int = 1000, per_object: int = 200) -> None:
    per_object = max(runs + 1, min(per_object, archived))
    times = asyncio.run(_measure(runs, archived, per_object))
    print(
        f"GDPR requests through the function, medians of {runs} runs;"
        f" {archived} archived conversations in objects of {per_object}"
    )
    print(f"{'visitor':<18} {'export ms':>10} {'ratio':>7} {'erasure ms':>11} {'ratio':>7}")
    base = {k: statistics.median(v) for k, v in times["1 conversation"].items()}
    for shape in SHAPES:
        export = statistics.median(times[shape]["export"])
        erasure = statistics.median(times[shape]["erasure"])
        print(
            f"{shape:<18} {export:>10.1f} {export / base['export']:>6.2f}x"
            f" {erasure:>11.1f} {erasure / base['erasure']:>6.2f}x"
        )
    print(f"(baseline: {SHAPES[0]}; 'archived' has one conversation in each object it rewrites)")
