-- Each Pending work item carries the version of its profile, which an
-- edit of the profile rewrites in the same transaction. A change then
-- checks the profile's version on the item's own row, which it locks
-- anyway, instead of taking a shared lock on the profile's row, which
-- every approval of every item of a busy profile contended for.
ALTER TABLE {p}work_items ADD COLUMN profile_version bigint NOT NULL DEFAULT 0;

UPDATE {p}work_items w SET profile_version = p.version
    FROM {p}profiles p
    WHERE p.id = w.profile_id AND w.status = 'pending';

-- Every insert names the version from now on.
ALTER TABLE {p}work_items ALTER COLUMN profile_version DROP DEFAULT;
