"""``parley bench faq --dataset DIR``: FAQ matching quality and speed, beside baselines.

DIR holds ``faqs.jsonl`` and ``queries.jsonl`` (see the team's datasets README). The run:

1. starts ``parley serve`` on a fresh data dir (embedded PostgreSQL, local model);
2. through the admin API: logs in, creates a tenant and bot, imports the FAQs with
   opaque answers ("Answer 17.") so nothing can match on the label, makes a key;
3. sends every query on its own through ``POST /v1/chat`` as a visitor would, recording
   the source, the FAQ chosen and the latency (the server's ``latency_ms`` and the
   client's wall time), then the throughput with concurrent visitors, then the latency
   of repeated questions (answer cache);
4. ranks every query with Parley's matcher (the same SQL the server runs) for top-1 and
   MRR@5 independent of the threshold, and the same figures for three baselines computed
   in this run: BM25 over each FAQ's text, plain cosine (best phrasing), and their
   reciprocal-rank fusion.

``--extra-phrasings K`` gives each FAQ K more phrasings from the dataset's ``train.csv``
(``text,category``; a fixed random choice, none a query): a stand-in for paraphrases an LLM
would write at import, to weigh what more phrasings per FAQ are worth. The queries are the
test split's, so nothing is tuned on them.

``--learn N`` first has N of ``train.csv``'s questions asked as visitors who take the right
FAQ when it is offered with the handoff text, and an owner who adds what the knowledge gaps
then propose (``parley.bench.faq_learning``); the matching-quality baselines keep the
published phrasings.

``--judge`` gives the bot an LLM for its grey-zone checks (``shared.chat.faq_check``): a
stand-in that answers each check from the data set's labels, as a perfect judge would. The
figures through the chat API are then the most such checks can give; a real LLM's lie
between them and the run without ``--judge``.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import random
import re
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import numpy.typing as npt
from rank_bm25 import BM25Okapi

from parley.bench import faq_learning
from parley.bench.servers import ParleyServer, ThreadServer
from parley.bench.standin import FakeLLM
from shared.chat.faq_check import read_prompt
from shared.faq_import import MAX_ALTERNATIVES

RRF_K = 60
ORIGIN = "http://bench.local"


@dataclass
class Dataset:
    faqs: list[dict[str, Any]]
    queries: list[dict[str, Any]]

    @classmethod
    def load(cls, folder: Path) -> Dataset:
        return cls(cls.load_faqs(folder), _read_jsonl(folder / "queries.jsonl"))

    @staticmethod
    def load_faqs(folder: Path) -> list[dict[str, Any]]:
        return _read_jsonl(folder / "faqs.jsonl")


def with_extra_phrasings(faqs: list[dict[str, Any]], train: Path, k: int) -> list[dict[str, Any]]:
    """Each FAQ with ``k`` more alternatives (up to the API's 20): training phrasings of its
    intent (its id), chosen at random with a fixed seed, never one it already has."""
    by_intent: dict[str, list[str]] = {}
    with train.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            by_intent.setdefault(row["category"], []).append(row["text"])
    chosen = random.Random(7)
    out = []
    for faq in faqs:
        have = {faq["question"], *faq["alternatives"]}
        pool = [t for t in by_intent.get(faq["id"], []) if t not in have]
        room = MAX_ALTERNATIVES - len(faq["alternatives"])
        extra = chosen.sample(pool, max(0, min(k, room, len(pool))))
        out.append({**faq, "alternatives": [*faq["alternatives"], *extra]})
    return out


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def _scores(ranked: list[list[str]], expected: list[str | None]) -> tuple[float, float]:
    """(top-1 accuracy, MRR@5) over the queries that have an expected FAQ."""
    top1 = mrr = 0.0
    count = 0
    for ranking, want in zip(ranked, expected, strict=True):
        if want is None:
            continue
        count += 1
        top1 += bool(ranking) and ranking[0] == want
        if want in ranking[:5]:
            mrr += 1 / (ranking.index(want) + 1)
    return top1 / max(count, 1), mrr / max(count, 1)


def _rank(matrix: npt.NDArray[np.float64], ids: list[str]) -> list[list[str]]:
    order = np.argsort(-matrix, axis=1)[:, :5]
    return [[ids[j] for j in row] for row in order]


def _baselines(
    data: Dataset,
    query_vectors: npt.NDArray[np.float32],
    phrasing_vectors: npt.NDArray[np.float32],
    owners: npt.NDArray[np.int64],
) -> dict[str, list[list[str]]]:
    ids = [f["id"] for f in data.faqs]

    def tokens(text: str) -> list[str]:
        return re.findall(r"\w+", text.lower())

    bm25 = BM25Okapi([tokens(" ".join([f["question"], *f["alternatives"]])) for f in data.faqs])
    lexical = np.array([bm25.get_scores(tokens(q["text"])) for q in data.queries])
    sims = query_vectors @ phrasing_vectors.T
    cosine = np.stack([sims[:, owners == j].max(axis=1) for j in range(len(ids))], axis=1)

    def ranks(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        return np.argsort(np.argsort(-matrix, axis=1), axis=1) + 1

    fused = 1 / (RRF_K + ranks(lexical)) + 1 / (RRF_K + ranks(cosine))
    return {
        "BM25 (FAQ text)": _rank(lexical, ids),
        "cosine (best phrasing)": _rank(cosine, ids),
        "RRF of BM25 + cosine": _rank(fused, ids),
    }


def setup_bot(
    server: ParleyServer, data: Dataset, llm_chain: list[str] | None = None
) -> tuple[str, str, dict[str, str]]:
    """Tenant, bot, FAQs and a publishable key via the admin API; returns
    (bot id, key, Parley FAQ id -> dataset id)."""
    with httpx2.Client(base_url=server.url, timeout=600) as client:
        token = server.login(client)
        auth = {"Authorization": f"Bearer {token}"}
        tenant = client.post(
            "/v1/admin/tenants", headers=auth, json={"slug": "bench", "name": "Benchmark"}
        ).json()
        bot = client.post(
            "/v1/admin/bots",
            headers=auth,
            json={
                "tenant_id": tenant["id"],
                "name": "Benchmark bot",
                "allowed_origins": [ORIGIN],
                "rate_limit_per_minute": 10_000,
                "llm_chain": llm_chain,
                "paraphrase_faqs": False,  # the bench weighs phrasings with --extra-phrasings
            },
        ).json()
        lines = [
            json.dumps(
                {
                    "question": f["question"],
                    "alternatives": f["alternatives"],
                    "answer": f"Answer {n}.",
                }
            )
            for n, f in enumerate(data.faqs)
        ]
        imported = client.post(
            f"/v1/admin/bots/{bot['id']}/faqs/import",
            headers=auth,
            content="\n".join(lines).encode(),
        )
        imported.raise_for_status()
        mapping: dict[str, str] = {}
        offset: int | None = 0
        while offset is not None:
            listed = client.get(
                f"/v1/admin/bots/{bot['id']}/faqs",
                params={"limit": 200, "offset": offset},
                headers=auth,
            ).json()
            for faq in listed["items"]:
                number = int(faq["answer"].removeprefix("Answer ").rstrip("."))
                mapping[faq["id"]] = data.faqs[number]["id"]
            offset = listed["next_offset"]
        key = client.post(
            "/v1/admin/api-keys",
            headers=auth,
            json={"tenant_id": tenant["id"], "kind": "publishable", "bot_id": bot["id"]},
        ).json()["key"]
    return bot["id"], key, mapping


async def _ask_all(
    server: ParleyServer, key: str, texts: list[str], concurrency: int
) -> list[tuple[dict[str, Any], float]]:
    headers = {"Authorization": f"Bearer {key}", "Origin": ORIGIN}
    results: list[tuple[dict[str, Any], float]] = [({}, 0.0)] * len(texts)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(len(texts)):
        queue.put_nowait(n)

    async def worker(client: httpx2.AsyncClient) -> None:
        while not queue.empty():
            n = queue.get_nowait()
            begin = time.perf_counter()
            response = await client.post("/v1/chat", headers=headers, json={"message": texts[n]})
            body = response.json()
            timing = response.headers.get("server-timing", "")
            body["_server_ms"] = float(timing.split("dur=")[1]) if "dur=" in timing else None
            results[n] = (body, (time.perf_counter() - begin) * 1000)

    async with httpx2.AsyncClient(base_url=server.url, timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return results


async def _parley_rankings(
    server: ParleyServer,
    bot_id: str,
    data: Dataset,
    mapping: dict[str, str],
    query_vectors: npt.NDArray[np.float32],
) -> tuple[list[list[str]], list[float]]:
    """Parley's matcher, run with the server's own SQL on the server's database:
    each query's ranking and confidence."""
    from uuid import UUID

    from shared.db.pool import Database
    from shared.rag.faq_match import match_faq

    db = Database(f"postgresql://postgres@/postgres?host={server.data_dir / 'pg'}")
    rankings = []
    confidences = []
    try:
        async with db.connection() as conn:
            for query, vector in zip(data.queries, query_vectors, strict=True):
                match = await match_faq(
                    conn, bot_id=UUID(bot_id), text=query["text"], vector=vector
                )
                rankings.append([mapping[str(c.faq_id)] for c in match.candidates])
                confidences.append(match.confidence)
    finally:
        await db.close()
    return rankings, confidences


class LabelJudge(FakeLLM):
    """A stand-in LLM that settles grey-zone checks as a perfect judge would: from the data
    set's labels, the entry whose FAQ is the question's intent, else 0. What it gives is the
    most a real LLM's check can give; a real one, asked the same prompt, gives less."""

    def __init__(self, data: Dataset) -> None:
        super().__init__()
        self.intent = {q["text"]: q.get("expected_faq_id") for q in data.queries}
        self.faq_of = {f["question"]: f["id"] for f in data.faqs}

    def verdict_for(self, body: dict[str, Any]) -> str:
        message, entries = read_prompt(body["messages"])
        want = self.intent.get(message)
        for number, question in enumerate(entries, start=1):
            if want is not None and self.faq_of.get(question) == want:
                return str(number)
        return "0"


def out_of_scope_queries(folder: Path) -> list[dict[str, Any]]:
    """Another data set's questions, none of which this set's FAQs answer: its queries, or
    (a folder of FAQs only, such as shared/demo) its FAQ phrasings."""
    queries = folder / "queries.jsonl"
    if queries.is_file():
        lines = queries.read_text(encoding="utf-8").splitlines()
        texts = [json.loads(line)["text"] for line in lines if line.strip()]
    else:
        faqs = Dataset.load_faqs(folder)
        texts = [t for f in faqs for t in [f["question"], *f.get("alternatives", [])]]
    return [{"text": t, "expected_faq_id": None} for t in texts]


def _print_suggestions(
    answers: list[tuple[dict[str, Any], float]],
    expected: list[str | None],
    mapping: dict[str, str],
) -> None:
    """What the FAQs offered with a fallback answer (``suggestions``) are worth: how often
    the right FAQ is among them, and how often a question no FAQ answers is offered one."""
    handed_over = [
        ([mapping.get(s["faq_id"], "") for s in body.get("suggestions", [])], want)
        for (body, _), want in zip(answers, expected, strict=True)
        if body.get("source") == "fallback"
    ]
    in_scope = [(offered, want) for offered, want in handed_over if want is not None]
    right = sum(want in offered for offered, want in in_scope)
    answered_right = sum(
        mapping.get(body.get("faq_id", ""), "") == want
        for (body, _), want in zip(answers, expected, strict=True)
        if body.get("source") == "faq" and want is not None
    )
    scoped = sum(w is not None for w in expected)
    print("  with a fallback answer, FAQs offered (suggestions):")
    print(
        f"    in scope, offered any         {_share(sum(bool(o) for o, _ in in_scope), in_scope)}"
    )
    print(f"    in scope, the right FAQ among {_share(right, in_scope)}")
    print(f"  right FAQ answered or offered {(answered_right + right) / max(scoped, 1):7.1%}")
    outside = [offered for offered, want in handed_over if want is None]
    if len(expected) > scoped:
        offered_outside = sum(bool(o) for o in outside)
        print(f"  out-of-scope offered a FAQ    {offered_outside / (len(expected) - scoped):7.1%}")


def _share(count: int, of: list[Any]) -> str:
    return f"{count / max(len(of), 1):7.1%} of {len(of)}"


def run(
    dataset: Path,
    *,
    concurrency: int = 8,
    throughput_queries: int = 600,
    out_of_scope: Path | None = None,
    extra_phrasings: int = 0,
    judge: bool = False,
    learn: int = 0,
) -> None:
    from parley.bench.model import local_model

    data = Dataset.load(dataset)
    if extra_phrasings:
        data.faqs = with_extra_phrasings(data.faqs, dataset / "train.csv", extra_phrasings)
    extra = out_of_scope_queries(out_of_scope) if out_of_scope else []
    data.queries = [*data.queries, *extra]
    expected = [q.get("expected_faq_id") for q in data.queries]
    texts = [q["text"] for q in data.queries]
    print(
        f"parley bench faq: {dataset.name}: {len(data.faqs)} FAQs, {len(texts)} queries"
        + (f" ({len(extra)} out of scope, from {out_of_scope})" if extra else "")
        + (f"; {extra_phrasings} more phrasings per FAQ from train.csv" if extra_phrasings else "")
        + ("; grey zone checked by a judge that knows the labels" if judge else "")
        + (f"; first learning from {learn} training questions" if learn else "")
    )

    embedder = local_model()
    phrasings = [
        (n, t) for n, f in enumerate(data.faqs) for t in [f["question"], *f["alternatives"]]
    ]
    begin = time.perf_counter()
    query_vectors = embedder.encode(texts)
    model_rate = len(texts) / (time.perf_counter() - begin)
    phrasing_vectors = embedder.encode([t for _, t in phrasings])
    single = []
    for text in texts[:200]:
        t0 = time.perf_counter()
        embedder.encode([text])
        single.append((time.perf_counter() - t0) * 1000)
    owners = np.array([n for n, _ in phrasings])

    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="parley-bench-"))
        env = {"PARLEY_DEMO": "0"}
        if judge:  # the bot's LLM is a stand-in that knows the labels
            llm = stack.enter_context(ThreadServer(LabelJudge(data).app()))
            env |= {"OPENAI_API_KEY": "sk-bench-judge", "OPENAI_BASE_URL": f"{llm.url}/v1"}
        server = ParleyServer(Path(tmp) / "state", env)
        try:
            bot_id, key, mapping = setup_bot(server, data, ["openai"] if judge else None)
            if learn:
                own = {t for f in data.faqs for t in [f["question"], *f["alternatives"]]}
                visitors = faq_learning.training_questions(dataset, learn, own)
                visitor = {"Authorization": f"Bearer {key}", "Origin": ORIGIN}
                faq_learning.learn(server, visitor, bot_id, mapping, visitors).print()
            sequential = asyncio.run(_ask_all(server, key, texts, 1))
            subset = texts[:throughput_queries]
            salted = [f"{t} (#{n})" for n, t in enumerate(subset)]  # defeat the exact cache
            begin = time.perf_counter()
            asyncio.run(_ask_all(server, key, salted, concurrency))
            throughput = len(salted) / (time.perf_counter() - begin)
            cached = asyncio.run(_ask_all(server, key, texts[:300], 1))
            rankings, confidences = asyncio.run(
                _parley_rankings(server, bot_id, data, mapping, query_vectors)
            )
        finally:
            server.stop()

    print("\nMatching quality (ranking of all FAQs, threshold not applied)")
    print(f"  {'method':28s} {'top-1':>7s} {'MRR@5':>7s}")
    parley_top1, parley_mrr = _scores(rankings, expected)
    rows = [("Parley hybrid matcher", parley_top1, parley_mrr)]
    for name, ranked in _baselines(data, query_vectors, phrasing_vectors, owners).items():
        rows.append((name, *_scores(ranked, expected)))
    for name, top1, mrr in rows:
        ratio = parley_top1 / top1
        print(f"  {name:28s} {top1:7.1%} {mrr:7.3f}   (Parley / this, top-1: x{ratio:.2f})")

    print("\nConfidence threshold: share answered from a FAQ, and how often that FAQ is right")
    for threshold in (0.60, 0.65, 0.70, 0.75, 0.80, 0.85):
        chosen = [
            (r[0] if r else None) == w
            for r, c, w in zip(rankings, confidences, expected, strict=True)
            if c >= threshold
        ]
        precision = sum(chosen) / len(chosen) if chosen else float("nan")
        print(
            f"  >= {threshold:.2f}: answered {len(chosen) / len(rankings):6.1%}, "
            f"right {precision:6.1%}"
        )

    answered = [(body, wall) for body, wall in sequential if body.get("source") == "faq"]
    correct = sum(
        mapping.get(body.get("faq_id", ""), "") == want
        for (body, _), want in zip(sequential, expected, strict=True)
        if body.get("source") == "faq"
    )
    scoped = [w for w in expected if w is not None]
    kept = [
        body.get("source") != "faq"
        for (body, _), w in zip(sequential, expected, strict=True)
        if w is None
    ]
    judged = ", grey zone checked by the label judge: a ceiling, not an LLM's" if judge else ""
    # the bot's default follows its phrasings per FAQ: the one its answers were held to
    held = Counter(b["why"]["threshold"] for b, _ in sequential if "threshold" in b.get("why", {}))
    at = f" {held.most_common(1)[0][0]}" if held else ""
    print(f"\nThrough POST /v1/chat (default threshold{at}{judged})")
    print(f"  answered from a FAQ           {len(answered) / len(sequential):7.1%}")
    print(f"  of those, the right FAQ       {correct / max(len(answered), 1):7.1%}")
    print(f"  right FAQ over all queries    {correct / max(len(scoped), 1):7.1%}")
    if kept:
        in_scope = correct / max(len(scoped), 1)
        rejected = sum(kept) / len(kept)
        print(f"  out-of-scope kept from FAQ    {rejected:7.1%}")
        print(f"  mean of the two               {(in_scope + rejected) / 2:7.1%}")
    else:
        print("  out-of-scope kept from FAQ    n/a (no out-of-scope queries in this set)")
    _print_suggestions(sequential, expected, mapping)

    server_faq = [float(b["latency_ms"]) for b, _ in answered]
    request_faq = [b["_server_ms"] for b, _ in answered if b.get("_server_ms") is not None]
    wall_faq = [w for _, w in answered]
    cache_wall = [w for b, w in cached if b.get("source") == "cache"]
    cache_server = [
        b["_server_ms"]
        for b, _ in cached
        if b.get("source") == "cache" and b.get("_server_ms") is not None
    ]
    print("\nFAQ path latency (ms)               p50     p95     p99")
    latency_rows = [
        ("whole request at the server", request_faq),
        ("answering (response latency_ms)", server_faq),
        ("client wall time", wall_faq),
        ("answer cache, whole request", cache_server),
        ("answer cache, client wall time", cache_wall),
    ]
    for label, values in latency_rows:
        print(
            f"  {label:32s} {_percentile(values, 50):7.1f} {_percentile(values, 95):7.1f} "
            f"{_percentile(values, 99):7.1f}"
        )
    print(f"  baseline: the model alone, one question  {statistics.median(single):6.1f} ms")
    print(
        f"\nThroughput with {concurrency} concurrent visitors: {throughput:.0f} questions/s "
        f"(model batch rate in this run: {model_rate:.0f}/s; one at a time: "
        f"{1000 / statistics.median(single):.0f}/s)"
    )
