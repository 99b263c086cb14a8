package sqlstore

import "strconv"

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

	pendingProfileVersion: `UPDATE {p}work_items SET profile_version = $1
		WHERE profile_id = $2 AND status = 'pending'`,

	lockProfile: `SELECT version FROM {p}profiles
		WHERE id = $1 FOR UPDATE`,

	pendingOfProfile: `SELECT id FROM {p}work_items
		WHERE profile_id = $1 AND status = 'pending'
		ORDER BY id LIMIT 1`,

	deleteProfile: `DELETE FROM {p}profiles WHERE id = $1`,

	insertItem: `INSERT INTO {p}work_items (` + itemCols + `,
			profile_version)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
			$12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
			version
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

	itemState: `SELECT version, status, lease_owner,
			profile_id, profile_version, requested_by
		FROM {p}work_items WHERE id = $1`,

	pendingOfResource: `SELECT id FROM {p}work_items
		WHERE resource_type = $1 AND resource_id = $2
		AND status = 'pending'`,

	// The approval goes on the end of the stored list as text, and
	// whether it reaches the threshold is worked out once, in a
	// sub-select that OFFSET 0 keeps the planner from copying into
	// every column it decides: racing approvals wait for the row in
	// turn, and the less each does while it holds it, the sooner the
	// next one goes.
	approveInPlace: `WITH item AS (
			UPDATE {p}work_items w SET
				approvals = ` + postgresAppend + `,
				(status, decided_at, advance_state, advance_attempts,
					advance_error, next_attempt_at, lease_owner,
					lease_until, advanced_at) = (
					SELECT
						CASE WHEN d.reaches THEN 'approved' ELSE w.status END,
						CASE WHEN d.reaches THEN $6::timestamptz ELSE w.decided_at END,
						CASE WHEN d.reaches THEN $7::text ELSE w.advance_state END,
						CASE WHEN d.reaches THEN $8::integer ELSE w.advance_attempts END,
						CASE WHEN d.reaches THEN $9::text ELSE w.advance_error END,
						CASE WHEN d.reaches THEN $10::timestamptz ELSE w.next_attempt_at END,
						CASE WHEN d.reaches THEN $11::text ELSE w.lease_owner END,
						CASE WHEN d.reaches THEN $12::timestamptz ELSE w.lease_until END,
						CASE WHEN d.reaches THEN $13::timestamptz ELSE w.advanced_at END
					FROM (SELECT ` + postgresCount + ` + 1 >= w.required_approvals
						AS reaches OFFSET 0) d
				),
				version = w.version + 1
			WHERE w.id = $1 AND w.status = $14
			AND ` + postgresGranted("$15") + `
			AND (w.requested_by <> $4 OR ` + postgresSelfApproval("$16") + `)
			RETURNING ` + pendingColsW + `
		), added AS (
			INSERT INTO {p}approvals
				(work_item_id, user_id, comment, approved_at)
			SELECT id, $4, $5, $6 FROM item
		)
		SELECT ` + pendingCols + ` FROM item`,

	// An approval expected to leave the item Pending tries this
	// first: it writes only the approvals and the version, and
	// returns the columns a Pending item fills. It writes nothing
	// when, on the row as locked, the approval would reach the
	// threshold after all.
	approveBelowInPlace: `WITH item AS (
			UPDATE {p}work_items w SET
				approvals = ` + postgresAppend + `,
				version = w.version + 1
			WHERE w.id = $1 AND w.status = $7
			AND ` + postgresGranted("$8") + `
			AND (w.requested_by <> $4 OR ` + postgresSelfApproval("$9") + `)
			AND ` + postgresCount + ` + 1 < w.required_approvals
			RETURNING ` + pendingColsW + `
		), added AS (
			INSERT INTO {p}approvals
				(work_item_id, user_id, comment, approved_at)
			SELECT id, $4, $5, $6 FROM item
		)
		SELECT ` + pendingCols + ` FROM item`,

	rejectInPlace: `WITH item AS (
			UPDATE {p}work_items w SET
				status = 'rejected', rejected_by = $3,
				rejection_reason = $4, rejected_at = $5,
				decided_at = $5, advance_state = $6,
				advance_attempts = $7, advance_error = $8,
				next_attempt_at = $9, lease_owner = $10,
				lease_until = $11, advanced_at = $12,
				version = w.version + 1
			WHERE w.id = $1 AND w.status = $13
			AND ` + postgresGranted("$14") + `
			RETURNING ` + pendingColsW + `
		)
		SELECT ` + pendingCols + ` FROM item`,

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

	updateAdvance: `UPDATE {p}work_items SET ` + postgresAdvanceSet + `
		WHERE id = $8 AND status <> 'pending' AND lease_owner = $9`,

	// The outcome of an advance commits without waiting for its WAL
	// to reach the disk: synchronous_commit is set for this statement's
	// transaction alone. The record is visible to every session at
	// once, and any later durable commit flushes it too. Lost in a
	// crash of the server, it leaves the item due under the lease it
	// had, and the advance runs again once the lease runs out. That
	// saves the flush, about half the time of the write.
	recordAdvance: `UPDATE {p}work_items w SET ` + postgresAdvanceSet + `
		FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async
		WHERE w.id = $8 AND w.status <> 'pending' AND w.lease_owner = $9`,

	schemaVersion: `SELECT MAX(version) FROM {p}schema_versions`,

	insertVersion: `INSERT INTO {p}schema_versions (version, applied_at)
		VALUES ($1, $2)`,
}

// postgresAdvanceSet writes an advance record: advanceArgs.
const postgresAdvanceSet = `advance_state = $1, advance_attempts = $2,
		advance_error = $3, next_attempt_at = $4,
		lease_owner = $5, lease_until = $6, advanced_at = $7`

// postgresAppend is the stored list of approvals with $3, a list of
// one approval, added on its end as text.
const postgresAppend = `CASE WHEN w.approvals IN ('null', '[]')
					THEN $3::text
					ELSE left(w.approvals, -1) || ',' || substr($3::text, 2)
				END`

// postgresGranted holds when the work item w's profile is among the
// change's grants at the version w carries: $2 lists the granted
// profiles, and versions names the array of their versions, in the
// same order. A profile not among them finds no version.
func postgresGranted(versions string) string {
	return `w.profile_version = (` + versions + `::bigint[])[
				array_position($2::text[], w.profile_id::text)]`
}

// postgresSelfApproval holds when the grant of w's profile lets the
// requester approve: selves names the array that says whether each
// grant does.
func postgresSelfApproval(selves string) string {
	return `(` + selves + `::boolean[])[
				array_position($2::text[], w.profile_id::text)]`
}

// postgresCount is the number of approvals of the work item w. The
// stored list is encoding/json's compact output (see encodeApprovals),
// which the approval in place appends to as text, so every approval
// holds the key approvalKey exactly once and no string value holds
// it: a quote inside a value is always escaped. Counting the key
// scans the text, where json_array_length parsed the whole list on
// every approval: 16 goroutines approving the same items went from
// 2,900 to 3,100 approvals a second (medians of 5 alternating runs).
// An UPDATE that waited for the row's lock evaluates it on the row as
// the transaction before it left it, so racing approvals all count.
var postgresCount = `((length(w.approvals) -
						length(replace(w.approvals, '` + approvalKey + `', ''))) / ` +
	strconv.Itoa(len(approvalKey)) + `)`

// The columns of a work item and of a profile, qualified with the
// aliases w and p.
var (
	itemColsW    = qualify("w", itemCols)
	pendingColsW = qualify("w", pendingCols)
	profileColsP = qualify("p", profileCols)
)
