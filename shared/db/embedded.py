"""The embedded PostgreSQL (with pgvector) from the ``pgserver`` package.

Used when ``DATABASE_URL`` is unset: the server's data lives in ``<data-dir>/pg``,
it listens on a Unix socket only, and :meth:`EmbeddedPostgres.stop` shuts it down
cleanly (also called at interpreter exit).
"""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path
from typing import Any

from shared.logging import get_logger

log = get_logger("parley.db.embedded")


def _pgserver() -> Any:
    """Import pgserver late: only the embedded path needs it."""
    with warnings.catch_warnings():
        # platformdirs warns about an unset XDG_RUNTIME_DIR while pgserver imports.
        warnings.simplefilter("ignore")
        try:
            import pgserver
        except ModuleNotFoundError:  # the function image leaves it out: it has DATABASE_URL
            raise EmbeddedDatabaseError(
                "the embedded PostgreSQL is not installed here (pip install pgserver),"
                " so set DATABASE_URL"
            ) from None
        return pgserver


class EmbeddedDatabaseError(Exception):
    """The embedded server could not be started."""


class EmbeddedPostgres:
    def __init__(self, pgdata: Path, *, delete_on_stop: bool = False) -> None:
        self.pgdata = pgdata.expanduser().resolve()
        self._delete_on_stop = delete_on_stop
        self._server: Any = None

    def start(self) -> str:
        """Start (or attach to) the server and return its connection URL."""
        pgserver = _pgserver()
        _forget_dead_handles(self.pgdata)

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._server = pgserver.get_server(
                self.pgdata, cleanup_mode="delete" if self._delete_on_stop else "stop"
            )
        except (subprocess.SubprocessError, OSError, AssertionError) as exc:
            log_file = self.pgdata / "log"
            raise EmbeddedDatabaseError(
                f"could not start the embedded PostgreSQL in {self.pgdata} "
                f"({type(exc).__name__}); see {log_file}"
            ) from None
        url: str = self._server.get_uri()
        log.info("embedded postgres running", pgdata=str(self.pgdata))
        return url

    @property
    def url(self) -> str:
        if self._server is None:
            raise EmbeddedDatabaseError("the embedded server is not started")
        uri: str = self._server.get_uri()
        return uri

    def pg_ctl(self, *args: str) -> None:
        """Run pg_ctl on this server (tests use it to stop and restart PostgreSQL)."""
        _pgserver().pg_ctl(["-w", *args], pgdata=self.pgdata, user=self._server.system_user)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
            log.info("embedded postgres stopped", pgdata=str(self.pgdata))


def _forget_dead_handles(pgdata: Path) -> None:
    """pgserver stops the server when its last handle closes, counting handles by pid.
    A process that was killed never removed its pid, and the server would then never
    be stopped; drop pids that no longer run before taking a handle."""
    import psutil

    handles = pgdata / ".handle_pids.json"
    with _pgserver().PostgresServer._lock:
        if not handles.is_file():
            return
        try:
            pids = json.loads(handles.read_text())
        except (OSError, ValueError):
            pids = []
        alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))
