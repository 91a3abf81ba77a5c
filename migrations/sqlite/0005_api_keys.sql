-- API keys of machine clients: `iak_` + 43 base64url characters, stored only as the SHA-256 hex
-- digest of the whole key. `prefix` is the key's first 12 characters, shown so owners can tell
-- their keys apart. `scopes` is space-separated (the scope vocabulary of src/lib/scopes.ts).
-- Revoking a key deletes its row; deleting a user deletes its keys.

CREATE TABLE api_keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  key_hash TEXT NOT NULL,
  prefix TEXT NOT NULL,
  scopes TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_used_at TEXT NULL,
  expires_at TEXT NULL,
  CONSTRAINT api_keys_key_hash_unique UNIQUE (key_hash),
  CONSTRAINT api_keys_user_id_name_unique UNIQUE (user_id, name)
);
