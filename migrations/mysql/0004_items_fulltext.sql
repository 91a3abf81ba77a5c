-- Full-text search (`q`) over item names and descriptions. InnoDB wants one collation per
-- FULLTEXT index and `name` is utf8mb4_bin while `description` is utf8mb4_unicode_ci, so the
-- searchable text lives in its own table, kept in step with `items` by triggers (same
-- statement, same transaction). Creating triggers needs the TRIGGER privilege.
-- The triggers come first, so rows written while the copy runs are not missed; the copy skips
-- rows they already wrote. FULLTEXT cannot be built with LOCK=NONE: the index is added to the
-- new table (LOCK=SHARED; nothing else uses it yet), so `items` itself stays writable.

CREATE TABLE items_search (
  item_id INT UNSIGNED NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (item_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TRIGGER items_search_insert AFTER INSERT ON items FOR EACH ROW
  REPLACE INTO items_search (item_id, body) VALUES (NEW.id, CONCAT_WS(' ', NEW.name, NEW.description));

CREATE TRIGGER items_search_update AFTER UPDATE ON items FOR EACH ROW
  REPLACE INTO items_search (item_id, body) VALUES (NEW.id, CONCAT_WS(' ', NEW.name, NEW.description));

CREATE TRIGGER items_search_delete AFTER DELETE ON items FOR EACH ROW
  DELETE FROM items_search WHERE item_id = OLD.id;

INSERT IGNORE INTO items_search (item_id, body)
  SELECT id, CONCAT_WS(' ', name, description) FROM items;

-- Without InnoDB's stopword list ("the", "about", "with", ...): every word of 3 or more
-- characters is indexed (the index keeps this setting; the session is only where it is read).
SET SESSION innodb_ft_enable_stopword = OFF;

ALTER TABLE items_search ADD FULLTEXT INDEX items_search_body_ft (body), ALGORITHM=INPLACE, LOCK=SHARED;

SET SESSION innodb_ft_enable_stopword = ON;
