-- Initial schema: roles, client versions, users, items and login sessions.
-- Timestamps are DATETIME(3) in UTC (the service sets time_zone = '+00:00').

CREATE TABLE roles (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  name VARCHAR(50) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY roles_name_unique (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE versions (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  version VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  supported TINYINT(1) NOT NULL DEFAULT 1,
  deprecated TINYINT(1) NOT NULL DEFAULT 0,
  sunset_at DATETIME(3) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY versions_version_unique (version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Usernames are unique regardless of case ("Alice" and "alice" are one account).
CREATE TABLE users (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  username VARCHAR(64) NOT NULL COLLATE utf8mb4_unicode_ci,
  password_hash VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  role_id INT UNSIGNED NOT NULL,
  activated TINYINT(1) NOT NULL DEFAULT 1,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY users_username_unique (username),
  KEY users_role_id_idx (role_id),
  CONSTRAINT users_role_fk FOREIGN KEY (role_id) REFERENCES roles (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Item names are unique per owner, compared exactly ("Book" and "book" are two items).
CREATE TABLE items (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  user_id INT UNSIGNED NOT NULL,
  name VARCHAR(255) NOT NULL COLLATE utf8mb4_bin,
  description TEXT NULL,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY items_user_id_name_unique (user_id, name),
  KEY items_created_at_idx (created_at),
  CONSTRAINT items_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per logged-in device. Tokens are stored only as SHA-256 hex digests.
CREATE TABLE sessions (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  user_id INT UNSIGNED NOT NULL,
  access_token_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  access_expires_at DATETIME(3) NOT NULL,
  refresh_token_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  previous_refresh_token_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  refresh_expires_at DATETIME(3) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  last_used_at DATETIME(3) NOT NULL,
  user_agent VARCHAR(255) NULL,
  ip VARCHAR(45) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY sessions_access_token_hash_unique (access_token_hash),
  UNIQUE KEY sessions_refresh_token_hash_unique (refresh_token_hash),
  KEY sessions_previous_refresh_token_hash_idx (previous_refresh_token_hash),
  KEY sessions_user_id_created_at_idx (user_id, created_at),
  KEY sessions_refresh_expires_at_idx (refresh_expires_at),
  CONSTRAINT sessions_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO roles (id, name) VALUES (1, 'admin'), (2, 'user');

INSERT INTO versions (version, supported, deprecated) VALUES
  ('0.1', 0, 0), ('0.2', 0, 0), ('0.3', 0, 0), ('0.4', 0, 0),
  ('0.5', 0, 0), ('0.6', 0, 0), ('0.7', 0, 0), ('0.8', 0, 0),
  ('1.0', 1, 0);
