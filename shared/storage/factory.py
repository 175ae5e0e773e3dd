"""The deployment's object storage from its settings."""

from __future__ import annotations

from shared.config import Settings
from shared.storage.base import Storage
from shared.storage.local import LocalStorage


def make_storage(settings: Settings) -> Storage:
    """S3 when PARLEY_S3_BUCKET is set, else the local folder <data-dir>/files."""
    if settings.s3_bucket:
        from shared.storage.s3 import S3Storage  # boto3 only where a bucket is used

        return S3Storage(
            settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region
        )
    return LocalStorage(settings.data_dir / "files")
