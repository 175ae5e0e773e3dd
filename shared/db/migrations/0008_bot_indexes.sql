-- Bots with many chunks or FAQ phrasings get their own vector (HNSW) and full-text (GIN)
-- indexes, partial on the bot (shared/db/bot_indexes.py creates and drops them). A global
-- HNSW index filtered by bot finds almost nothing for small bots on pgvector 0.6 (DESIGN §4),
-- and an exact scan of 100,000 chunks is too slow for a question; these columns tell the
-- search which way to go.
ALTER TABLE bots ADD COLUMN IF NOT EXISTS chunks_indexed boolean NOT NULL DEFAULT false;
ALTER TABLE bots ADD COLUMN IF NOT EXISTS faqs_indexed boolean NOT NULL DEFAULT false;
