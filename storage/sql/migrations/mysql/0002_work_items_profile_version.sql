-- Each Pending work item carries the version of its profile, which an
-- edit of the profile rewrites in the same transaction. A change then
-- checks the profile's version on the item's own row, which it locks
-- anyway, instead of reading the profile's row LOCK IN SHARE MODE.
--
-- MySQL has no ADD COLUMN IF NOT EXISTS, so that this version may run
-- again after a crash half way, the column is added only when the
-- schema lacks it.
SET @workitems_add_profile_version = (
    SELECT IF(COUNT(*) = 0,
        'ALTER TABLE {p}work_items
            ADD COLUMN profile_version BIGINT NOT NULL DEFAULT 0',
        'DO 0')
    FROM information_schema.columns
    WHERE table_schema = DATABASE()
    AND table_name = '{p}work_items'
    AND column_name = 'profile_version');

PREPARE workitems_add_profile_version FROM @workitems_add_profile_version;

EXECUTE workitems_add_profile_version;

DEALLOCATE PREPARE workitems_add_profile_version;

UPDATE {p}work_items w JOIN {p}profiles p ON p.id = w.profile_id
    SET w.profile_version = p.version
    WHERE w.status = 'pending';

-- Every insert names the version from now on.
ALTER TABLE {p}work_items ALTER COLUMN profile_version DROP DEFAULT;
