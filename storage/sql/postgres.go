package sqlstore

// postgresQueries is the SQL of PostgreSQL. It stays within what
// CockroachDB and YugabyteDB also accept: no advisory locks, no
// triggers, no LISTEN/NOTIFY.
var postgresQueries = queries{
	insertProfile: `INSERT INTO {p}profiles (` + profileCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,

	getProfile: `SELECT ` + profileCols + `
		FROM {p}profiles WHERE id = $1`,

	listProfiles: `SELECT ` + profileCols + `
		FROM {p}profiles WHERE id > $1 ORDER BY id LIMIT $2`,

	updateProfile: `UPDATE {p}profiles SET
		name = $1, description = $2, required_approvals = $3,
		approvers = $4, allow_self_approval = $5, version = $6,
		created_at = $7, updated_at = $8
		WHERE id = $9 AND version = $10`,

	lockProfile: `SELECT version FROM {p}profiles
		WHERE id = $1 FOR UPDATE`,

	pendingOfProfile: `SELECT id FROM {p}work_items
		WHERE profile_id = $1 AND status = 'pending'
		ORDER BY id LIMIT 1`,

	deleteProfile: `DELETE FROM {p}profiles WHERE id = $1`,

	insertItem: `INSERT INTO {p}work_items (` + itemCols + `)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
			$12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22
		FROM {p}profiles WHERE id = $23 AND version = $24
		FOR SHARE`,

	insertApproval: `INSERT INTO {p}approvals
		(work_item_id, user_id, comment, approved_at)
		VALUES ($1, $2, $3, $4)`,

	getItem: `SELECT ` + itemCols + `
		FROM {p}work_items WHERE id = $1`,

	getItemAndProfile: `SELECT ` + itemColsW + `, ` + profileColsP + `
		FROM {p}work_items w
		LEFT JOIN {p}profiles p ON p.id = w.profile_id
		WHERE w.id = $1`,

	itemState: `SELECT version, status, lease_owner
		FROM {p}work_items WHERE id = $1`,

	pendingOfResource: `SELECT id FROM {p}work_items
		WHERE resource_type = $1 AND resource_id = $2
		AND status = 'pending'`,

	applyItem: postgresApply + `
		SELECT count(*) FROM item`,

	// The version is the one the statement's snapshot holds; NULL
	// tells a missing item from a changed one without another round
	// trip.
	applyItemVersion: postgresApply + `
		SELECT count(*),
			(SELECT version FROM {p}work_items WHERE id = $15)
		FROM item`,

	// SKIP LOCKED passes over items another claim is leasing right
	// now; its commit then shows them leased. The state is held by a
	// range of one value so that the plan walks the advance index in
	// order (see listBuilder.fixed).
	claimAdvances: `WITH due AS (
			SELECT id FROM {p}work_items
			WHERE advance_state IN ('due', 'failed')
			AND advance_state >= 'due' AND advance_state <= 'due'
			AND id > $3
			AND ($4::timestamptz IS NULL
				OR next_attempt_at IS NULL OR next_attempt_at <= $4)
			AND (lease_owner = ''
				OR lease_until IS NULL OR lease_until <= $5)
			ORDER BY advance_state, id
			LIMIT $6
			FOR UPDATE SKIP LOCKED
		)
		UPDATE {p}work_items w SET lease_owner = $1, lease_until = $2
		FROM due WHERE w.id = due.id
		RETURNING ` + itemColsW,

	updateAdvance: `UPDATE {p}work_items SET
		advance_state = $1, advance_attempts = $2,
		advance_error = $3, next_attempt_at = $4,
		lease_owner = $5, lease_until = $6, advanced_at = $7
		WHERE id = $8 AND status <> 'pending' AND lease_owner = $9`,

	schemaVersion: `SELECT MAX(version) FROM {p}schema_versions`,

	insertVersion: `INSERT INTO {p}schema_versions (version, applied_at)
		VALUES ($1, $2)`,
}

// postgresApply is the approval or rejection in one statement, in
// autocommit: lock the profile row against edits while its version is
// checked, update the item if it is still at the version read, and
// add the approval to the item updated. A second approval by the same
// user fails on the primary key of the approvals table. The queries
// that use it add the SELECT that reports what it did.
const postgresApply = `WITH prof AS (
			SELECT p.id FROM {p}profiles p
			JOIN {p}work_items w ON w.profile_id = p.id
			WHERE w.id = $15 AND p.version = $17
			FOR SHARE OF p
		), item AS (
			UPDATE {p}work_items SET
				status = $1, approvals = $2,
				rejected_by = $3, rejection_reason = $4,
				rejected_at = $5, advance_state = $6,
				advance_attempts = $7, advance_error = $8,
				next_attempt_at = $9, lease_owner = $10,
				lease_until = $11, advanced_at = $12,
				version = $13, decided_at = $14
			WHERE id = $15 AND version = $16
			AND profile_id IN (SELECT id FROM prof)
			RETURNING id
		), added AS (
			INSERT INTO {p}approvals
				(work_item_id, user_id, comment, approved_at)
			SELECT id, $18, $19, $20 FROM item
			WHERE $18::text IS NOT NULL
		)`

// The columns of a work item and of a profile, qualified with the
// aliases w and p.
var (
	itemColsW    = qualify("w", itemCols)
	profileColsP = qualify("p", profileCols)
)
