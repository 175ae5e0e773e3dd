-- A bot whose chain has an LLM asks it about grey-zone FAQ matches (shared/chat/faq_check.py):
-- on by default; the owner may turn it off (each check is a provider round trip before the
-- answer of a question that ends up answered from the documents).
ALTER TABLE bots ADD COLUMN IF NOT EXISTS check_faq_matches boolean NOT NULL DEFAULT true;
