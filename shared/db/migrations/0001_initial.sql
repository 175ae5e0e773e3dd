-- Parley's schema (DESIGN.md §4). Safe to run twice: every statement is IF NOT EXISTS.
--
-- Retrieval indexes, on purpose: embeddings and full-text are searched per bot by an
-- exact scan of that bot's rows, reached through a btree on bot_id. A global HNSW index
-- filtered by bot returns almost nothing when the bot owns a small share of the rows,
-- and a global GIN index makes the planner walk every bot's postings. Large bots get
-- per-bot partial indexes later; none are global.

CREATE EXTENSION IF NOT EXISTS vector;

-- One row: facts fixed for the whole deployment.
CREATE TABLE IF NOT EXISTS deployment (
    id               boolean PRIMARY KEY DEFAULT true CHECK (id),
    embedding_model  text,
    embedding_dim    integer CHECK (embedding_dim > 0),
    master_key_id    text,
    master_key_check bytea,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS tenants (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug             text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    data_key_wrapped bytea,
    master_key_id    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS users (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username       text NOT NULL CHECK (length(username) BETWEEN 1 AND 100),
    password_hash  text NOT NULL,
    role           text NOT NULL CHECK (role IN ('admin', 'saas_user')),
    tenant_id      uuid REFERENCES tenants (id) ON DELETE CASCADE,
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz,
    CHECK (role = 'admin' OR tenant_id IS NOT NULL)
);
CREATE UNIQUE INDEX IF NOT EXISTS users_username_key ON users (lower(username));
CREATE INDEX IF NOT EXISTS users_tenant_idx ON users (tenant_id);

CREATE TABLE IF NOT EXISTS sessions (
    token_hash   bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sessions_user_idx ON sessions (user_id);
CREATE INDEX IF NOT EXISTS sessions_expires_idx ON sessions (expires_at);

CREATE TABLE IF NOT EXISTS bots (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    slug                 text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    allowed_origins      text[] NOT NULL DEFAULT '{}',
    language             text NOT NULL DEFAULT 'en',
    text_search_config   regconfig NOT NULL DEFAULT 'english',
    instructions         text NOT NULL DEFAULT '',
    llm_chain            text[],
    llm_model            text,
    faq_threshold        real CHECK (faq_threshold BETWEEN 0 AND 1),
    rate_limit_per_minute integer CHECK (rate_limit_per_minute > 0),
    daily_token_budget   bigint CHECK (daily_token_budget >= 0),
    retention_days       integer CHECK (retention_days > 0),
    display              jsonb NOT NULL DEFAULT '{}',
    kb_version           bigint NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, slug)
);

CREATE TABLE IF NOT EXISTS api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    bot_id       uuid REFERENCES bots (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('publishable', 'secret')),
    role         text NOT NULL CHECK (role IN ('guest', 'saas_user', 'admin')),
    name         text NOT NULL DEFAULT '',
    prefix       text NOT NULL UNIQUE,
    key_hash     bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    CHECK ((kind = 'publishable' AND role = 'guest' AND bot_id IS NOT NULL)
        OR (kind = 'secret' AND role IN ('saas_user', 'admin')))
);
CREATE INDEX IF NOT EXISTS api_keys_tenant_idx ON api_keys (tenant_id);
CREATE INDEX IF NOT EXISTS api_keys_bot_idx ON api_keys (bot_id);

CREATE TABLE IF NOT EXISTS documents (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid REFERENCES tenants (id) ON DELETE CASCADE,
    bot_id       uuid REFERENCES bots (id) ON DELETE CASCADE,
    source_uri   text NOT NULL UNIQUE,
    etag         text,
    version_id   text,
    sequencer    text,
    title        text NOT NULL DEFAULT '',
    mime         text,
    size_bytes   bigint,
    kind         text NOT NULL DEFAULT 'document' CHECK (kind IN ('document', 'faq_file')),
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'processing', 'ready', 'failed')),
    error        text,
    attempts     integer NOT NULL DEFAULT 0,
    chunk_count  integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    indexed_at   timestamptz,
    CHECK (bot_id IS NOT NULL OR status = 'failed')
);
CREATE INDEX IF NOT EXISTS documents_bot_idx ON documents (bot_id, created_at);
CREATE INDEX IF NOT EXISTS documents_tenant_idx ON documents (tenant_id);
CREATE INDEX IF NOT EXISTS documents_status_idx ON documents (status) WHERE status <> 'ready';

CREATE TABLE IF NOT EXISTS faqs (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    bot_id             uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    question           text NOT NULL CHECK (length(question) BETWEEN 1 AND 1000),
    alternatives       text[] NOT NULL DEFAULT '{}',
    answer             text NOT NULL CHECK (length(answer) BETWEEN 1 AND 10000),
    enabled            boolean NOT NULL DEFAULT true,
    hits               bigint NOT NULL DEFAULT 0,
    source_document_id uuid REFERENCES documents (id) ON DELETE CASCADE,
    external_id        text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS faqs_bot_idx ON faqs (bot_id, created_at);
CREATE INDEX IF NOT EXISTS faqs_tenant_idx ON faqs (tenant_id);
CREATE INDEX IF NOT EXISTS faqs_document_idx ON faqs (source_document_id);
CREATE UNIQUE INDEX IF NOT EXISTS faqs_external_key ON faqs (bot_id, external_id);

-- A FAQ's question and each alternative phrasing, embedded and indexed on its own,
-- so a visitor's wording is matched against every phrasing the owner gave.
CREATE TABLE IF NOT EXISTS faq_phrasings (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    faq_id     uuid NOT NULL REFERENCES faqs (id) ON DELETE CASCADE,
    bot_id     uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    ord        integer NOT NULL,
    text       text NOT NULL,
    embedding  vector,
    tsv        tsvector NOT NULL,
    UNIQUE (faq_id, ord)
);
CREATE INDEX IF NOT EXISTS faq_phrasings_bot_idx ON faq_phrasings (bot_id);

CREATE TABLE IF NOT EXISTS chunks (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    bot_id      uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    ord         integer NOT NULL,
    text        text NOT NULL,
    heading     text NOT NULL DEFAULT '',
    page        integer,
    token_count integer NOT NULL DEFAULT 0,
    embedding   vector,
    tsv         tsvector NOT NULL,
    UNIQUE (document_id, ord)
);
CREATE INDEX IF NOT EXISTS chunks_bot_idx ON chunks (bot_id);

CREATE TABLE IF NOT EXISTS conversations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    bot_id          uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    visitor_id      text NOT NULL CHECK (length(visitor_id) BETWEEN 1 AND 200),
    channel         text NOT NULL DEFAULT 'widget' CHECK (channel IN ('widget', 'api')),
    contact_enc     bytea,
    message_count   integer NOT NULL DEFAULT 0,
    started_at      timestamptz NOT NULL DEFAULT now(),
    last_message_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS conversations_bot_idx ON conversations (bot_id, last_message_at DESC);
CREATE INDEX IF NOT EXISTS conversations_visitor_idx ON conversations (bot_id, visitor_id);
CREATE INDEX IF NOT EXISTS conversations_tenant_idx ON conversations (tenant_id);
CREATE INDEX IF NOT EXISTS conversations_last_idx ON conversations (last_message_at);

CREATE TABLE IF NOT EXISTS messages (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id   uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    bot_id            uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    role              text NOT NULL CHECK (role IN ('user', 'assistant')),
    content_enc       bytea NOT NULL,
    source            text CHECK (source IN ('faq', 'rag', 'fallback', 'cache')),
    faq_id            uuid REFERENCES faqs (id) ON DELETE SET NULL,
    matched_question  text,
    confidence        real,
    provider          text,
    model             text,
    latency_ms        integer,
    ttft_ms           integer,
    tokens_in         integer NOT NULL DEFAULT 0,
    tokens_out        integer NOT NULL DEFAULT 0,
    cost_usd          numeric(12, 6) NOT NULL DEFAULT 0,
    feedback          smallint CHECK (feedback IN (-1, 1)),
    feedback_comment_enc bytea,
    sources           jsonb NOT NULL DEFAULT '[]',
    client_message_id text,
    error             text,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS messages_conversation_idx ON messages (conversation_id, created_at);
CREATE INDEX IF NOT EXISTS messages_bot_time_idx ON messages (bot_id, created_at);
CREATE INDEX IF NOT EXISTS messages_faq_idx ON messages (faq_id);
CREATE UNIQUE INDEX IF NOT EXISTS messages_client_key
    ON messages (conversation_id, client_message_id) WHERE client_message_id IS NOT NULL;

-- Tokens spent per bot and day, for the daily budget and cost analytics.
CREATE TABLE IF NOT EXISTS llm_usage_daily (
    bot_id     uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    day        date NOT NULL,
    provider   text NOT NULL,
    tokens_in  bigint NOT NULL DEFAULT 0,
    tokens_out bigint NOT NULL DEFAULT 0,
    cost_usd   numeric(14, 6) NOT NULL DEFAULT 0,
    PRIMARY KEY (bot_id, day, provider)
);

-- Rate limits shared by every process: one GCRA "theoretical arrival time" per bucket.
CREATE UNLOGGED TABLE IF NOT EXISTS rate_limits (
    bucket     text PRIMARY KEY,
    tat        timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_limits_expires_idx ON rate_limits (expires_at);

CREATE TABLE IF NOT EXISTS gdpr_requests (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid REFERENCES tenants (id) ON DELETE SET NULL,
    bot_id       uuid REFERENCES bots (id) ON DELETE SET NULL,
    kind         text NOT NULL CHECK (kind IN ('erasure', 'export')),
    subject_hash bytea NOT NULL,
    requested_by text NOT NULL CHECK (requested_by IN ('visitor', 'tenant', 'admin')),
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'running', 'done', 'failed')),
    counts       jsonb NOT NULL DEFAULT '{}',
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX IF NOT EXISTS gdpr_requests_tenant_idx ON gdpr_requests (tenant_id, created_at);

CREATE TABLE IF NOT EXISTS archives (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    bot_id             uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    day                date NOT NULL,
    object_key         text NOT NULL UNIQUE,
    conversation_count integer NOT NULL,
    message_count      integer NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS archives_bot_idx ON archives (bot_id, day);
