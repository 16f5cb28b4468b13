-- hookgate's PostgreSQL schema, version 1: the webhooks, as StoredWebhook keeps them.
-- Applied by server/store/backend_postgres.c in one transaction, under an advisory lock,
-- when hookgate_schema_version says the database is older. Never edit a released file:
-- add the next one (0002_....sql) and list it in backend_postgres.c.
CREATE TABLE hookgate_webhooks (
    id              bytea PRIMARY KEY CHECK (length(id) = 12),  -- the ObjectId's 12 bytes
    seq             bigserial NOT NULL,         -- the order of INSERTs: ties of created_ms in lists
    created_ms      bigint NOT NULL,
    ecosystem_id    text NOT NULL,
    url             text NOT NULL,
    secret          text NOT NULL DEFAULT '',   -- '' when sealed (or none)
    sealed_secret   bytea,                      -- store.secret_key_file's seal (server/store/seal.h)
    description     text NOT NULL DEFAULT '',
    disabled        boolean NOT NULL DEFAULT false,
    idempotency_key bytea UNIQUE,               -- SHA-256 of the token and its Idempotency-Key
    deleted         boolean NOT NULL DEFAULT false  -- kept while its idempotency_key may be replayed
);
-- an ecosystem's list, oldest first (createdAt, then the order of INSERTs), without the
-- deleted: the same order on every node
CREATE INDEX hookgate_webhooks_list ON hookgate_webhooks (ecosystem_id, created_ms, seq) WHERE NOT deleted;
