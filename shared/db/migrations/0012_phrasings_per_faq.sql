-- How many phrasings (question and alternatives, the owner's and generated) the bot's
-- enabled FAQs have on average: the more a FAQ has, the closer a visitor's question comes to
-- one of them, so the embedding model's FAQ threshold falls with it (shared/rag/faq_match.py,
-- docs/faq-matching.md). Kept by shared.db.bots.bump_kb_version, which every change of a
-- bot's knowledge base calls; NULL until its first (the model's own threshold then applies).
ALTER TABLE bots ADD COLUMN IF NOT EXISTS phrasings_per_faq real;
UPDATE bots b SET phrasings_per_faq = (
    SELECT count(*)::real / nullif(count(DISTINCT p.faq_id), 0)
      FROM faq_phrasings p JOIN faqs f ON f.id = p.faq_id
     WHERE p.bot_id = b.id AND f.enabled
);
