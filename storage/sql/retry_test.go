package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
	sqlstore "github.com/otpki/workitems/storage/sql"
)

// injectBound is the store's RetryAttempts in these tests.
const injectBound = 3

// injectedError is an error of a driver, as it returns it.
type injectedError struct {
	name string
	err  error

	// fatal says no retry can help.
	fatal bool
}

// retryableErrors returns the errors of b's driver that mean the
// database aborted the transaction: built with the driver's own error
// types, or for SQLite provoked from the real library.
func retryableErrors(t *testing.T, b backend) []injectedError {
	t.Helper()

	switch b.dialect {
	case sqlstore.Postgres:
		return []injectedError{
			{"SerializationFailure", &pgconn.PgError{
				Severity: "ERROR", Code: "40001",
				Message: "could not serialize access due to concurrent update",
			}, false},
			{"Deadlock", &pgconn.PgError{
				Severity: "ERROR", Code: "40P01", Message: "deadlock detected",
			}, false},
		}
	case sqlstore.MySQL:
		return []injectedError{
			{"Deadlock", &mysql.MySQLError{
				Number: 1213, SQLState: [5]byte{'4', '0', '0', '0', '1'},
				Message: "Deadlock found when trying to get lock; " +
					"try restarting transaction",
			}, false},
			{"LockWaitTimeout", &mysql.MySQLError{
				Number: 1205, SQLState: [5]byte{'H', 'Y', '0', '0', '0'},
				Message: "Lock wait timeout exceeded; try restarting transaction",
			}, false},
		}
	default:
		return []injectedError{{"Busy", sqliteBusy(t), false}}
	}
}

// fatalError returns an error of b's driver that no retry can help.
func fatalError(t *testing.T, b backend) injectedError {
	t.Helper()

	switch b.dialect {
	case sqlstore.Postgres:
		return injectedError{"DiskFull", &pgconn.PgError{
			Severity: "ERROR", Code: "53100",
			Message: "could not extend file: No space left on device",
		}, true}
	case sqlstore.MySQL:
		return injectedError{"TableFull", &mysql.MySQLError{
			Number: 1114, SQLState: [5]byte{'H', 'Y', '0', '0', '0'},
			Message: "The table 'workitems_approvals' is full",
		}, true}
	default:
		return injectedError{"Full", sqliteFull(t), true}
	}
}

// sqliteCoder is what modernc.org/sqlite errors expose.
type sqliteCoder interface {
	Code() int
}

// sqliteBusy returns the error SQLite gives a second writer that may
// not wait.
func sqliteBusy(t *testing.T) error {
	t.Helper()

	ctx := t.Context()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "busy.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })

	holder, err := db.Conn(ctx)
	require.NoError(t, err)
	defer holder.Close()

	_, err = holder.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err)

	other, err := db.Conn(ctx)
	require.NoError(t, err)
	defer other.Close()

	_, busy := other.ExecContext(ctx, "BEGIN IMMEDIATE")

	var c sqliteCoder
	require.ErrorAs(t, busy, &c)
	require.Equal(t, 5, c.Code()&0xff, "SQLITE_BUSY: %v", busy)

	_, err = holder.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)

	return busy
}

// sqliteFull returns the error of a database file that may not grow.
func sqliteFull(t *testing.T) error {
	t.Helper()

	ctx := t.Context()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "full.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })

	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()

	_, err = conn.ExecContext(ctx, "CREATE TABLE big (b BLOB)")
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "PRAGMA max_page_count = 4")
	require.NoError(t, err)

	_, full := conn.ExecContext(ctx, "INSERT INTO big VALUES (zeroblob(1000000))")

	var c sqliteCoder
	require.ErrorAs(t, full, &c)
	require.Equal(t, 13, c.Code()&0xff, "SQLITE_FULL: %v", full)

	return full
}

// injectCase is one statement to fail and the change that runs it.
type injectCase struct {
	name  string
	point string

	// act is approve (a first approval), reject, or advance (a final
	// approval on a store that advances in its transaction).
	act string

	// afterWrite says the point runs after the item's update in the
	// same transaction, so each attempt updates the item again.
	afterWrite bool
}

func injectCases(d sqlstore.Dialect) []injectCase {
	cases := []injectCase{
		{"ApprovalWrite", "write", "approve", false},
		{"RejectionWrite", "write", "reject", false},
		{"AdvanceInTxWrite", "write", "advance", false},
		{"AdvanceInTxHostStatement", "host", "advance", true},
		{"AdvanceInTxCommit", "commit", "advance", true},
	}

	switch d {
	case sqlstore.MySQL:
		cases = append(cases,
			injectCase{"ApprovalRow", "approval", "approve", true},
			injectCase{"ApprovalCommit", "commit", "approve", true})
	case sqlstore.SQLite:
		cases = append(cases,
			injectCase{"ApprovalRow", "approval", "approve", true},
			injectCase{"ApprovalBegin", "begin", "approve", false},
			injectCase{"ApprovalCommit", "commit", "approve", true},
			injectCase{"AdvanceInTxBegin", "begin", "advance", false})
	}

	return cases
}

// TestInjectedErrors makes chosen statements fail with the driver's
// own errors: a retryable error is retried with the whole
// transaction, up to the bound, after which the store gives up with
// ErrConflict; any other error is returned at once.
func TestInjectedErrors(t *testing.T) {
	t.Parallel()

	forEachBackend(t, testInjectedErrors)
}

// injectRig is a store over a pool whose statements an injector can
// fail, and a second store on the same tables that advances in its
// transaction.
type injectRig struct {
	inj    *injector
	db     *sql.DB
	plain  *sqlstore.Store
	inTx   *sqlstore.Store
	gated  gatedTable
	twoOf  approval.Profile
	oneOf  approval.Profile
	serial int
}

func newInjectRig(t *testing.T, b backend) *injectRig {
	t.Helper()

	r := &injectRig{inj: newInjector()}
	r.db = openFaulty(t, b, r.inj)
	prefix := randomPrefix(t)

	var err error
	r.plain, err = sqlstore.New(r.db, b.dialect, &sqlstore.Config{
		TablePrefix: prefix, RetryAttempts: injectBound,
	})
	require.NoError(t, err)
	require.NoError(t, r.plain.Migrate(t.Context()))
	dropOnCleanup(t, r.db, r.plain)

	r.gated = newGatedTable(t, b, r.db, prefix)
	r.inTx, err = sqlstore.New(r.db, b.dialect, &sqlstore.Config{
		TablePrefix: prefix, RetryAttempts: injectBound,
		TxAdvancer: sqlstore.TxAdvancerFunc(func(ctx context.Context,
			tx *sql.Tx, w approval.WorkItem,
		) error {
			return r.gated.record(ctx, tx, w)
		}),
	})
	require.NoError(t, err)

	r.twoOf = r.profile(t, "two", 2)
	r.oneOf = r.profile(t, "one", 1)

	return r
}

func (r *injectRig) profile(t *testing.T, name string, required int) approval.Profile {
	t.Helper()

	p := approval.Profile{
		ID: "p-" + name, Name: "inject " + name, RequiredApprovals: required,
		Approvers: approval.Approvers{Users: []string{"alice", "bob"}},
		Version:   1,
	}
	require.NoError(t, r.plain.CreateProfile(t.Context(), p))

	return p
}

// change creates a work item and derives the change tc makes to it.
func (r *injectRig) change(t *testing.T, tc injectCase) (approval.Change, *sqlstore.Store) {
	t.Helper()

	p, s := r.twoOf, r.plain
	if tc.act == "advance" {
		p, s = r.oneOf, r.inTx
	}

	r.serial++
	now := time.Now().UTC().Truncate(time.Microsecond)
	w := approval.WorkItem{
		ID:                fmt.Sprintf("item-%04d", r.serial),
		ProfileID:         p.ID,
		ResourceType:      approval.IssuanceRequest,
		ResourceID:        fmt.Sprintf("ir-%d", r.serial),
		Status:            approval.StatusPending,
		RequiredApprovals: p.RequiredApprovals,
		Version:           1,
		CreatedAt:         now,
	}
	require.NoError(t, r.plain.CreateWorkItem(t.Context(), w, p.Version))

	alice := approval.Principal{UserID: "alice"}
	lease := approval.Lease{Owner: "engine", Until: now.Add(time.Minute)}

	var (
		c   approval.Change
		err error
	)
	if tc.act == "reject" {
		c, err = approval.Reject(w, p, alice, "no", now, lease)
	} else {
		c, err = approval.Approve(w, p, alice, "ok", now, lease)
	}
	require.NoError(t, err)

	if tc.act == "advance" {
		c = approval.AdvancedWithDecision(c)
	}

	return c, s
}

// injectTally counts the outcomes of one backend's trials.
type injectTally struct {
	injected, recovered, gaveUp, fatal, trials int
}

func testInjectedErrors(t *testing.T, b backend) {
	t.Helper()

	r := newInjectRig(t, b)
	fatal := fatalError(t, b)

	var tally injectTally
	for _, tc := range injectCases(b.dialect) {
		for _, e := range retryableErrors(t, b) {
			// One failure fewer than the bound: the last attempt wins.
			r.trial(t, tc, e, injectBound-1, &tally)

			// As many failures as the bound: the store gives up.
			r.trial(t, tc, e, injectBound, &tally)
		}

		r.trial(t, tc, fatal, 1, &tally)
	}

	t.Logf("%s: injected %d errors over %d trials: %d retried whole to success "+
		"within %d attempts, %d gave up as ErrConflict after %d attempts, "+
		"%d non-retryable returned after 1 attempt",
		b.name, tally.injected, tally.trials, tally.recovered, injectBound,
		tally.gaveUp, injectBound, tally.fatal)
}

// trial fails tc's statement times times with e and checks what the
// store did.
func (r *injectRig) trial(t *testing.T, tc injectCase, e injectedError,
	times int, tally *injectTally,
) {
	t.Helper()

	ctx := t.Context()
	c, s := r.change(t, tc)
	before, err := r.plain.GetWorkItem(ctx, c.Item.ID)
	require.NoError(t, err)

	r.inj.failNext(tc.point, e.err, times)
	_, applyErr := s.Apply(ctx, c)
	attempts, writes := r.inj.count(tc.point), r.inj.count("write")
	r.inj.failNext("", nil, 0)

	tally.trials++
	tally.injected += min(times, attempts)

	retryable := !e.fatal
	what := fmt.Sprintf("%s, %s x%d", tc.name, e.name, times)

	after, err := r.plain.GetWorkItem(ctx, c.Item.ID)
	require.NoError(t, err)
	rows, err := r.plain.CountApprovals(ctx, c.Item.ID)
	require.NoError(t, err)
	hosted := len(r.gated.outcomes(ctx, t, r.db)[c.Item.ID])

	switch {
	case retryable && times < injectBound:
		require.NoError(t, applyErr, what)
		require.Equal(t, times+1, attempts, what)
		require.Equal(t, c.Item.Version, after.Version, "%s: written once", what)
		require.Equal(t, c.Item.Status, after.Status, what)
		require.Equal(t, len(c.Item.Approvals), rows, what)
		if tc.act == "advance" {
			require.Equal(t, 1, hosted, what)
		}
		tally.recovered++

	case retryable:
		require.ErrorIs(t, applyErr, approval.ErrConflict, what)
		require.ErrorIs(t, applyErr, e.err, what)
		require.Equal(t, injectBound, attempts, what)
		tally.gaveUp++

	default:
		require.ErrorIs(t, applyErr, e.err, what)
		require.NotErrorIs(t, applyErr, approval.ErrConflict, what)
		require.Equal(t, 1, attempts, "%s: not retried", what)
		tally.fatal++
	}

	if applyErr != nil {
		require.Equal(t, before, after, "%s: nothing written", what)
		require.Zero(t, rows, what)
		require.Zero(t, hosted, what)
	}

	// Each attempt ran the whole transaction again.
	wantWrites := attempts
	if !tc.afterWrite {
		wantWrites = 0
		if applyErr == nil {
			wantWrites = 1
		}
		if tc.point == "write" {
			wantWrites = attempts
		}
	}
	require.Equal(t, wantWrites, writes, "%s: item updates", what)
}
