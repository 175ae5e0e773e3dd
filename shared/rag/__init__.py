"""Retrieval: embeddings, FAQ matching, document retrieval."""
