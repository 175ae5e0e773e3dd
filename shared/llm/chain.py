"""A bot's provider chain: try each provider in order until one answers.

A provider is skipped while its circuit breaker is open or when it has no key; one that
fails before anything was shown (timeout, 429, 5xx, network) hands over to the next. A
failure after the first token keeps what was streamed. Over its daily token budget or its
monthly spending cap a bot answers extractively.

Where the bot withholds personal data, a remote provider is sent placeholders for the
visitor's e-mail addresses, phone numbers, IBANs, cards and order numbers, and the answer
streamed to the visitor has the values back (a card only masked).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from shared import metrics
from shared.llm.base import Deadlines, Generation, LLMError, Usage
from shared.llm.breaker import LASTING, CircuitBreaker
from shared.llm.factory import Providers
from shared.llm.leak import REFUSAL as LEAK_REFUSAL
from shared.llm.leak import LeakGuard
from shared.llm.pricing import DEFAULT_PRICES, PriceTable
from shared.llm.prompt import build_messages, cited, system_text
from shared.logging import get_logger
from shared.privacy.detectors import BotPattern
from shared.privacy.placeholders import Placeholders
from shared.rag.retrieve import Passage

log = get_logger("parley.llm")

OnToken = Callable[[str], Awaitable[None]]
MAX_ANSWER_TOKENS = 400
# What Parley streams and stores of one answer, whatever the provider sends: 400 tokens are
# about 1,600 characters, so this only ever cuts a provider that ignores max_tokens.
MAX_ANSWER_CHARS = 8_000


def clean_text(piece: str) -> str:
    """``piece`` as valid Unicode: a lone surrogate (which no UTF-8 encoder takes, so it
    would break the stream or the stored message) becomes U+FFFD."""
    return piece.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


@dataclass
class Generated:
    text: str
    passages: list[Passage]  # the cited ones, or all of them when none is cited
    provider: str
    model: str
    usage: Usage
    ttft_ms: int | None
    errors: list[str] = field(default_factory=list)
    cost_usd: float = 0.0
    withheld: dict[str, int] = field(default_factory=dict)  # kinds of personal data, counted
    personal: bool = False  # the answer holds a value of the visitor's, put back


@dataclass(frozen=True)
class Asked:
    """A remote provider's reply to a prompt of Parley's own."""

    text: str
    provider: str
    model: str
    usage: Usage
    cost_usd: float


class AllProvidersFailedError(Exception):
    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors) or "no provider")


class ProviderChain:
    def __init__(
        self,
        providers: Providers,
        *,
        default_chain: Sequence[str],
        deadlines: Deadlines,
        breaker: CircuitBreaker | None = None,
        prices: PriceTable = DEFAULT_PRICES,
    ) -> None:
        self.providers = providers
        self.default_chain = list(default_chain)
        self.deadlines = deadlines
        self.breaker = breaker or CircuitBreaker()
        self.prices = prices

    def names(self, bot_chain: Sequence[str] | None, *, over_budget: bool) -> list[str]:
        return ["extractive"] if over_budget else list(bot_chain or self.default_chain)

    def worst_cost_usd(
        self, request: Generation, *, names: Sequence[str], first_model: str | None
    ) -> float:
        """The most one answer to ``request`` can cost, whichever provider of ``names``
        gives it: every character of the prompt a token, and the longest answer."""
        prompt = [{"content": m.content} for m in build_messages(request)]
        return self.worst_prompt_cost_usd(
            prompt, MAX_ANSWER_TOKENS, names=names, first_model=first_model
        )

    def worst_prompt_cost_usd(
        self,
        messages: Sequence[dict[str, str]],
        max_tokens: int,
        *,
        names: Sequence[str],
        first_model: str | None,
    ) -> float:
        """The most a reply of up to ``max_tokens`` to ``messages`` can cost, whichever
        remote provider of ``names`` gives it (every character of the prompt a token)."""
        tokens_in = sum(len(m["content"]) for m in messages)
        most = 0.0
        for position, name in enumerate(names):
            provider = self.providers.get(name)
            if provider is None or not provider.remote:
                continue
            model = first_model if position == 0 and first_model else provider.default_model
            most = max(most, self.prices.cost_usd(model, tokens_in, max_tokens))
        return most

    async def generate(
        self,
        request: Generation,
        *,
        names: Sequence[str],
        first_model: str | None,
        on_token: OnToken | None,
        withhold: Sequence[BotPattern] | None = None,
    ) -> Generated:
        """The first answer a provider gives. ``withhold``: the bot's own personal-data
        patterns (besides the built-in ones) when remote providers get placeholders; None
        when they get the visitor's words as they are. Raises AllProvidersFailedError, or
        NotInSources from a provider that found no answer in the passages."""
        errors: list[str] = []
        for position, name in enumerate(names):
            provider = self.providers.get(name)
            if provider is None or not self.breaker.available(name):
                continue
            model = first_model if position == 0 and first_model else provider.default_model
            pieces: list[str] = []
            started = time.perf_counter()
            ttft: int | None = None
            used = Usage(0, 0)
            room = MAX_ANSWER_CHARS
            hidden = Placeholders(withhold) if withhold is not None and provider.remote else None
            sent = hidden.hide_request(request) if hidden else request
            revealer = hidden.revealing() if hidden else None
            guard = LeakGuard(system_text(sent))
            stream = provider.stream(
                sent, model=model, max_tokens=MAX_ANSWER_TOKENS, deadlines=self.deadlines
            )
            try:
                async for item in stream:
                    if isinstance(item, Usage):
                        used = item
                        continue
                    if ttft is None:
                        ttft = int((time.perf_counter() - started) * 1000)
                    piece = clean_text(item)[:room]
                    room -= len(piece)
                    if room <= 0:  # the provider ignored max_tokens: stop reading, say so
                        piece += " …"
                        log.warning("llm answer cut off", provider=name, chars=MAX_ANSWER_CHARS)
                    pieces.append(piece)
                    shown = guard.feed(piece)
                    if guard.leaked:
                        break
                    if revealer is not None:
                        shown = revealer.feed(shown)
                    if shown and on_token is not None:
                        await on_token(shown)
                    if room <= 0:
                        break
            except LLMError as exc:
                errors.append(self._failed(name, exc))
                if not pieces:
                    continue  # nothing shown yet: fall over to the next provider
            else:
                self.breaker.record_success(name)
            finally:
                closing = getattr(stream, "aclose", None)
                if closing is not None:  # an answer cut short closes the provider's stream
                    # closing is cleanup: a provider failing at it changes nothing shown
                    with contextlib.suppress(Exception):
                        await closing()
            # The held tail goes out too when the stream broke after the first token: the
            # visitor is shown the same text that is stored.
            rest = guard.finish()
            if revealer is not None and not guard.leaked:
                rest = revealer.feed(rest) + revealer.finish()
            if rest and on_token is not None:
                await on_token(rest)
            cost = self._spent(name, model, used, started, ttft)
            if guard.leaked:  # nothing of the prompt was shown; the visitor gets a refusal
                log.warning("llm answer repeated the prompt; withheld", provider=name)
                withheld = [*errors, f"{name}: answer withheld (it repeated the prompt)"]
                return Generated(LEAK_REFUSAL, [], name, model, used, ttft, withheld, cost)
            text = "".join(pieces).strip()
            if not text:
                errors.append(f"{name}: empty answer")
                continue
            passages = list(request.passages)
            used_passages = [passages[i] for i in cited(text, len(passages))] or passages
            if hidden is not None:
                text = hidden.reveal(text)  # what the visitor was shown
            return Generated(
                text,
                used_passages,
                name,
                model,
                used,
                ttft,
                errors,
                cost,
                withheld=hidden.kinds if hidden else {},
                personal=hidden is not None and hidden.revealed,
            )
        raise AllProvidersFailedError(errors)

    def remote(self, names: Sequence[str]) -> list[str]:
        """Those of ``names`` that are remote providers configured here."""
        return [n for n in names if (p := self.providers.get(n)) is not None and p.remote]

    async def ask(
        self,
        messages: Sequence[dict[str, str]],
        *,
        names: Sequence[str],
        first_model: str | None,
        max_tokens: int,
        deadlines: Deadlines | None = None,
    ) -> Asked:
        """The first reply a remote provider of ``names`` gives to a prompt of Parley's own
        (a FAQ's paraphrases, a grey-zone check; nothing streamed to anyone, and a visitor's
        personal data withheld by the caller), with the same breakers and fall-over as
        answers, within ``deadlines`` (the chain's own by default). Raises
        AllProvidersFailedError."""
        deadlines = deadlines or self.deadlines
        errors: list[str] = []
        for position, name in enumerate(names):
            provider = self.providers.get(name)
            if provider is None or not provider.remote or not self.breaker.available(name):
                continue
            model = first_model if position == 0 and first_model else provider.default_model
            pieces: list[str] = []
            used = Usage(0, 0)
            started = time.perf_counter()
            try:
                async for item in provider.stream_messages(
                    messages, model=model, max_tokens=max_tokens, deadlines=deadlines
                ):
                    if isinstance(item, Usage):
                        used = item
                    else:
                        pieces.append(clean_text(item))
            except LLMError as exc:
                errors.append(self._failed(name, exc))
                continue
            self.breaker.record_success(name)
            cost = self._spent(name, model, used, started, None)
            text = "".join(pieces).strip()
            if text:
                return Asked(text, name, model, used, cost)
            errors.append(f"{name}: empty answer")
        raise AllProvidersFailedError(errors)

    def _failed(self, name: str, exc: LLMError) -> str:
        """Count a provider's failure (its breaker, the metrics, the log); what it says."""
        self.breaker.record_failure(name, exc.kind)
        metrics.LLM_FAILURES.labels(name, exc.kind).inc()
        if exc.kind in LASTING:  # an operator must act: a key or billing problem
            log.error("llm provider refuses", provider=name, kind=exc.kind)
        else:
            log.warning("llm provider failed", provider=name, kind=exc.kind)
        return str(exc)

    def _spent(
        self, name: str, model: str, used: Usage, started: float, ttft_ms: int | None
    ) -> float:
        """What a reply cost, recorded in the metrics with its time and tokens."""
        cost = self.prices.cost_usd(model, used.tokens_in, used.tokens_out)
        metrics.record_generation(
            name,
            seconds=time.perf_counter() - started,
            ttft_ms=ttft_ms,
            tokens=(used.tokens_in, used.tokens_out),
            cost_usd=cost,
        )
        return cost

    async def aclose(self) -> None:
        await self.providers.aclose()
