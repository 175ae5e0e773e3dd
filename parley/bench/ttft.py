"""``parley bench ttft``: how much time Parley adds before a provider's first token.

A stand-in OpenAI-compatible server on loopback (``parley.bench.standin``) answers with a
fixed first-token delay, then a piece every ``token_interval`` seconds (15 ms: about the
pace at which GPT-4o mini and Mistral Small stream), so anything Parley holds back until a
later piece counts too. The same run measures, as medians over ``runs`` questions:

- the baseline: time to the first streamed token when calling the stand-in directly;
- Parley: time to the first SSE ``token`` event of ``POST /v1/chat`` on a ``parley serve``
  whose bot answers through that provider (RAG over the demo shop's documents; every
  question is new, so neither the FAQ nor the cache answers it);
- Parley over the widget's WebSocket (``/v1/chat/ws``): a new visitor opens a socket, then
  the time from sending the question to the first ``token`` frame (the socket was
  authenticated when it opened, and the message is counted against the limits while its
  question is embedded).

The difference is Parley's own work before the provider: auth, embedding the question,
FAQ matching, retrieval, prompt building and the extra HTTP hop.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx2
from websockets.sync.client import connect
from websockets.typing import Origin

from parley.bench.servers import ParleyServer, ThreadServer
from parley.bench.standin import FakeLLM

# Answered from the documents, and below the grey zone (FAQ confidence 0.48-0.54), so the
# provider is called once, for the answer: a grey-zone question waits for a check first
# (shared.chat.faq_check), which is a provider round trip, not Parley's own time.
QUESTIONS = [
    "Do you sell gas cartridges abroad?",
    "Does the guarantee cover UV damage?",
    "Are personalised products returnable?",
    "Can I return opened hygiene items?",
]


def _first_token(
    client: httpx2.Client, url: str, body: dict[str, object], headers: dict[str, str], marker: str
) -> tuple[float, float]:
    """When the request began and how long (ms) until its first token. The rest of the
    answer is read too, as a visitor's widget does: leaving after the first token would
    cancel the answer, and a cancelled provider stream costs its connection."""
    begin = time.perf_counter()
    first: float | None = None
    with client.stream("POST", url, json=body, headers=headers) as response:
        for line in response.iter_lines():
            if first is None and marker in line:
                first = (time.perf_counter() - begin) * 1000
    if first is None:
        raise RuntimeError(f"no token from {url}")
    return begin, first


def _first_token_ws(url: str, origin: str, question: str) -> float:
    """A new visitor's socket, then how long (ms) from sending ``question`` to its first
    token frame; the rest of the answer is read too."""
    with connect(url, origin=Origin(origin)) as ws:
        begin = time.perf_counter()
        ws.send(json.dumps({"type": "message", "text": question}))
        first: float | None = None
        while (frame := json.loads(ws.recv()))["type"] not in ("done", "error"):
            if first is None and frame["type"] == "token":
                first = (time.perf_counter() - begin) * 1000
    if first is None:
        raise RuntimeError(f"no token over the socket: {frame}")
    return first


def run(runs: int = 30, provider_delay: float = 0.2, token_interval: float = 0.015) -> None:
    standin = FakeLLM(
        answer="Personalised products cannot be returned [1].",
        # the stand-in waits the interval before every piece, the first included
        first_token_delay=provider_delay - token_interval,
        delay=token_interval,
    )
    with ThreadServer(standin.app()) as llm, tempfile.TemporaryDirectory() as tmp:
        server = ParleyServer(
            Path(tmp) / "state",
            {
                "PARLEY_DEMO": "1",
                "OPENAI_API_KEY": "sk-bench-standin",
                "OPENAI_BASE_URL": f"{llm.url}/v1",
                "PARLEY_LLM": "openai",
            },
        )
        try:
            with httpx2.Client(base_url=server.url, timeout=60) as client:
                auth = {"Authorization": f"Bearer {server.login(client)}"}
                bot = client.get("/v1/admin/bots", headers=auth).json()["items"][0]
                client.patch(
                    f"/v1/admin/bots/{bot['id']}",
                    headers=auth,
                    json={"rate_limit_per_minute": 10_000, "faq_threshold": 1.0},
                )
                key = client.post(
                    "/v1/admin/api-keys",
                    headers=auth,
                    json={
                        "tenant_id": bot["tenant_id"],
                        "kind": "publishable",
                        "bot_id": bot["id"],
                    },
                ).json()["key"]
                visitor = {
                    "Authorization": f"Bearer {key}",
                    "Origin": server.url,
                    "Accept": "text/event-stream",
                }
                direct_body = {
                    "model": "gpt-4o-mini",
                    "stream": True,
                    "messages": [{"role": "user", "content": "hi"}],
                }
                with httpx2.Client(base_url=llm.url, timeout=60) as direct:
                    baseline, parley, before_call, socket = [], [], [], []
                    ws_url = f"{server.url.replace('http', 'ws', 1)}/v1/chat/ws?key={key}"
                    for n in range(runs + 2):
                        _, d = _first_token(
                            direct, "/v1/chat/completions", direct_body, {}, '"content"'
                        )
                        question = f"{QUESTIONS[n % len(QUESTIONS)]} (case {n})"
                        begin, p = _first_token(
                            client, "/v1/chat", {"message": question}, visitor, "event: token"
                        )
                        if n >= 2:  # the first two warm up connections and caches
                            baseline.append(d)
                            parley.append(p)
                            # the stand-in runs in this process: one clock for both
                            before_call.append((standin.arrivals[-1] - begin) * 1000)
                        question = f"{QUESTIONS[(n + 1) % len(QUESTIONS)]} (socket {n})"
                        w = _first_token_ws(ws_url, server.url, question)
                        if n >= 2:
                            socket.append(w)
        finally:
            server.stop()
    assert standin.requests, "the stand-in provider was never called"
    assert not standin.checks, "a question fell in the grey zone: choose QUESTIONS further off"
    last = json.dumps(standin.requests[-1])
    assert "[1]" in last, "the prompt carried no numbered sources"
    base, ours = statistics.median(baseline), statistics.median(parley)
    over_ws = statistics.median(socket)
    print(
        f"parley bench ttft: {runs} questions, stand-in provider first-token delay "
        f"{provider_delay * 1000:.0f} ms then a piece every {token_interval * 1000:.0f} ms,"
        " medians"
    )
    print(f"  provider called directly        {base:7.1f} ms to the first token")
    for how, median in (("SSE /v1/chat", ours), ("WebSocket", over_ws)):
        print(f"  through Parley ({how + ')':15s} {median:7.1f} ms to the first token")
        added = median - base
        print(f"  Parley adds                     {added:7.1f} ms (ratio {median / base:.3f})")
    print(
        f"    of which (SSE) before it calls the provider {statistics.median(before_call):.1f} ms"
        " (from the request's start to the provider's receiving it, direct call included)"
    )
