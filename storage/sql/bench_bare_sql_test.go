package sqlstore_test

import (
	"strings"

	sqlstore "github.com/otpki/workitems/storage/sql"
)

// The schema of the baseline. Text compares by byte order, as in the
// store. {b} stands for the table prefix.
var (
	barePostgresSchema = []string{
		`CREATE TABLE {b}items (
			id            text COLLATE "C" PRIMARY KEY,
			profile_id    text COLLATE "C" NOT NULL,
			resource_type text COLLATE "C" NOT NULL,
			resource_id   text COLLATE "C" NOT NULL,
			description   text NOT NULL,
			requested_by  text NOT NULL,
			status        text COLLATE "C" NOT NULL,
			required      integer NOT NULL,
			approved      integer NOT NULL,
			rejected_by   text,
			reason        text,
			advanced      boolean NOT NULL,
			created_at    timestamptz NOT NULL,
			decided_at    timestamptz
		)`,
		`CREATE UNIQUE INDEX {b}items_resource ON {b}items
			(resource_type, resource_id) WHERE status = 'pending'`,
		`CREATE INDEX {b}items_pending ON {b}items (id)
			WHERE status = 'pending'`,
		`CREATE INDEX {b}items_profile ON {b}items (profile_id, id)
			WHERE status = 'pending'`,
		`CREATE TABLE {b}approvals (
			item_id     text COLLATE "C" NOT NULL,
			user_id     text COLLATE "C" NOT NULL,
			comment     text NOT NULL,
			approved_at timestamptz NOT NULL,
			PRIMARY KEY (item_id, user_id)
		)`,
		`CREATE TABLE {b}approvers (
			user_id    text COLLATE "C" NOT NULL,
			profile_id text COLLATE "C" NOT NULL,
			PRIMARY KEY (user_id, profile_id)
		)`,
	}

	// MySQL has no partial indexes: a generated column holds the
	// resource while Pending, and the listings read (status, id) and
	// (profile_id, status, id).
	bareMySQLSchema = []string{
		`CREATE TABLE {b}items (
			id            VARCHAR(255) NOT NULL,
			profile_id    VARCHAR(255) NOT NULL,
			resource_type VARCHAR(32) NOT NULL,
			resource_id   VARCHAR(255) NOT NULL,
			description   TEXT NOT NULL,
			requested_by  VARCHAR(255) NOT NULL,
			status        VARCHAR(16) NOT NULL,
			required      INT NOT NULL,
			approved      INT NOT NULL,
			rejected_by   VARCHAR(255) NULL,
			reason        TEXT NULL,
			advanced      BOOLEAN NOT NULL,
			created_at    DATETIME(6) NOT NULL,
			decided_at    DATETIME(6) NULL,
			pending_resource VARCHAR(255) GENERATED ALWAYS AS
				(CASE WHEN status = 'pending' THEN resource_id END) STORED,
			PRIMARY KEY (id),
			UNIQUE KEY pending_resource (resource_type, pending_resource),
			KEY status_id (status, id),
			KEY profile_status_id (profile_id, status, id)
		) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin`,
		`CREATE TABLE {b}approvals (
			item_id     VARCHAR(255) NOT NULL,
			user_id     VARCHAR(255) NOT NULL,
			comment     TEXT NOT NULL,
			approved_at DATETIME(6) NOT NULL,
			PRIMARY KEY (item_id, user_id)
		) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin`,
		`CREATE TABLE {b}approvers (
			user_id    VARCHAR(255) NOT NULL,
			profile_id VARCHAR(255) NOT NULL,
			PRIMARY KEY (user_id, profile_id)
		) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin`,
	}

	bareSQLiteSchema = []string{
		`CREATE TABLE {b}items (
			id            TEXT NOT NULL PRIMARY KEY,
			profile_id    TEXT NOT NULL,
			resource_type TEXT NOT NULL,
			resource_id   TEXT NOT NULL,
			description   TEXT NOT NULL,
			requested_by  TEXT NOT NULL,
			status        TEXT NOT NULL,
			required      INTEGER NOT NULL,
			approved      INTEGER NOT NULL,
			rejected_by   TEXT,
			reason        TEXT,
			advanced      INTEGER NOT NULL,
			created_at    INTEGER NOT NULL,
			decided_at    INTEGER
		)`,
		`CREATE UNIQUE INDEX {b}items_resource ON {b}items
			(resource_type, resource_id) WHERE status = 'pending'`,
		`CREATE INDEX {b}items_pending ON {b}items (id)
			WHERE status = 'pending'`,
		`CREATE INDEX {b}items_profile ON {b}items (profile_id, id)
			WHERE status = 'pending'`,
		`CREATE TABLE {b}approvals (
			item_id     TEXT NOT NULL,
			user_id     TEXT NOT NULL,
			comment     TEXT NOT NULL,
			approved_at INTEGER NOT NULL,
			PRIMARY KEY (item_id, user_id)
		)`,
		`CREATE TABLE {b}approvers (
			user_id    TEXT NOT NULL,
			profile_id TEXT NOT NULL,
			PRIMARY KEY (user_id, profile_id)
		)`,
	}
)

// The statements of the baseline, written with ? placeholders.
const (
	bareCreate = `INSERT INTO {b}items (id, profile_id, resource_type,
		resource_id, description, requested_by, status, required,
		approved, advanced, created_at)
		VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, 0, FALSE, ?)`

	// bareApproveUpdate counts an approval and decides the item when
	// it reaches the threshold: time, advanced now, id. The count is
	// assigned last, since MySQL gives later assignments the values of
	// earlier ones.
	bareApproveUpdate = `UPDATE {b}items SET
		status = CASE WHEN approved + 1 >= required
			THEN 'approved' ELSE 'pending' END,
		decided_at = CASE WHEN approved + 1 >= required THEN ? END,
		advanced = approved + 1 >= required AND ?,
		approved = approved + 1
		WHERE id = ? AND status = 'pending'`

	bareApproveRow = `INSERT INTO {b}approvals
		(item_id, user_id, comment, approved_at) VALUES (?, ?, ?, ?)`

	// bareReject: user, reason, time, advanced now, id.
	bareReject = `UPDATE {b}items SET status = 'rejected',
		rejected_by = ?, reason = ?, decided_at = ?, advanced = ?
		WHERE id = ? AND status = 'pending'`

	bareMark = `UPDATE {b}items SET advanced = TRUE WHERE id = ?`

	// barePostgresMark is bareMark committed without waiting for the
	// disk, as the library records an advance: id.
	barePostgresMark = `UPDATE {b}items i SET advanced = TRUE
		FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async
		WHERE i.id = ?`

	bareListPending = `SELECT ` + bareCols + ` FROM {b}items
		WHERE status = 'pending' ORDER BY id LIMIT 50`

	// bareInbox lists the Pending items of the profiles that list the
	// user, which the user neither requested nor approved: user three
	// times. {hint} makes MySQL read Pending items in ID order, as the
	// other databases choose to; left to itself, MariaDB reads every
	// Pending item of the user's profiles and sorts them.
	bareInbox = `SELECT ` + bareCols + ` FROM {b}items i {hint}
		WHERE status = 'pending'
		AND profile_id IN (SELECT profile_id FROM {b}approvers
			WHERE user_id = ?)
		AND requested_by <> ?
		AND NOT EXISTS (SELECT 1 FROM {b}approvals a
			WHERE a.item_id = i.id AND a.user_id = ?)
		ORDER BY id LIMIT 50`

	// barePostgresApprove is the approval in one statement: id, user,
	// comment, time, advanced now.
	barePostgresApprove = `WITH item AS (
			SELECT id FROM {b}items
			WHERE id = $1 AND status = 'pending'
			FOR UPDATE
		), added AS (
			INSERT INTO {b}approvals (item_id, user_id, comment, approved_at)
			SELECT id, $2, $3, $4 FROM item
			ON CONFLICT DO NOTHING
			RETURNING item_id
		)
		UPDATE {b}items i SET
			status = CASE WHEN i.approved + 1 >= i.required
				THEN 'approved' ELSE 'pending' END,
			decided_at = CASE WHEN i.approved + 1 >= i.required THEN $4 END,
			advanced = i.approved + 1 >= i.required AND $5,
			approved = i.approved + 1
		FROM added WHERE i.id = added.item_id
		RETURNING i.status`
)

// bareGet reads an item with its approvals, one row per approval.
var bareGet = `SELECT ` + qualifyCols("i", bareCols) + `,
	a.user_id, a.comment, a.approved_at
	FROM {b}items i LEFT JOIN {b}approvals a ON a.item_id = i.id
	WHERE i.id = ?`

func bareQueriesFor(d sqlstore.Dialect, prefix string) bareQueries {
	q := bareQueries{
		create:      bareCreate,
		approve:     bareApproveUpdate,
		approveRow:  bareApproveRow,
		reject:      bareReject,
		mark:        bareMark,
		get:         bareGet,
		listPending: bareListPending,
		inbox:       bareInbox,
	}

	switch d {
	case sqlstore.Postgres:
		q.schema = barePostgresSchema
		q.approve = barePostgresApprove
		q.mark = barePostgresMark
	case sqlstore.MySQL:
		q.schema = bareMySQLSchema
	default:
		q.schema = bareSQLiteSchema
	}

	hint := ""
	if d == sqlstore.MySQL {
		hint = "FORCE INDEX (status_id)"
	}

	fix := func(text string) string {
		text = strings.ReplaceAll(text, "{hint}", hint)
		return rebind(d, strings.ReplaceAll(text, "{b}", prefix))
	}

	q.schema = append([]string(nil), q.schema...)
	for i := range q.schema {
		q.schema[i] = fix(q.schema[i])
	}

	for _, t := range []*string{
		&q.create, &q.approve, &q.approveRow, &q.reject, &q.mark,
		&q.get, &q.listPending, &q.inbox,
	} {
		*t = fix(*t)
	}

	return q
}

// qualifyCols puts alias. before each of a list of columns.
func qualifyCols(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}

	return strings.Join(parts, ", ")
}
