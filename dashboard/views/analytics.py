"""Analytics: a chosen period's volumes by source, latency, cost per provider, feedback;
the numbers as CSV."""

from __future__ import annotations

import csv
import io

import streamlit as st

from dashboard.context import Context
from dashboard.views.common import need_bot, period


def render(ctx: Context) -> None:
    if not need_bot(ctx):
        return
    since, until = period("an")
    data = ctx.api.get(ctx.bot_path("/analytics"), **{"from": since, "to": until})
    st.caption("Answers by source")
    st.bar_chart(
        {"source": list(data["sources"]), "answers": list(data["sources"].values())},
        x="source",
        y="answers",
        height=220,
    )
    cols = st.columns(3)
    cols[0].metric("Latency p50", f"{data['latency_ms']['p50'] or 0:.0f} ms")
    cols[1].metric("Latency p95", f"{data['latency_ms']['p95'] or 0:.0f} ms")
    cols[2].metric("Feedback 👍 / 👎", f"{data['feedback']['up']} / {data['feedback']['down']}")
    offers = data["offers"]
    if offers["made"]:
        st.caption(
            f"Not answered, but FAQs offered {offers['made']}×; the visitor took one"
            f" {offers['taken']}× ({offers['taken'] / offers['made']:.0%}). Knowledge gaps"
            " shows which, to add those phrasings to their FAQ."
        )
    if data["daily"]:
        st.caption("Answers by source, per day")
        st.bar_chart(
            {
                "day": [d["day"] for d in data["daily"]],
                **{s: [d[s] for d in data["daily"]] for s in ("faq", "rag", "cache", "fallback")},
            },
            x="day",
            y=["faq", "rag", "cache", "fallback"],
            height=220,
        )
        st.caption("LLM cost per day (USD)")
        st.line_chart(
            {
                "day": [d["day"] for d in data["daily"]],
                "cost": [d["cost_usd"] for d in data["daily"]],
            },
            x="day",
            y="cost",
            height=180,
        )
    if data["providers"]:
        st.caption("Cost per provider")
        st.dataframe(data["providers"], hide_index=True)
    st.caption("Top questions")
    st.dataframe(data["top_questions"], hide_index=True)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["metric", "value"])
    for key in ("conversations", "messages", "answers"):
        writer.writerow([key, data[key]])
    for source, n in data["sources"].items():
        writer.writerow([f"answers_{source}", n])
    writer.writerow(["latency_p50_ms", data["latency_ms"]["p50"]])
    writer.writerow(["latency_p95_ms", data["latency_ms"]["p95"]])
    writer.writerow(["feedback_up", data["feedback"]["up"]])
    writer.writerow(["feedback_down", data["feedback"]["down"]])
    writer.writerow(["offers_made", offers["made"]])
    writer.writerow(["offers_taken", offers["taken"]])
    for p in data["providers"]:
        writer.writerow([f"cost_usd_{p.get('provider')}", p.get("cost_usd")])
    for d in data["daily"]:
        for key in ("answers", "faq", "rag", "cache", "fallback", "tokens", "cost_usd"):
            writer.writerow([f"{d['day']}_{key}", d[key]])
    st.download_button("Download CSV", out.getvalue(), file_name="analytics.csv", mime="text/csv")
