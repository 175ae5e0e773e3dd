"""Any S3-compatible store (AWS, Hetzner Object Storage, MinIO) through boto3."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.storage.base import Storage, StorageError, StoredObject

_TRANSIENT_CODES = {
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
    "Throttling",
    "ThrottlingException",
    "503",
    "500",
}


def _error(exc: Exception, what: str) -> StorageError:
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        transient = code in _TRANSIENT_CODES or status >= 500
        return StorageError(f"S3 {what} failed: {code or status}", transient=transient)
    return StorageError(f"S3 {what} failed: {type(exc).__name__}", transient=True)


class S3Storage(Storage):
    scheme = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any = None,
    ) -> None:
        self.name = bucket
        self._client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2}),
        )

    async def _call(self, what: str, method: str, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(
                getattr(self._client, method), Bucket=self.name, **kwargs
            )
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc, what) from None

    async def get(self, key: str) -> tuple[bytes, StoredObject]:
        try:
            response = await self._call("get", "get_object", Key=key)
        except StorageError as exc:
            if "NoSuchKey" in str(exc) or "404" in str(exc):
                raise StorageError(f"no object {key!r}", transient=False) from None
            raise
        data: bytes = await asyncio.to_thread(response["Body"].read)
        return data, StoredObject(key, response["ETag"].strip('"'), len(data))

    async def head(self, key: str) -> StoredObject | None:
        try:
            response = await self._call("head", "head_object", Key=key)
        except StorageError as exc:
            if not exc.transient:
                return None
            raise
        return StoredObject(key, response["ETag"].strip('"'), int(response["ContentLength"]))

    async def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        response = await self._call(
            "put", "put_object", Key=key, Body=data, ContentType=content_type
        )
        return StoredObject(key, response["ETag"].strip('"'), len(data))

    async def delete(self, key: str) -> None:
        await self._call("delete", "delete_object", Key=key)

    async def list(self, prefix: str = "") -> AsyncIterator[StoredObject]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page = await self._call("list", "list_objects_v2", **kwargs)
            for item in page.get("Contents", []):
                yield StoredObject(item["Key"], item["ETag"].strip('"'), int(item["Size"]))
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")
