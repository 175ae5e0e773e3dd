"""Embedding providers behind one interface (``base.Embedder``), one module per backend.

``factory.make_embedder`` builds the configured one wrapped in ``cached.CachedEmbedder``;
SDKs are imported only by the backend that uses them.
"""
