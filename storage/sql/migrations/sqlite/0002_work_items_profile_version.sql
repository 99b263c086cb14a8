-- Each Pending work item carries the version of its profile, which an
-- edit of the profile rewrites in the same transaction, so a change
-- checks the profile's version on the item's own row. SQLite cannot
-- drop a column's default; every insert names the version.
ALTER TABLE {p}work_items ADD COLUMN profile_version INTEGER NOT NULL DEFAULT 0;

UPDATE {p}work_items SET profile_version = (
        SELECT p.version FROM {p}profiles p
        WHERE p.id = {p}work_items.profile_id)
    WHERE status = 'pending';
