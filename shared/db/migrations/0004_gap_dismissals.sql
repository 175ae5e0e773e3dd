-- Knowledge gaps an owner dismissed in the dashboard, by a keyed hash of the normalised
-- question (never its text), so they stay dismissed across sessions.
CREATE TABLE IF NOT EXISTS gap_dismissals (
    bot_id        uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    question_hash bytea NOT NULL,
    dismissed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_id, question_hash)
);
