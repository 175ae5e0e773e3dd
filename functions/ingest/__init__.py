"""Ingestion: S3 events and polling -> parse -> chunk -> embed -> index; log archiving."""
