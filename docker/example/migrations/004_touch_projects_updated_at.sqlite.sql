-- SQLite: a trigger body is BEGIN ... END; with statements (and semicolons) inside.
CREATE TRIGGER projects_touch AFTER UPDATE OF title ON projects
FOR EACH ROW
BEGIN
    UPDATE projects SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id;
END;
