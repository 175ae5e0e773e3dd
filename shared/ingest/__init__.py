"""Ingestion: storage objects -> parsed documents or FAQs -> chunks -> embeddings -> index."""
