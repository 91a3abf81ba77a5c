-- Indexes for every list order, with and without the equality filters (items: user_id; users:
-- role_id, activated), so a page reads about `limit` index entries whatever the table size.
-- Keyset pages seek to (sort column, id); id is the rowid, which every index ends with anyway.

CREATE INDEX items_user_id_id_idx ON items (user_id, id);
CREATE INDEX items_name_id_idx ON items (name, id);
CREATE INDEX items_updated_at_id_idx ON items (updated_at, id);
CREATE INDEX items_user_id_created_at_id_idx ON items (user_id, created_at, id);
CREATE INDEX items_user_id_updated_at_id_idx ON items (user_id, updated_at, id);

CREATE INDEX users_created_at_id_idx ON users (created_at, id);
CREATE INDEX users_role_id_username_idx ON users (role_id, username);
CREATE INDEX users_role_id_created_at_id_idx ON users (role_id, created_at, id);
CREATE INDEX users_activated_id_idx ON users (activated, id);
CREATE INDEX users_activated_username_idx ON users (activated, username);
CREATE INDEX users_activated_created_at_id_idx ON users (activated, created_at, id);
