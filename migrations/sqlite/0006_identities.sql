-- Links a provider identity (the `iss` and `sub` of its access tokens) to one local user.
-- `iss` and `sub` are compared exactly, as OpenID Connect requires (case-sensitive).

CREATE TABLE identities (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  issuer TEXT NOT NULL,
  subject TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_seen_at TEXT NOT NULL,
  CONSTRAINT identities_issuer_subject_unique UNIQUE (issuer, subject)
);
CREATE INDEX identities_user_id_idx ON identities (user_id);
