"""The storage interface. Keys look like ``<tenant-slug>/<bot-slug>/<path>``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass


class StorageError(Exception):
    """The store failed. ``transient`` errors (timeouts, 5xx, throttling) may be retried."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class StoredObject:
    key: str
    etag: str
    size: int


class Storage(ABC):
    """Async object storage; ``name`` identifies the bucket or folder in source URIs."""

    scheme: str
    name: str

    def uri(self, key: str) -> str:
        return f"{self.scheme}://{self.name}/{key}"

    @abstractmethod
    async def get(self, key: str) -> tuple[bytes, StoredObject]:
        """The object's bytes and metadata; StorageError if it is missing or unreadable."""

    @abstractmethod
    async def head(self, key: str) -> StoredObject | None:
        """The object's metadata, or None when it does not exist."""

    @abstractmethod
    async def put(self, key: str, data: bytes, content_type: str) -> StoredObject: ...

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    @abstractmethod
    def list(self, prefix: str = "") -> AsyncIterator[StoredObject]:
        """Every object under ``prefix``."""
