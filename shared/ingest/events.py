"""S3 event notifications (S3, MinIO webhooks, Lambda triggers) as typed records.

Keys arrive URL-encoded (a space as ``+``) and are decoded here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus


@dataclass(frozen=True)
class S3Record:
    event_name: str
    bucket: str
    key: str
    etag: str | None
    sequencer: str | None

    @property
    def removed(self) -> bool:
        return self.event_name.startswith(("ObjectRemoved", "s3:ObjectRemoved"))


def is_s3_notification(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list) or not records:
        return False
    return all(
        isinstance(r, Mapping) and r.get("eventSource") in ("aws:s3", "minio:s3") and "s3" in r
        for r in records
    )


def s3_records(event: Mapping[str, Any]) -> Iterator[S3Record]:
    """Every record of a notification; malformed records raise ValueError."""
    for record in event.get("Records", []):
        try:
            s3 = record["s3"]
            obj = s3["object"]
            yield S3Record(
                event_name=str(record.get("eventName", "")),
                bucket=str(s3["bucket"]["name"]),
                key=unquote_plus(str(obj["key"])),
                etag=str(obj["eTag"]).strip('"') if obj.get("eTag") else None,
                sequencer=obj.get("sequencer"),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not an S3 event record ({exc})") from None
