-- Initial schema: roles, client versions, users, items and login sessions.
-- Timestamps are TEXT in ISO 8601 UTC ("2026-01-31T12:00:00.000Z"), which sorts by time.

CREATE TABLE roles (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  CONSTRAINT roles_name_unique UNIQUE (name)
);

CREATE TABLE versions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  version TEXT NOT NULL,
  supported INTEGER NOT NULL DEFAULT 1 CHECK (supported IN (0, 1)),
  deprecated INTEGER NOT NULL DEFAULT 0 CHECK (deprecated IN (0, 1)),
  sunset_at TEXT NULL,
  CONSTRAINT versions_version_unique UNIQUE (version)
);

-- Usernames are unique regardless of case ("Alice" and "alice" are one account).
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  role_id INTEGER NOT NULL REFERENCES roles (id),
  activated INTEGER NOT NULL DEFAULT 1 CHECK (activated IN (0, 1)),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  CONSTRAINT users_username_unique UNIQUE (username)
);
CREATE INDEX users_role_id_idx ON users (role_id);

-- Item names are unique per owner, compared exactly ("Book" and "book" are two items).
CREATE TABLE items (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users (id),
  name TEXT NOT NULL,
  description TEXT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  CONSTRAINT items_user_id_name_unique UNIQUE (user_id, name)
);
CREATE INDEX items_created_at_idx ON items (created_at);

-- One row per logged-in device. Tokens are stored only as SHA-256 hex digests.
CREATE TABLE sessions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  access_token_hash TEXT NOT NULL,
  access_expires_at TEXT NOT NULL,
  refresh_token_hash TEXT NOT NULL,
  previous_refresh_token_hash TEXT NULL,
  refresh_expires_at TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_used_at TEXT NOT NULL,
  user_agent TEXT NULL,
  ip TEXT NULL,
  CONSTRAINT sessions_access_token_hash_unique UNIQUE (access_token_hash),
  CONSTRAINT sessions_refresh_token_hash_unique UNIQUE (refresh_token_hash)
);
CREATE INDEX sessions_previous_refresh_token_hash_idx ON sessions (previous_refresh_token_hash);
CREATE INDEX sessions_user_id_created_at_idx ON sessions (user_id, created_at);
CREATE INDEX sessions_refresh_expires_at_idx ON sessions (refresh_expires_at);

INSERT INTO roles (id, name) VALUES (1, 'admin'), (2, 'user');

INSERT INTO versions (version, supported, deprecated) VALUES
  ('0.1', 0, 0), ('0.2', 0, 0), ('0.3', 0, 0), ('0.4', 0, 0),
  ('0.5', 0, 0), ('0.6', 0, 0), ('0.7', 0, 0), ('0.8', 0, 0),
  ('1.0', 1, 0);
