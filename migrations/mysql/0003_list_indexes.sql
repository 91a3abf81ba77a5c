-- Indexes for every list order, with and without the equality filters (items: user_id; users:
-- role_id, activated), so a page reads about `limit` index entries whatever the table size.
-- Keyset pages seek to (sort column, id); InnoDB secondary keys end with the primary key, the
-- explicit id only states it. Built online: reads and writes go on while they build.

ALTER TABLE items
  ADD INDEX items_user_id_id_idx (user_id, id),
  ADD INDEX items_name_id_idx (name, id),
  ADD INDEX items_updated_at_id_idx (updated_at, id),
  ADD INDEX items_user_id_created_at_id_idx (user_id, created_at, id),
  ADD INDEX items_user_id_updated_at_id_idx (user_id, updated_at, id),
  ALGORITHM=INPLACE, LOCK=NONE;

ALTER TABLE users
  ADD INDEX users_created_at_id_idx (created_at, id),
  ADD INDEX users_role_id_username_idx (role_id, username),
  ADD INDEX users_role_id_created_at_id_idx (role_id, created_at, id),
  ADD INDEX users_activated_id_idx (activated, id),
  ADD INDEX users_activated_username_idx (activated, username),
  ADD INDEX users_activated_created_at_id_idx (activated, created_at, id),
  ALGORITHM=INPLACE, LOCK=NONE;
