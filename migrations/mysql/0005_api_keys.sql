-- API keys of machine clients: `iak_` + 43 base64url characters, stored only as the SHA-256 hex
-- digest of the whole key. `prefix` is the key's first 12 characters, shown so owners can tell
-- their keys apart. `scopes` is space-separated (the scope vocabulary of src/lib/scopes.ts).
-- Revoking a key deletes its row; deleting a user deletes its keys.

CREATE TABLE api_keys (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  user_id INT UNSIGNED NOT NULL,
  name VARCHAR(100) NOT NULL COLLATE utf8mb4_bin,
  key_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  prefix CHAR(12) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  scopes VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  created_at DATETIME(3) NOT NULL,
  last_used_at DATETIME(3) NULL,
  expires_at DATETIME(3) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY api_keys_key_hash_unique (key_hash),
  UNIQUE KEY api_keys_user_id_name_unique (user_id, name),
  CONSTRAINT api_keys_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
