-- Answers of creates sent with an `Idempotency-Key`, so a retried POST is answered from here
-- instead of creating twice (draft-ietf-httpapi-idempotency-key-header). A row is reserved
-- (status NULL) before the create runs and completed with its answer; keys are scoped to the
-- caller and kept until `expires_at` (IDEMPOTENCY_TTL), then purged by the cron job.

CREATE TABLE idempotency_keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  caller TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  status INTEGER NULL,
  response_headers TEXT NULL,
  response_body TEXT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  CONSTRAINT idempotency_keys_caller_key_unique UNIQUE (caller, idempotency_key)
);

CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);
