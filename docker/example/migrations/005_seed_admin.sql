-- The first account, so a fresh install can log in.
INSERT INTO users (email, name) VALUES ('admin@example.com', 'Administrator');
