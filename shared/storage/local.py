"""A local folder with the storage interface (the embedded default: <data-dir>/files)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from shared.storage.base import Storage, StorageError, StoredObject


class LocalStorage(Storage):
    scheme = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.name = "files"

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or not key or key.endswith("/"):
            raise StorageError(f"invalid key {key!r}", transient=False)
        return path

    @staticmethod
    def _meta(key: str, data: bytes) -> StoredObject:
        return StoredObject(key, hashlib.md5(data, usedforsecurity=False).hexdigest(), len(data))

    async def get(self, key: str) -> tuple[bytes, StoredObject]:
        try:
            data = await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            raise StorageError(f"no object {key!r}", transient=False) from None
        return data, self._meta(key, data)

    async def head(self, key: str) -> StoredObject | None:
        try:
            _, meta = await self.get(key)
        except StorageError:
            return None
        return meta

    async def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(data)
            os.replace(tmp, path)

        await asyncio.to_thread(write)
        return self._meta(key, data)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def list(self, prefix: str = "") -> AsyncIterator[StoredObject]:
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.endswith(".part"):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield self._meta(key, path.read_bytes())
