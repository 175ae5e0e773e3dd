"""What answers cost: list prices per model in US dollars per million tokens (in, out), and
rates to the currency a bot's spending cap is kept in.

Both tables are built in and extended or overridden by the deployment
(``PARLEY_LLM_PRICES``, ``PARLEY_CURRENCY_RATES``); a model without a price costs 0, so a
bot on it never reaches a cap (the README says to add its price).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "openai/gpt-4o-mini": (0.15, 0.60),
    "mistral-small-latest": (0.10, 0.30),
    "mistral-small-2503": (0.10, 0.30),
    "mistralai/mistral-small-3.1-24b-instruct": (0.10, 0.30),
}
# Units of a currency per US dollar (mid-2026 reference rates; set your own).
RATES: dict[str, float] = {"USD": 1.0, "EUR": 0.86, "GBP": 0.74, "CHF": 0.80}


@dataclass(frozen=True)
class PriceTable:
    prices: Mapping[str, tuple[float, float]] = field(default_factory=lambda: dict(PRICES))
    rates: Mapping[str, float] = field(default_factory=lambda: dict(RATES))

    @classmethod
    def with_overrides(
        cls, prices: Mapping[str, tuple[float, float]], rates: Mapping[str, float]
    ) -> PriceTable:
        return cls({**PRICES, **prices}, {**RATES, **rates})

    def cost_usd(self, model: str, tokens_in: int, tokens_out: int) -> float:
        price_in, price_out = self.prices.get(model, (0.0, 0.0))
        return round((tokens_in * price_in + tokens_out * price_out) / 1_000_000, 6)

    def rate(self, currency: str) -> float:
        """Units of ``currency`` per US dollar. The admin API refuses a currency without a
        rate; one whose rate a deployment removed later counts as US dollars."""
        return self.rates.get(currency.upper(), 1.0)


DEFAULT_PRICES = PriceTable()
