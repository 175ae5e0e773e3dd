"""What a handler needs at run time: settings and the database (later: cache, models, storage).

Each function's ``app`` is built with an explicit :class:`Runtime` (the local server and
the tests do this) or, in a container or on Lambda, finds the process-wide one that
:func:`default_runtime` builds from the environment on first use. Nothing here is
required to survive between requests: a Runtime can be rebuilt at any time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from shared.config import Settings, load_settings
from shared.db.embedded import EmbeddedPostgres
from shared.db.pool import Database
from shared.masterkey import resolve_master_key


@dataclass
class Runtime:
    settings: Settings
    db: Database
    master_key: bytes = field(repr=False)
    embedded: EmbeddedPostgres | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        """Connect to DATABASE_URL, or start the embedded server in ``<data-dir>/pg``."""
        master_key = resolve_master_key(settings)
        embedded = None
        if settings.database_url is not None:
            url = settings.database_url.get_secret_value()
        else:
            embedded = EmbeddedPostgres(settings.data_dir / "pg")
            url = embedded.start()
        return cls(settings=settings, db=Database(url), master_key=master_key, embedded=embedded)

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
