"""/metrics on each function: requests by route template, answers by source, LLM tokens and
cost, cache lookups, rate-limit refusals — read back in the Prometheus text format."""

from __future__ import annotations

from uuid import uuid4

from prometheus_client.parser import text_string_to_metric_families

from tests.chat_fixtures import set_bot

pytest_plugins = ["tests.chat_fixtures"]


async def scrape(client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return float(samples.get((name, frozenset(labels.items())), 0.0))


async def test_chat_answers_llm_usage_and_routes_are_counted(
    chat_client, chat_runtime, shop, fake_openai
):
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["openai"])
    before = await scrape(chat_client)
    faq = await chat_client.post(
        "/v1/chat", headers=shop.headers(), json={"message": "what does delivery cost?"}
    )
    rag = await chat_client.post(
        "/v1/chat", headers=shop.headers(), json={"message": "Which items can't be returned?"}
    )
    assert (faq.json()["source"], rag.json()["source"]) == ("faq", "rag")
    after = await scrape(chat_client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("parley_answers_total", source="faq") == 1
    assert grew("parley_answers_total", source="rag") == 1
    assert grew("parley_answer_cache_lookups_total", result="miss") == 2
    assert grew("parley_llm_tokens_total", provider="openai", direction="out") > 0
    # the grey-zone check on the second question was a call too, and its verdict is counted
    assert len(fake_openai.checks) == 1
    assert grew("parley_faq_checks_total", verdict="none") == 1
    assert grew("parley_llm_duration_seconds_count", provider="openai") == 2
    assert grew("parley_llm_cost_usd_total", provider="openai") > 0
    assert grew("parley_http_requests_total", function="chat", route="/v1/chat", status="200") == 2


async def test_routes_are_labelled_by_template_never_by_raw_path(admin_client):
    bot_id = str(uuid4())
    await admin_client.get(f"/v1/admin/bots/{bot_id}")
    samples = await scrape(admin_client)
    routes = {
        dict(labels)["route"]
        for (name, labels) in samples
        if name == "parley_http_requests_total" and dict(labels)["function"] == "admin"
    }
    assert "/v1/admin/bots/{bot_id}" in routes
    assert not any(bot_id in route for route in routes)


async def test_unknown_paths_share_one_label_and_refusals_are_counted(
    chat_client, chat_runtime, shop
):
    before = await scrape(chat_client)
    for n in range(3):
        await chat_client.get(f"/v1/chat/nothing-{n}")
    await set_bot(chat_runtime, shop.bot_id, rate_limit_per_minute=1)
    statuses = [
        (
            await chat_client.post(
                "/v1/chat", headers=shop.headers(), json={"message": f"shipping {n}?"}
            )
        ).status_code
        for n in range(3)
    ]
    after = await scrape(chat_client)
    assert 429 in statuses
    refused = statuses.count(429)
    assert (
        value(after, "parley_rate_limited_total") - value(before, "parley_rate_limited_total")
        == refused
    )
    unmatched = ("parley_http_requests_total", "chat", "unmatched", "404")
    name, function, route, status = unmatched
    grew = value(after, name, function=function, route=route, status=status) - value(
        before, name, function=function, route=route, status=status
    )
    assert grew == 3


def test_the_grafana_dashboard_reads_only_metrics_parley_exports():
    """infra/grafana/parley.json: every series a panel queries is one shared.metrics defines."""
    import json
    import re
    from pathlib import Path

    from prometheus_client import REGISTRY

    import shared.metrics  # noqa: F401 (registers Parley's metrics)

    board = json.loads(
        (Path(__file__).resolve().parents[1] / "infra" / "grafana" / "parley.json").read_text()
    )
    exported = {
        sample_name
        for family in REGISTRY.collect()
        if family.name.startswith("parley_")
        for sample_name in (
            family.name,
            f"{family.name}_total",
            f"{family.name}_bucket",
            f"{family.name}_count",
        )
    }
    queried = {
        name
        for panel in board["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bparley_\w+", target["expr"])
    }
    assert queried
    assert queried <= exported, queried - exported
