-- Answers of creates sent with an `Idempotency-Key`, so a retried POST is answered from here
-- instead of creating twice (draft-ietf-httpapi-idempotency-key-header). A row is reserved
-- (status NULL) before the create runs and completed with its answer; keys are scoped to the
-- caller and kept until `expires_at` (IDEMPOTENCY_TTL), then purged by the cron job.

CREATE TABLE idempotency_keys (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  caller VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  idempotency_key VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  fingerprint CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  status SMALLINT UNSIGNED NULL,
  response_headers TEXT NULL,
  response_body MEDIUMTEXT NULL,
  created_at DATETIME(3) NOT NULL,
  expires_at DATETIME(3) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY idempotency_keys_caller_key_unique (caller, idempotency_key),
  KEY idempotency_keys_expires_at_idx (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
