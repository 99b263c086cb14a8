package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	sqlstore "github.com/otpki/workitems/storage/sql"
)

// bareSubject is the baseline: the least work each database needs for the
// effect of an operation, with the same durability, written by hand
// on a minimal schema. Work items keep a count of their approvals, and
// one approval row per approver, whose primary key refuses a second
// approval by the same user; partial indexes (where the database has
// them) cover only Pending items, which is all the listings read.
//
// An approval is one statement on PostgreSQL (a CTE that locks the
// Pending item, adds the approval row and updates the count and
// status) and a transaction of an update and an insert on MySQL and
// SQLite. A decision records its advance in the same write, as an
// advancer with nothing to do allows; with marked set, it is recorded
// in a second write of its own, the least a record of the advance
// needs when the advancer runs after the decision commits; on
// PostgreSQL it does not wait for the disk, as the library's record
// does not. With read
// set, an approval first reads the item with its approvals, as get
// does: the least a design needs that checks its rules in the program
// on an item it has not seen, and so the floor of two round trips.
type bareSubject struct {
	d      benchDB
	db     *countedDB
	q      bareQueries
	marked bool
	read   bool
	prefix string

	// stmts holds every statement of q, prepared once: a program that
	// runs the same statements again and again parses them once.
	stmts map[string]*sql.Stmt

	seq  atomic.Int64
	once sync.Once
}

// bareQueries holds the statements of the baseline, with the table
// prefix in place.
type bareQueries struct {
	schema      []string
	create      string
	approve     string
	approveRow  string
	reject      string
	mark        string
	get         string
	listPending string
	inbox       string
}

// The columns of a baseline work item, in the order scanned.
const bareCols = `id, profile_id, resource_type, resource_id,
	description, requested_by, status, required, approved,
	rejected_by, reason, advanced, created_at, decided_at`

var bareItemCols = strings.Split(strings.Join(strings.Fields(bareCols), ""), ",")

// newBare returns the baseline on a new pool of d with at most conns
// connections, recording advances and reading before approvals as v
// says.
func newBare(b *testing.B, d benchDB, conns int, v benchVariant) *bareSubject {
	b.Helper()

	s := &bareSubject{
		d: d, db: d.open(b, conns), marked: v.marked, read: v.read,
		prefix: benchPrefix("bare"),
	}
	s.q = bareQueriesFor(d.dialect, s.prefix)
	ctx := b.Context()

	for _, stmt := range s.q.schema {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			b.Fatalf("bare schema: %v\n%s", err, stmt)
		}
	}
	b.Cleanup(s.close)

	s.stmts = make(map[string]*sql.Stmt)
	for _, text := range []string{
		s.q.create, s.q.approve, s.q.approveRow, s.q.reject, s.q.mark,
		s.q.get, s.q.listPending, s.q.inbox,
	} {
		// close closes them.
		st, err := s.db.PrepareContext(ctx, text) //nolint:sqlclosecheck // see above
		if err != nil {
			b.Fatalf("prepare: %v\n%s", err, text)
		}
		s.stmts[text] = st
	}

	err := insertRows(ctx, s.db.DB, d.dialect,
		loadTable{s.prefix + "approvers", []string{"user_id", "profile_id"}},
		4, func(i int) []any {
			who := "u9"
			if i < 2 {
				who = inboxUser.UserID
			}

			return []any{who, "p" + strconv.Itoa(i)}
		})
	if err != nil {
		b.Fatal(err)
	}

	return s
}

func (s *bareSubject) trips() *tripCounter {
	return s.db.trips
}

func (s *bareSubject) close() {
	s.once.Do(func() {
		ctx, cancel := contextWithTimeout(time.Minute)
		defer cancel()

		for _, st := range s.stmts {
			_ = st.Close()
		}

		p := s.prefix
		_ = dropTables(ctx, s.db.DB, p+"approvals", p+"approvers", p+"items")
		_ = s.db.Close()
	})
}

func (s *bareSubject) create(ctx context.Context) error {
	n := s.seq.Add(1)

	_, err := s.stmts[s.q.create].ExecContext(ctx,
		uuid.Must(uuid.NewV7()).String(), "main", "enrollment_request",
		"er-c"+strconv.FormatInt(n, 10), benchDescription, benchRequester,
		3, benchTimeArg(s.d.dialect, benchNow()))

	return err
}

var errNotPending = errors.New("bare: work item is not pending")

func (s *bareSubject) approve(ctx context.Context, id string, u int) error {
	if s.read {
		if err := s.get(ctx, id); err != nil {
			return err
		}
	}

	at := benchTimeArg(s.d.dialect, benchNow())
	userID := benchUser(u).UserID

	if s.d.dialect == sqlstore.Postgres {
		var status string
		err := s.stmts[s.q.approve].QueryRowContext(ctx,
			id, userID, "", at, !s.marked).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return errNotPending
		}
		if err != nil {
			return err
		}

		return s.markAdvanced(ctx, id)
	}

	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Statements of a transaction close with it.
		update := tx.StmtContext(ctx, s.stmts[s.q.approve]) //nolint:sqlclosecheck // see above
		res, err := update.ExecContext(ctx, at, !s.marked, id)
		if err != nil {
			return err
		}

		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(errNotPending, err)
		}

		insert := tx.StmtContext(ctx, s.stmts[s.q.approveRow]) //nolint:sqlclosecheck // see above
		_, err = insert.ExecContext(ctx, id, userID, "", at)

		return err
	})
	if err != nil {
		return err
	}

	return s.markAdvanced(ctx, id)
}

// inTx runs fn in a transaction; on SQLite the DSN makes it begin
// IMMEDIATE.
func (s *bareSubject) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}

	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}

	return tx.Commit()
}

// markAdvanced records the advance in a write of its own, when the
// baseline is marked.
func (s *bareSubject) markAdvanced(ctx context.Context, id string) error {
	if !s.marked {
		return nil
	}

	_, err := s.stmts[s.q.mark].ExecContext(ctx, id)

	return err
}

func (s *bareSubject) reject(ctx context.Context, id string, u int) error {
	res, err := s.stmts[s.q.reject].ExecContext(ctx,
		benchUser(u).UserID, "no", benchTimeArg(s.d.dialect, benchNow()), !s.marked, id)
	if err != nil {
		return err
	}

	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errors.Join(errNotPending, err)
	}

	return s.markAdvanced(ctx, id)
}

// bareItem is a baseline work item as read, with its approvals.
type bareItem struct {
	id, profile, resourceType, resourceID string
	description, requestedBy, status      string
	required, approved                    int
	rejectedBy, reason                    sql.NullString
	advanced                              bool
	created, decided                      benchTime
	approvals                             []bareApproval
}

type bareApproval struct {
	user, comment string
	at            time.Time
}

func (w *bareItem) dest() []any {
	return []any{
		&w.id, &w.profile, &w.resourceType, &w.resourceID,
		&w.description, &w.requestedBy, &w.status, &w.required, &w.approved,
		&w.rejectedBy, &w.reason, &w.advanced, &w.created, &w.decided,
	}
}

func (s *bareSubject) get(ctx context.Context, id string) error {
	rows, err := s.stmts[s.q.get].QueryContext(ctx, id)
	if err != nil {
		return err
	}
	defer rows.Close()

	var w bareItem
	found := false
	for rows.Next() {
		var (
			u, c sql.NullString
			at   benchTime
		)
		if err := rows.Scan(append(w.dest(), &u, &c, &at)...); err != nil {
			return err
		}

		found = true
		if u.Valid {
			w.approvals = append(w.approvals, bareApproval{u.String, c.String, at.t})
		}
	}

	if err := rows.Err(); err != nil {
		return err
	}

	if !found {
		return fmt.Errorf("bare: work item %q not found", id)
	}

	return nil
}

func (s *bareSubject) listPending(ctx context.Context) (int, error) {
	return s.list(ctx, s.q.listPending)
}

func (s *bareSubject) inbox(ctx context.Context) (int, error) {
	u := inboxUser.UserID
	return s.list(ctx, s.q.inbox, u, u, u)
}

func (s *bareSubject) list(ctx context.Context, text string, args ...any) (int, error) {
	rows, err := s.stmts[text].QueryContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()

	items := make([]bareItem, 0, 50)
	for rows.Next() {
		var w bareItem
		if err := rows.Scan(w.dest()...); err != nil {
			return 0, err
		}
		items = append(items, w)
	}

	return len(items), rows.Err()
}

// bareRow is a baseline work item to load.
type bareRow struct {
	id, profile, resource string
	required, approved    int
	rejected              bool
}

func (s *bareSubject) load(b *testing.B, items []bareRow) {
	b.Helper()

	ctx := b.Context()
	d := s.d.dialect
	at := benchTimeArg(d, benchNow())

	err := insertRows(ctx, s.db.DB, d, loadTable{s.prefix + "items", bareItemCols},
		len(items), func(i int) []any {
			w := items[i]
			status, decided := "pending", any(nil)
			var rejBy, reason any
			if w.rejected {
				status, decided, rejBy, reason = "rejected", at, "u9", ""
			}

			return []any{
				w.id, w.profile, "enrollment_request", w.resource,
				benchDescription, benchRequester, status, w.required, w.approved,
				rejBy, reason, w.rejected, at, decided,
			}
		})
	if err != nil {
		b.Fatal(err)
	}

	type ref struct{ item, user int }
	var refs []ref
	for i, w := range items {
		for u := range w.approved {
			refs = append(refs, ref{i, u})
		}
	}

	err = insertRows(ctx, s.db.DB, d,
		loadTable{s.prefix + "approvals", []string{"item_id", "user_id", "comment", "approved_at"}},
		len(refs), func(i int) []any {
			r := refs[i]
			return []any{items[r.item].id, benchUser(r.user).UserID, "", at}
		})
	if err != nil {
		b.Fatal(err)
	}
}

func (*bareSubject) see(*testing.B, []string) {}

func (s *bareSubject) fresh(b *testing.B, n, required, before int) []string {
	b.Helper()

	items := make([]bareRow, n)
	ids := make([]string, n)
	for i := range items {
		ids[i] = uuid.Must(uuid.NewV7()).String()
		items[i] = bareRow{
			id:       ids[i],
			profile:  "main",
			resource: "er-f" + strconv.FormatInt(s.seq.Add(1), 10),
			required: required,
			approved: before,
		}
	}
	s.load(b, items)

	return ids
}

func (s *bareSubject) fill(b *testing.B, size int) {
	b.Helper()

	items := make([]bareRow, size)
	for i := range items {
		items[i] = bareRow{
			id:       fixtureID(i),
			profile:  "p" + strconv.Itoa(i%4),
			resource: "er-" + strconv.Itoa(i),
			required: 1,
			rejected: !fixturePending(i, size),
		}
	}
	s.load(b, items)

	p := s.prefix
	if err := analyzeTables(b.Context(), s.db.DB, s.d.dialect,
		p+"items", p+"approvals", p+"approvers"); err != nil {
		b.Fatal(err)
	}
}
