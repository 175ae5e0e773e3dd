"""Cost of tokens in US dollars per million, by model (list prices; unknown models cost 0)."""

from __future__ import annotations

PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "openai/gpt-4o-mini": (0.15, 0.60),
    "mistral-small-latest": (0.10, 0.30),
    "mistral-small-2503": (0.10, 0.30),
    "mistralai/mistral-small-3.1-24b-instruct": (0.10, 0.30),
}


def cost_usd(model: str, tokens_in: int, tokens_out: int) -> float:
    price_in, price_out = PRICES.get(model, (0.0, 0.0))
    return round((tokens_in * price_in + tokens_out * price_out) / 1_000_000, 6)
