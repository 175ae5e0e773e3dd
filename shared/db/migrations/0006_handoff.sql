-- Human handoff (issue: a visitor reaches a person). A conversation is answered by the bot,
-- waits for a person, is handled by one, or is closed; who wrote each operator message is
-- kept with it. The name a visitor leaves is encrypted like the contact beside it.

ALTER TABLE conversations ADD COLUMN IF NOT EXISTS state text NOT NULL DEFAULT 'bot'
    CHECK (state IN ('bot', 'waiting', 'human', 'closed'));
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS waiting_since timestamptz;
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS assigned_user_id uuid
    REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS assigned_name text;
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS visitor_name_enc bytea;
-- The inbox: conversations waiting for or handled by a person, per tenant.
CREATE INDEX IF NOT EXISTS conversations_inbox_idx ON conversations (tenant_id, waiting_since)
    WHERE state IN ('waiting', 'human');

ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_role_check;
ALTER TABLE messages ADD CONSTRAINT messages_role_check
    CHECK (role IN ('user', 'assistant', 'operator'));
ALTER TABLE messages ADD COLUMN IF NOT EXISTS operator_id uuid;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS operator_name text;
-- What a client that missed messages asks for: those after one it has, in order.
CREATE INDEX IF NOT EXISTS messages_conversation_order_idx
    ON messages (conversation_id, created_at, id);

-- Per bot: whether visitors may ask for a person, when someone is there, and who is told
-- that a visitor waits (a signed webhook, an e-mail). The webhook's signing secret is
-- stored encrypted under the tenant's key and never returned by the API.
ALTER TABLE bots ADD COLUMN IF NOT EXISTS handoff_enabled boolean NOT NULL DEFAULT true;
ALTER TABLE bots ADD COLUMN IF NOT EXISTS business_hours jsonb;
ALTER TABLE bots ADD COLUMN IF NOT EXISTS handoff_webhook_url text;
ALTER TABLE bots ADD COLUMN IF NOT EXISTS handoff_webhook_secret_enc bytea;
ALTER TABLE bots ADD COLUMN IF NOT EXISTS handoff_email text;

-- Notifications to send, sent in the background and retried with back-off; they carry
-- ids only, so a row here holds nothing a visitor wrote.
CREATE TABLE IF NOT EXISTS handoff_notifications (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bot_id          uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    channel         text NOT NULL CHECK (channel IN ('webhook', 'email')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS handoff_notifications_due_idx
    ON handoff_notifications (next_attempt_at) WHERE delivered_at IS NULL;
