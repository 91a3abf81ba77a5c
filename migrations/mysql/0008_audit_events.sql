-- An append-only record of privileged changes: who (the user, how they signed in, and with
-- which credential), what (action, target, the changed fields before and after — never a
-- secret), when, and from where (request id, trace id, client address). Written in the same
-- transaction as the change; no statement of the service updates or deletes a row, except the
-- retention purge (AUDIT_RETENTION). No foreign keys: the record outlives what it names.

CREATE TABLE audit_events (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  occurred_at DATETIME(3) NOT NULL,
  actor_user_id INT UNSIGNED NULL,
  auth_method VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  credential VARCHAR(512) NULL,
  action VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  target_type VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  target_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  changes TEXT NULL,
  request_id VARCHAR(128) NULL,
  trace_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
  client_ip VARCHAR(45) NULL,
  PRIMARY KEY (id),
  KEY audit_events_occurred_at_idx (occurred_at),
  KEY audit_events_actor_id_idx (actor_user_id, id),
  KEY audit_events_target_id_idx (target_type, target_id, id),
  KEY audit_events_action_id_idx (action, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
