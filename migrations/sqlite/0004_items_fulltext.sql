-- Full-text search (`q`) over item names and descriptions: an FTS5 index over `items` (external
-- content: the text is not stored twice), kept in step by triggers in the writing transaction.
-- unicode61 folds case and diacritics; the prefix indexes answer 2- and 3-character prefixes
-- without merging every matching term.

CREATE VIRTUAL TABLE items_fts USING fts5(name, description, content='items', content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3');

CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN INSERT INTO items_fts (rowid, name, description) VALUES (new.id, new.name, new.description); END;

CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN INSERT INTO items_fts (items_fts, rowid, name, description) VALUES ('delete', old.id, old.name, old.description); END;

CREATE TRIGGER items_fts_update AFTER UPDATE OF name, description ON items BEGIN INSERT INTO items_fts (items_fts, rowid, name, description) VALUES ('delete', old.id, old.name, old.description); INSERT INTO items_fts (rowid, name, description) VALUES (new.id, new.name, new.description); END;

INSERT INTO items_fts (items_fts) VALUES ('rebuild');
