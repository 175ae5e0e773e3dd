"""What a handler needs at run time: settings, the database, the models, the cache, storage.

Each function's ``app`` is built with an explicit :class:`Runtime` (the local server and
the tests do this) or, in a container or on Lambda, finds the process-wide one that
:func:`default_runtime` builds from the environment on first use. Nothing here is
required to survive between requests: a Runtime can be rebuilt at any time.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from shared.cache import AnswerCache
from shared.chat.service import ChatService
from shared.config import Settings, load_settings
from shared.crypto import Keyring, TenantCipher
from shared.db.embedded import EmbeddedPostgres
from shared.db.pool import Conn, Database
from shared.embeddings.base import Embedder
from shared.embeddings.cached import CachedEmbedder
from shared.embeddings.factory import make_embedder
from shared.handoff.bus import ConversationBus
from shared.llm.base import DEFAULT_DEADLINES, Deadlines
from shared.llm.chain import ProviderChain
from shared.llm.factory import Providers
from shared.llm.pricing import PriceTable
from shared.masterkey import resolve_keyring
from shared.storage.base import Storage
from shared.storage.factory import make_storage
from shared.tenant_keys import tenant_cipher


@dataclass
class Runtime:
    settings: Settings
    db: Database
    keyring: Keyring = field(repr=False)
    embedded: EmbeddedPostgres | None = field(default=None, repr=False)
    embedder: Embedder | None = field(default=None, repr=False)
    answer_cache: AnswerCache | None = field(default=None, repr=False)
    deadlines: Deadlines = field(default=DEFAULT_DEADLINES, repr=False)
    storage: Storage | None = field(default=None, repr=False)
    _ciphers: dict[UUID, TenantCipher] = field(default_factory=dict, repr=False)
    _own_embedder: bool = field(default=False, repr=False)
    _chain: ProviderChain | None = field(default=None, repr=False)
    _chat: ChatService | None = field(default=None, repr=False)
    _bus: ConversationBus | None = field(default=None, repr=False)
    _multilingual: Embedder | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        """Connect to DATABASE_URL, or start the embedded server in ``<data-dir>/pg``."""
        keyring = resolve_keyring(settings)
        embedded = None
        if settings.database_url is not None:
            url = settings.database_url.get_secret_value()
        else:
            embedded = EmbeddedPostgres(settings.data_dir / "pg")
            url = embedded.start()
        db = Database(url, max_size=settings.db_pool_size)
        return cls(settings=settings, db=db, keyring=keyring, embedded=embedded)

    async def cipher(self, conn: Conn, tenant_id: UUID) -> TenantCipher:
        """The tenant's data cipher (its key is created on first use, then cached)."""
        cached = self._ciphers.get(tenant_id)
        if cached is None:
            cached = await tenant_cipher(conn, self.keyring, self.get_storage(), tenant_id)
            self._ciphers[tenant_id] = cached
        return cached

    def forget_cipher(self, tenant_id: UUID) -> None:
        """Drop a deleted tenant's cipher from memory."""
        self._ciphers.pop(tenant_id, None)

    def get_embedder(self) -> Embedder:
        """The deployment's embedding provider, created on first use."""
        if self.embedder is None:
            self._own_embedder = True
            s = self.settings
            self.embedder = make_embedder(
                s.embeddings,
                local_runtime=s.local_runtime,
                model_dir=s.model_dir,
                openai_key=s.openai_api_key.get_secret_value() if s.openai_api_key else None,
                openai_base_url=s.openai_base_url,
                mistral_key=s.mistral_api_key.get_secret_value() if s.mistral_api_key else None,
                mistral_base_url=s.mistral_base_url,
            )
        return self.embedder

    def embedder_for(self, bot: Mapping[str, Any]) -> Embedder:
        """The model a bot's questions and texts are embedded with: the deployment's, unless
        that one does not understand the bot's language (the English default and a German
        bot) and the offline multilingual model does, with vectors of the same size."""
        default = self.get_embedder()
        if default.understands(bot["language"]):
            return default
        if self._multilingual is None:
            from shared.embeddings.multilingual import MultilingualEmbedder

            self._multilingual = CachedEmbedder(MultilingualEmbedder())
        if self._multilingual.dim != default.dim:
            return default
        return self._multilingual

    def get_storage(self) -> Storage:
        """S3 when PARLEY_S3_BUCKET is set, else the local folder <data-dir>/files."""
        if self.storage is None:
            self.storage = make_storage(self.settings)
        return self.storage

    def get_cache(self) -> AnswerCache:
        if self.answer_cache is None:
            self.answer_cache = AnswerCache(self.settings.data_dir / "cache")
        return self.answer_cache

    @functools.cached_property
    def prices(self) -> PriceTable:
        """What tokens cost and what a dollar is worth: built in, then the deployment's."""
        return PriceTable.with_overrides(self.settings.llm_prices, self.settings.currency_rates)

    def get_chain(self) -> ProviderChain:
        """The LLM providers (created on first use) with their breaker and deadlines."""
        if self._chain is None:
            self._chain = ProviderChain(
                Providers(self.settings),
                default_chain=self.settings.llm_chain,
                deadlines=self.deadlines,
                prices=self.prices,
            )
        return self._chain

    def chat_service(self) -> ChatService:
        """The chat service, handed its collaborators once."""
        if self._chat is None:
            self._chat = ChatService(
                embedders=self.embedder_for,
                cache=self.get_cache(),
                chain=self.get_chain(),
                ciphers=self.cipher,
            )
        return self._chat

    def conversation_bus(self) -> ConversationBus:
        """This process's listener for conversation changes, opened on first use."""
        if self._bus is None:
            self._bus = ConversationBus(self.db.url)
        return self._bus

    async def aclose(self) -> None:
        if self._bus is not None:
            await self._bus.aclose()
            self._bus = None
        await self.db.close()
        if self._chain is not None:
            await self._chain.aclose()
            self._chain = None
        self._chat = None
        if self._own_embedder and self.embedder is not None:
            await self.embedder.aclose()
            self.embedder = None
        if self._multilingual is not None:
            await self._multilingual.aclose()
            self._multilingual = None
        if self.answer_cache is not None:
            self.answer_cache.close()
            self.answer_cache = None

    def stop_embedded(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


_default: Runtime | None = None
_default_lock = threading.Lock()


def default_runtime() -> Runtime:
    """The process-wide runtime, built from the environment on first use."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Runtime.from_settings(load_settings())
    return _default
