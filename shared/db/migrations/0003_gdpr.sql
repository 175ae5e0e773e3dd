-- GDPR requests (functions/gdpr, shared/gdpr): receipts with a deadline, the subject kept
-- only as a keyed hash; while a request is unfinished its subject is also kept sealed under
-- the tenant's key, so a re-run can finish it, and that copy is dropped on completion.

ALTER TABLE gdpr_requests DROP CONSTRAINT IF EXISTS gdpr_requests_kind_check;
ALTER TABLE gdpr_requests ADD CONSTRAINT gdpr_requests_kind_check
    CHECK (kind IN ('erasure', 'export', 'offboarding'));

ALTER TABLE gdpr_requests DROP CONSTRAINT IF EXISTS gdpr_requests_status_check;
UPDATE gdpr_requests SET status = CASE status
    WHEN 'pending' THEN 'received' WHEN 'running' THEN 'in_progress'
    WHEN 'done' THEN 'completed' ELSE status END;
ALTER TABLE gdpr_requests ALTER COLUMN status SET DEFAULT 'received';
ALTER TABLE gdpr_requests ADD CONSTRAINT gdpr_requests_status_check
    CHECK (status IN ('received', 'in_progress', 'completed', 'failed'));

ALTER TABLE gdpr_requests ADD COLUMN IF NOT EXISTS subject_kind text
    CHECK (subject_kind IN ('visitor', 'conversation', 'contact', 'tenant'));
ALTER TABLE gdpr_requests ADD COLUMN IF NOT EXISTS subject_sealed bytea;
ALTER TABLE gdpr_requests ADD COLUMN IF NOT EXISTS deadline timestamptz;
UPDATE gdpr_requests SET deadline = created_at + interval '1 month' WHERE deadline IS NULL;
ALTER TABLE gdpr_requests ALTER COLUMN deadline SET DEFAULT now() + interval '1 month';
ALTER TABLE gdpr_requests ALTER COLUMN deadline SET NOT NULL;
ALTER TABLE gdpr_requests ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
-- An export too large to answer inline: where it waits, sealed, and until when.
ALTER TABLE gdpr_requests ADD COLUMN IF NOT EXISTS export_key text;
ALTER TABLE gdpr_requests ADD COLUMN IF NOT EXISTS export_expires_at timestamptz;
CREATE INDEX IF NOT EXISTS gdpr_requests_open_idx ON gdpr_requests (status)
    WHERE status IN ('received', 'in_progress');
CREATE INDEX IF NOT EXISTS gdpr_requests_export_idx ON gdpr_requests (export_expires_at)
    WHERE export_key IS NOT NULL;

-- A contact a visitor left (e-mail), found by its keyed hash, never stored in clear.
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS contact_hash bytea;
CREATE INDEX IF NOT EXISTS conversations_contact_idx ON conversations (tenant_id, contact_hash)
    WHERE contact_hash IS NOT NULL;

-- Which archive object holds which conversation, by keyed hashes only, so an erasure or
-- an export opens just the objects that hold the subject. Archives written before this
-- index existed (indexed = false) are read once and indexed on the first request.
ALTER TABLE archives ADD COLUMN IF NOT EXISTS indexed boolean NOT NULL DEFAULT false;
CREATE TABLE IF NOT EXISTS archive_conversations (
    archive_id      uuid NOT NULL REFERENCES archives (id) ON DELETE CASCADE,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    conversation_id uuid NOT NULL,
    visitor_hash    bytea NOT NULL,
    contact_hash    bytea,
    PRIMARY KEY (archive_id, conversation_id)
);
CREATE INDEX IF NOT EXISTS archive_conversations_visitor_idx
    ON archive_conversations (tenant_id, visitor_hash);
CREATE INDEX IF NOT EXISTS archive_conversations_conversation_idx
    ON archive_conversations (conversation_id);
CREATE INDEX IF NOT EXISTS archive_conversations_contact_idx
    ON archive_conversations (tenant_id, contact_hash) WHERE contact_hash IS NOT NULL;

-- A visitor's request made with a token that did not prove the visitor id: recorded (the
-- shop sees it), answered like an unknown visitor, and nothing is erased or exported.
ALTER TABLE gdpr_requests ADD COLUMN IF NOT EXISTS verified boolean NOT NULL DEFAULT true;

-- Crypto-shredding that reaches backups: a tenant's data key is wrapped by a per-tenant
-- key-encryption key kept in object storage (``_parley/keys/<tenant>/<kek_id>.key``) as well
-- as by the master key. Offboarding deletes the KEK object, so the wrapped key in any
-- database backup no longer opens. Keys made before this have no KEK until first use.
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS kek_id text;
