-- Paraphrases of a FAQ's question written by the bot's LLM (shared/faq_paraphrase.py),
-- matched like the owner's alternatives: NULL = not written yet (the paraphrase job's work
-- list); an empty array = none (none came back, or the owner removed them all). A changed
-- question sets it back to NULL, so the new question is paraphrased.
ALTER TABLE faqs ADD COLUMN IF NOT EXISTS generated_alternatives text[];
CREATE INDEX IF NOT EXISTS faqs_unparaphrased_idx
    ON faqs (created_at) WHERE generated_alternatives IS NULL;
-- The bot's owner may keep its LLM from writing them (on by default, where it has an LLM).
ALTER TABLE bots ADD COLUMN IF NOT EXISTS paraphrase_faqs boolean NOT NULL DEFAULT true;
