package sqlstore

// sqliteQueries is the SQL of SQLite. SQLite has one writer at a
// time, and the store begins every write transaction with BEGIN
// IMMEDIATE, so reads inside a write see the latest data without
// row locks.
var sqliteQueries = queries{
	insertProfile: `INSERT INTO {p}profiles (` + profileCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,

	getProfile: `SELECT ` + profileCols + `
		FROM {p}profiles WHERE id = ?`,

	listProfiles: `SELECT ` + profileCols + `
		FROM {p}profiles WHERE id > ? ORDER BY id LIMIT ?`,

	updateProfile: `UPDATE {p}profiles SET
		name = ?, description = ?, required_approvals = ?,
		approvers = ?, allow_self_approval = ?, version = ?,
		created_at = ?, updated_at = ?
		WHERE id = ? AND version = ?`,

	pendingProfileVersion: `UPDATE {p}work_items SET profile_version = ?
		WHERE profile_id = ? AND status = 'pending'`,

	lockProfile: `SELECT version FROM {p}profiles WHERE id = ?`,

	pendingOfProfile: `SELECT id FROM {p}work_items
		WHERE profile_id = ? AND status = 'pending'
		ORDER BY id LIMIT 1`,

	deleteProfile: `DELETE FROM {p}profiles WHERE id = ?`,

	insertItem: `INSERT INTO {p}work_items (` + itemCols + `,
			profile_version)
		SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
			?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, version
		FROM {p}profiles WHERE id = ? AND version = ?`,

	insertApproval: `INSERT INTO {p}approvals
		(work_item_id, user_id, comment, approved_at)
		VALUES (?, ?, ?, ?)`,

	getItem: `SELECT ` + itemCols + `
		FROM {p}work_items WHERE id = ?`,

	getItemAndProfile: `SELECT ` + itemColsW + `, ` + profileColsP + `
		FROM {p}work_items w
		LEFT JOIN {p}profiles p ON p.id = w.profile_id
		WHERE w.id = ?`,

	// The transaction began IMMEDIATE and holds the database's write
	// lock, so a plain read locks enough.
	lockItem: `SELECT ` + itemColsW + `, w.profile_version
		FROM {p}work_items w WHERE w.id = ?`,

	itemState: `SELECT version, status, lease_owner,
			profile_id, profile_version, requested_by
		FROM {p}work_items WHERE id = ?`,

	pendingOfResource: `SELECT id FROM {p}work_items
		WHERE resource_type = ? AND resource_id = ?
		AND status = 'pending'`,

	updateItem: `UPDATE {p}work_items SET
		status = ?, approvals = ?,
		rejected_by = ?, rejection_reason = ?, rejected_at = ?,
		advance_state = ?, advance_attempts = ?, advance_error = ?,
		next_attempt_at = ?, lease_owner = ?, lease_until = ?,
		advanced_at = ?, version = ?, decided_at = ?
		WHERE id = ? AND version = ? AND profile_version = ?`,

	updatePending: `UPDATE {p}work_items SET approvals = ?, version = ?
		WHERE id = ? AND version = ? AND profile_version = ?`,

	// The state is held by a range of one value so that the plan
	// walks the advance index in order (see listBuilder.fixed).
	selectClaimable: `SELECT ` + itemCols + `
		FROM {p}work_items
		WHERE advance_state IN ('due', 'failed')
		AND advance_state >= 'due' AND advance_state <= 'due'
		AND id > ?
		AND (? IS NULL OR next_attempt_at IS NULL OR next_attempt_at <= ?)
		AND (lease_owner = '' OR lease_until IS NULL OR lease_until <= ?)
		ORDER BY advance_state, id
		LIMIT ?`,

	leaseItems: `UPDATE {p}work_items
		SET lease_owner = ?, lease_until = ?
		WHERE id IN `,

	updateAdvance: sqliteUpdateAdvance,
	recordAdvance: sqliteUpdateAdvance,

	schemaVersion: `SELECT MAX(version) FROM {p}schema_versions`,

	insertVersion: `INSERT INTO {p}schema_versions (version, applied_at)
		VALUES (?, ?)`,
}

// sqliteUpdateAdvance writes an advance record: advanceArgs, id, owner. The
// dialect has no way to relax the durability of one write, so an
// advance's outcome is recorded durably too.
const sqliteUpdateAdvance = `UPDATE {p}work_items SET
	advance_state = ?, advance_attempts = ?, advance_error = ?,
	next_attempt_at = ?, lease_owner = ?, lease_until = ?,
	advanced_at = ?
	WHERE id = ? AND status <> 'pending' AND lease_owner = ?`
