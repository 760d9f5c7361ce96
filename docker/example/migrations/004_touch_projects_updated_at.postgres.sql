-- PostgreSQL: the same trigger, as a function with a dollar-quoted body.
CREATE FUNCTION projects_touch() RETURNS trigger AS $body$
BEGIN
    NEW.updated_at := CURRENT_TIMESTAMP;
    RETURN NEW;
END;
$body$ LANGUAGE plpgsql;

CREATE TRIGGER projects_touch BEFORE UPDATE OF title ON projects
FOR EACH ROW EXECUTE FUNCTION projects_touch();
