-- An append-only record of privileged changes: who (the user, how they signed in, and with
-- which credential), what (action, target, the changed fields before and after — never a
-- secret), when, and from where (request id, trace id, client address). Written in the same
-- transaction as the change; no statement of the service updates or deletes a row, except the
-- retention purge (AUDIT_RETENTION). No foreign keys: the record outlives what it names.

CREATE TABLE audit_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  occurred_at TEXT NOT NULL,
  actor_user_id INTEGER NULL,
  auth_method TEXT NOT NULL,
  credential TEXT NULL,
  action TEXT NOT NULL,
  target_type TEXT NOT NULL,
  target_id TEXT NULL,
  changes TEXT NULL,
  request_id TEXT NULL,
  trace_id TEXT NULL,
  client_ip TEXT NULL
);

CREATE INDEX audit_events_occurred_at_idx ON audit_events (occurred_at);
CREATE INDEX audit_events_actor_id_idx ON audit_events (actor_user_id, id);
CREATE INDEX audit_events_target_id_idx ON audit_events (target_type, target_id, id);
CREATE INDEX audit_events_action_id_idx ON audit_events (action, id);
