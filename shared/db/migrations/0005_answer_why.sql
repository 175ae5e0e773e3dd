-- Why each answer came from where it did (issue: explainable answers): the rule that
-- decided, the FAQ match's confidence and the threshold it met or missed, the closest
-- passage in the grey zone. Numbers and rule names only, never what the visitor wrote.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS why jsonb;
