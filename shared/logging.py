"""Structured JSON logs: one object a line, with the request id on every line.

Use :func:`get_logger` and pass fields as keyword arguments::

    log = get_logger("parley.chat")
    log.info("answered", source="faq", latency_ms=4)

Fields whose names look like secrets are redacted before they are written, so a
careless ``log.info("x", api_key=key)`` still never leaks the key.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "parley_request_id", default=None
)
_log_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "parley_log_context", default=None
)

_SENSITIVE = ("password", "secret", "token", "key", "authorization", "cookie", "message_text")
REDACTED = "[redacted]"


def is_sensitive(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in _SENSITIVE)


def redact(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: (REDACTED if is_sensitive(k) else v) for k, v in fields.items()}


@contextlib.contextmanager
def request_context(request_id: str) -> Iterator[None]:
    """Tag every log line written inside with ``request_id``; fields added with
    :func:`append_keys` last until the block ends."""
    id_token = request_id_var.set(request_id)
    fields_token = _log_context.set(None)
    try:
        yield
    finally:
        _log_context.reset(fields_token)
        request_id_var.reset(id_token)


def append_keys(**fields: Any) -> None:
    """Add fields (e.g. tenant_id) to every log line of the current request."""
    current = dict(_log_context.get() or {})
    current.update(fields)
    _log_context.set(current)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update(redact(_log_context.get() or {}))
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(redact(fields))
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: exception messages can carry request data.
            entry["exc_type"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str, ensure_ascii=False)


class Logger:
    """A thin wrapper that takes fields as keyword arguments."""

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(name)

    def _log(self, level: int, msg: str, exc_info: bool, fields: dict[str, Any]) -> None:
        if self._logger.isEnabledFor(level):
            self._logger.log(level, msg, exc_info=exc_info, extra={"fields": fields})

    def debug(self, msg: str, **fields: Any) -> None:
        self._log(logging.DEBUG, msg, False, fields)

    def info(self, msg: str, **fields: Any) -> None:
        self._log(logging.INFO, msg, False, fields)

    def warning(self, msg: str, **fields: Any) -> None:
        self._log(logging.WARNING, msg, False, fields)

    def error(self, msg: str, **fields: Any) -> None:
        self._log(logging.ERROR, msg, False, fields)

    def exception(self, msg: str, **fields: Any) -> None:
        self._log(logging.ERROR, msg, True, fields)


def get_logger(name: str) -> Logger:
    return Logger(name)


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    """Send every ``parley.*`` logger to one JSON stream (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("parley")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    for name in ("uvicorn", "uvicorn.error"):
        server_logger = logging.getLogger(name)
        server_logger.handlers[:] = [handler]
        server_logger.setLevel("WARNING")
        server_logger.propagate = False
