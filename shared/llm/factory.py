"""The deployment's LLM providers by name, each created on first use.

Each provider's module, and so its SDK, is imported only when that provider is first
needed, so a function that never generates never loads one. ``extractive`` is always there.
"""

from __future__ import annotations

from shared.config import Settings
from shared.llm.base import LLMProvider
from shared.llm.extractive import ExtractiveProvider


class Providers:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._made: dict[str, LLMProvider] = {"extractive": ExtractiveProvider()}

    def get(self, name: str) -> LLMProvider | None:
        """The named provider, or None when it has no key configured."""
        if name not in self._made:
            provider = self._make(name)
            if provider is None:
                return None
            self._made[name] = provider
        return self._made[name]

    def _make(self, name: str) -> LLMProvider | None:
        s = self._settings
        if name == "openai" and s.openai_api_key is not None:
            from shared.llm.openai import OpenAIProvider

            return OpenAIProvider(s.openai_api_key.get_secret_value(), s.openai_base_url)
        if name == "mistral" and s.mistral_api_key is not None:
            from shared.llm.mistral import MistralProvider

            return MistralProvider(s.mistral_api_key.get_secret_value(), s.mistral_base_url)
        return None

    def remote_names(self) -> list[str]:
        """The remote providers this deployment can call: those with a key, or registered."""
        names = {"mistral", "openai", *self._made}
        return sorted(n for n in names if (p := self.get(n)) is not None and p.remote)

    def register(self, provider: LLMProvider) -> None:
        """Use ``provider`` under its name (tests and benches bring their own)."""
        self._made[provider.name] = provider

    async def aclose(self) -> None:
        for provider in self._made.values():
            await provider.aclose()
        self._made = {"extractive": ExtractiveProvider()}
