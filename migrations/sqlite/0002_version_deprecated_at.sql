-- When a client version was deprecated: the date the RFC 9745 `Deprecation` header carries.
-- Set by the service when `deprecated` turns true, cleared when it turns false.

ALTER TABLE versions ADD COLUMN deprecated_at TEXT NULL;

UPDATE versions SET deprecated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE deprecated = 1;
