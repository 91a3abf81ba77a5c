-- When a client version was deprecated: the date the RFC 9745 `Deprecation` header carries.
-- Set by the service when `deprecated` turns true, cleared when it turns false.

ALTER TABLE versions ADD COLUMN deprecated_at DATETIME(3) NULL AFTER deprecated;

UPDATE versions SET deprecated_at = UTC_TIMESTAMP(3) WHERE deprecated = 1;
