-- Visitors' personal data withheld from remote LLM providers (shared/privacy): on by
-- default; a bot may add its own kinds ([{"kind": "CUSTOMER", "pattern": "KD-\d{6}"}]).
ALTER TABLE bots ADD COLUMN IF NOT EXISTS withhold_personal_data boolean NOT NULL DEFAULT true;
ALTER TABLE bots ADD COLUMN IF NOT EXISTS personal_data_patterns jsonb NOT NULL DEFAULT '[]';

-- A monthly spending cap in the bot's currency (shared/chat/spending.py): null = none.
-- spend_alerted_month: the month whose 80% alert was sent (once a month).
ALTER TABLE bots ADD COLUMN IF NOT EXISTS currency text NOT NULL DEFAULT 'EUR';
ALTER TABLE bots ADD COLUMN IF NOT EXISTS monthly_spend_cap numeric(14, 2)
    CHECK (monthly_spend_cap >= 0);
ALTER TABLE bots ADD COLUMN IF NOT EXISTS spend_alerted_month date;

-- What answers being written may still cost, at most: held before a provider is called and
-- released once the answer's real cost is stored, so that a burst of visitors cannot pass
-- the cap together. A process that dies leaves a hold that simply expires.
CREATE TABLE IF NOT EXISTS spend_holds (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bot_id     uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    cost_usd   numeric(14, 6) NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS spend_holds_bot_idx ON spend_holds (bot_id, expires_at);

-- Notifications are also the spending alert: no conversation, the figures in details.
ALTER TABLE handoff_notifications ALTER COLUMN conversation_id DROP NOT NULL;
ALTER TABLE handoff_notifications ADD COLUMN IF NOT EXISTS event text NOT NULL
    DEFAULT 'conversation.waiting';
ALTER TABLE handoff_notifications ADD COLUMN IF NOT EXISTS details jsonb;
