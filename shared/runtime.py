"""What a handler needs at run time: settings and the database (later: cache, models, storage).

Each function's ``app`` is built with an explicit :class:`Runtime` (the local server and
the tests do this) or, in a container or on Lambda, finds the process-wide one that
:func:`default_runtime` builds from the environment on first use. Nothing here is
required to survive between requests: a Runtime can be rebuilt at any time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from uuid import UUID

from shared.config import Settings, load_settings
from shared.crypto import Keyring, TenantCipher
from shared.db import tenants
from shared.db.embedded import EmbeddedPostgres
from shared.db.pool import Conn, Database
from shared.masterkey import resolve_keyring


@dataclass
class Runtime:
    settings: Settings
    db: Database
    keyring: Keyring = field(repr=False)
    embedded: EmbeddedPostgres | None = field(default=None, repr=False)
    _ciphers: dict[UUID, TenantCipher] = field(default_factory=dict, repr=False)

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
        return cls(settings=settings, db=Database(url), keyring=keyring, embedded=embedded)

    async def cipher(self, conn: Conn, tenant_id: UUID) -> TenantCipher:
        """The tenant's data cipher (its key is created on first use, then cached)."""
        cached = self._ciphers.get(tenant_id)
        if cached is None:
            data_key = await tenants.data_key(conn, self.keyring, tenant_id=tenant_id)
            cached = self._ciphers[tenant_id] = TenantCipher(tenant_id, data_key)
        return cached

    async def aclose(self) -> None:
        await self.db.close()

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
