#!/bin/sh
# MinIO's side of ingestion (run once per start by the minio-setup service; safe to rerun):
# the bucket, and its put and delete events sent to the webhook target "parley" that the
# minio service's MINIO_NOTIFY_WEBHOOK_*_PARLEY settings define (the ingest function).
set -eu
: "${MINIO_URL:?}" "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${PARLEY_S3_BUCKET:?}"
mc alias set parley "$MINIO_URL" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "parley/$PARLEY_S3_BUCKET"
# Parley's own objects (archives, keys, exports) live under _parley/ and are not documents;
# ingest ignores them, so one rule for the whole bucket is enough.
if ! mc event list "parley/$PARLEY_S3_BUCKET" arn:minio:sqs::PARLEY:webhook | grep -q PARLEY; then
    mc event add "parley/$PARLEY_S3_BUCKET" arn:minio:sqs::PARLEY:webhook --event put,delete
fi
mc event list "parley/$PARLEY_S3_BUCKET"
