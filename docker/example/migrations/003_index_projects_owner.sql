-- Listing a user's projects is the app's most common query.
CREATE INDEX projects_owner_idx ON projects (owner_id);
