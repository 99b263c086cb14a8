package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
	sqlstore "github.com/otpki/workitems/storage/sql"
)

// gatedTable is the host's own table of gated requests in the tests:
// one row per advance, so that a second advance shows as a second
// row.
type gatedTable struct {
	dialect sqlstore.Dialect
	name    string
}

// newGatedTable creates the host table beside the store's tables
// with the same prefix, and drops it when the test ends.
func newGatedTable(t *testing.T, b backend, db *sql.DB, prefix string) gatedTable {
	t.Helper()

	g := gatedTable{dialect: b.dialect, name: prefix + "gated_requests"}
	_, err := db.ExecContext(t.Context(), "CREATE TABLE "+g.name+` (
		work_item_id VARCHAR(255) NOT NULL,
		resource_id  VARCHAR(255) NOT NULL,
		outcome      VARCHAR(16) NOT NULL)`)
	require.NoError(t, err)

	t.Cleanup(func() {
		ctx, cancel := contextWithTimeout(time.Minute)
		defer cancel()

		_, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+g.name)
		require.NoError(t, err)
	})

	return g
}

// record inserts the advance of w on tx.
func (g gatedTable) record(ctx context.Context, tx *sql.Tx, w approval.WorkItem) error {
	_, err := tx.ExecContext(ctx, rebind(g.dialect, "INSERT INTO "+g.name+
		" (work_item_id, resource_id, outcome) VALUES (?, ?, ?)"),
		w.ID, w.ResourceID, string(w.Status))

	return err
}

// once returns an advancer that records each work item's advance at
// most once, keyed by its ID, as the engine asks of a host.
func (g gatedTable) once(db *sql.DB) approval.ResourceAdvancer {
	from := ""
	if g.dialect == sqlstore.MySQL {
		from = " FROM DUAL"
	}

	text := rebind(g.dialect, "INSERT INTO "+g.name+
		" (work_item_id, resource_id, outcome) SELECT ?, ?, ?"+from+
		" WHERE NOT EXISTS (SELECT 1 FROM "+g.name+" WHERE work_item_id = ?)")

	return approval.AdvancerFunc(func(ctx context.Context, w approval.WorkItem) error {
		_, err := db.ExecContext(ctx, text, w.ID, w.ResourceID, string(w.Status), w.ID)
		return err
	})
}

// outcomes returns the outcomes recorded per work item.
func (g gatedTable) outcomes(ctx context.Context, t *testing.T,
	db *sql.DB,
) map[string][]approval.Status {
	t.Helper()

	rows, err := db.QueryContext(ctx, "SELECT work_item_id, outcome FROM "+g.name)
	require.NoError(t, err)
	defer rows.Close()

	out := make(map[string][]approval.Status)
	for rows.Next() {
		var id, outcome string
		require.NoError(t, rows.Scan(&id, &outcome))
		out[id] = append(out[id], approval.Status(outcome))
	}
	require.NoError(t, rows.Err())

	return out
}

// neverAdvancer fails the test when the engine calls it: with a store
// that advances in its transaction, it must not.
func neverAdvancer(t *testing.T) approval.ResourceAdvancer {
	t.Helper()

	return approval.AdvancerFunc(func(_ context.Context, w approval.WorkItem) error {
		t.Errorf("engine advanced %s itself", w.ID)
		return nil
	})
}

// txBundle is an engine over a store that advances in its
// transaction into a host table.
type txBundle struct {
	db     *sql.DB
	store  *sqlstore.Store
	engine *approval.Engine
	gated  gatedTable

	// fail, when set, makes the advancer fail after its insert.
	fail atomic.Pointer[error]

	// inside runs in the advancer after its insert, if set.
	inside func(ctx context.Context, tx *sql.Tx, w approval.WorkItem)
	calls  atomic.Int64
}

func newTxBundle(t *testing.T, b backend) *txBundle {
	t.Helper()

	tb := &txBundle{db: b.open(t)}
	prefix := randomPrefix(t)

	var err error
	tb.store, err = sqlstore.New(tb.db, b.dialect, &sqlstore.Config{
		TablePrefix: prefix,
		TxAdvancer:  sqlstore.TxAdvancerFunc(tb.advance),
	})
	require.NoError(t, err)
	require.NoError(t, tb.store.Migrate(t.Context()))
	dropOnCleanup(t, tb.db, tb.store)
	require.True(t, tb.store.AdvancesInTx())

	tb.gated = newGatedTable(t, b, tb.db, prefix)
	tb.engine, err = approval.NewEngine(tb.store, neverAdvancer(t), nil)
	require.NoError(t, err)

	return tb
}

func (tb *txBundle) advance(ctx context.Context, tx *sql.Tx, w approval.WorkItem) error {
	tb.calls.Add(1)

	if err := tb.gated.record(ctx, tx, w); err != nil {
		return err
	}

	if tb.inside != nil {
		tb.inside(ctx, tx, w)
	}

	if err := tb.fail.Load(); err != nil {
		return *err
	}

	return nil
}

func (tb *txBundle) profile(t *testing.T, required int, users ...string) approval.Profile {
	t.Helper()

	p, err := tb.engine.CreateProfile(t.Context(), approval.Profile{
		Name:              "In transaction " + randomHex(t),
		RequiredApprovals: required,
		Approvers:         approval.Approvers{Users: users},
	})
	require.NoError(t, err)

	return p
}

func (tb *txBundle) item(t *testing.T, p approval.Profile, resource string) approval.WorkItem {
	t.Helper()

	w, err := tb.engine.CreateWorkItem(t.Context(), approval.WorkItemSpec{
		ProfileID:    p.ID,
		ResourceType: approval.IssuanceRequest,
		ResourceID:   resource,
	})
	require.NoError(t, err)

	return w
}

func randomHex(t *testing.T) string {
	t.Helper()

	return randomPrefix(t)[1:11]
}

func TestTxAdvancer(t *testing.T) {
	t.Parallel()

	forEachBackend(t, func(t *testing.T, b backend) {
		t.Helper()

		t.Run("AdvancesInTheDecisionsTransaction", func(t *testing.T) {
			t.Parallel()
			testTxAdvanceSameTx(t, b)
		})

		t.Run("FailureRollsBackTheDecision", func(t *testing.T) {
			t.Parallel()
			testTxAdvanceFailure(t, b)
		})

		t.Run("ExactlyOnceUnderConcurrency", func(t *testing.T) {
			t.Parallel()
			testTxAdvanceExactlyOnce(t, b)
		})

		t.Run("StaleApprovalThatDecidesAdvances", func(t *testing.T) {
			t.Parallel()
			testTxAdvanceStaleDecision(t, b)
		})

		t.Run("UnreadApprovalsAdvanceWhenTheyDecide", func(t *testing.T) {
			t.Parallel()
			testTxAdvanceUnread(t, b)
		})
	})
}

// testTxAdvanceUnread applies approvals derived without a read of the
// item: the one that leaves it Pending advances nothing, and the one
// that decides it advances it in its transaction.
func testTxAdvanceUnread(t *testing.T, b backend) {
	t.Helper()

	ctx := t.Context()
	tb := newTxBundle(t, b)
	p := tb.profile(t, 3, "alice", "bob", "carol")
	w := tb.item(t, p, "ir-1")

	now := time.Now().UTC().Truncate(time.Microsecond)
	lease := approval.Lease{Owner: "engine-a", Until: now.Add(time.Minute)}
	approve := func(user string) approval.WorkItem {
		c, ok := approval.ApproveUnread(w.ID, []approval.Profile{p},
			approval.Principal{UserID: user}, "", now, lease)
		require.True(t, ok)

		got, err := tb.store.Apply(ctx, c)
		require.NoError(t, err)

		stored, err := tb.store.GetWorkItem(ctx, w.ID)
		require.NoError(t, err)
		require.Equal(t, got, stored)

		return got
	}

	for _, user := range []string{"alice", "bob"} {
		got := approve(user)
		require.Equal(t, approval.StatusPending, got.Status)
		require.Zero(t, tb.calls.Load())
	}

	got := approve("carol")
	require.Equal(t, approval.StatusApproved, got.Status)
	require.Equal(t, approval.Advance{
		State: approval.AdvanceDone, Attempts: 1, AdvancedAt: now,
	}, got.Advance)
	require.EqualValues(t, 1, tb.calls.Load())
	require.Equal(t, map[string][]approval.Status{
		w.ID: {approval.StatusApproved},
	}, tb.gated.outcomes(ctx, t, tb.db))
}

// testTxAdvanceStaleDecision applies an approval derived as one that
// leaves the item Pending after another approval came first, so that
// on the item as stored it decides: the store decides and advances it
// in one transaction all the same.
func testTxAdvanceStaleDecision(t *testing.T, b backend) {
	t.Helper()

	ctx := t.Context()
	tb := newTxBundle(t, b)
	p := tb.profile(t, 2, "alice", "bob")
	w := tb.item(t, p, "ir-1")

	read, prof, err := tb.store.GetWorkItemAndProfile(ctx, w.ID)
	require.NoError(t, err)

	now := time.Now().UTC().Truncate(time.Microsecond)
	c, err := approval.Approve(read, prof, approval.Principal{UserID: "alice"},
		"", now, approval.Lease{Owner: "engine-a", Until: now.Add(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, approval.StatusPending, c.Item.Status)

	_, err = tb.engine.Approve(ctx, w.ID, approval.Principal{UserID: "bob"}, "")
	require.NoError(t, err)
	require.Zero(t, tb.calls.Load())

	got, err := tb.store.Apply(ctx, c)
	require.NoError(t, err)
	require.Equal(t, approval.StatusApproved, got.Status)
	require.Equal(t, approval.AdvanceDone, got.Advance.State)
	require.Len(t, got.Approvals, 2)
	require.EqualValues(t, 1, tb.calls.Load())

	stored, err := tb.store.GetWorkItem(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, got, stored)
	require.Equal(t, map[string][]approval.Status{
		w.ID: {approval.StatusApproved},
	}, tb.gated.outcomes(ctx, t, tb.db))
}

// testTxAdvanceSameTx looks at the work item from inside the
// advancer: its transaction already sees the decision, while another
// connection does not until the commit.
func testTxAdvanceSameTx(t *testing.T, b backend) {
	t.Helper()

	tb := newTxBundle(t, b)
	p := tb.profile(t, 2, "alice", "bob")

	status := rebind(b.dialect, "SELECT status FROM "+
		tb.store.TablePrefix()+"work_items WHERE id = ?")

	var inTx, outside []approval.Status
	tb.inside = func(ctx context.Context, tx *sql.Tx, w approval.WorkItem) {
		var s string
		require.NoError(t, tx.QueryRowContext(ctx, status, w.ID).Scan(&s))
		inTx = append(inTx, approval.Status(s))

		require.NoError(t, tb.db.QueryRowContext(ctx, status, w.ID).Scan(&s))
		outside = append(outside, approval.Status(s))
	}

	approved := tb.item(t, p, "ir-approved")
	rejected := tb.item(t, p, "ir-rejected")
	alice := approval.Principal{UserID: "alice"}
	bob := approval.Principal{UserID: "bob"}

	w, err := tb.engine.Approve(t.Context(), approved.ID, alice, "")
	require.NoError(t, err)
	require.Equal(t, approval.StatusPending, w.Status)
	require.Zero(t, tb.calls.Load(), "an approval that decides nothing advances nothing")

	w, err = tb.engine.Approve(t.Context(), approved.ID, bob, "")
	require.NoError(t, err)
	require.Equal(t, approval.StatusApproved, w.Status)
	require.Equal(t, approval.AdvanceDone, w.Advance.State)

	w, err = tb.engine.Reject(t.Context(), rejected.ID, bob, "no")
	require.NoError(t, err)
	require.Equal(t, approval.StatusRejected, w.Status)

	require.Equal(t, []approval.Status{approval.StatusApproved, approval.StatusRejected}, inTx)
	require.Equal(t, []approval.Status{approval.StatusPending, approval.StatusPending}, outside)

	require.Equal(t, map[string][]approval.Status{
		approved.ID: {approval.StatusApproved},
		rejected.ID: {approval.StatusRejected},
	}, tb.gated.outcomes(t.Context(), t, tb.db))

	for _, id := range []string{approved.ID, rejected.ID} {
		got, err := tb.engine.GetWorkItem(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, approval.AdvanceDone, got.Advance.State)
		require.Equal(t, got.DecidedAt, got.Advance.AdvancedAt)
	}

	n, err := tb.engine.ResumeAdvances(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "nothing is left for a dispatcher")
}

// errGatedLocked is what a failing host advancer returns.
var errGatedLocked = errors.New("gated request is locked by an operator")

// testTxAdvanceFailure fails the advancer after it wrote to the host
// table: the decision, the approval row and the host row all roll
// back, and the call says why.
func testTxAdvanceFailure(t *testing.T, b backend) {
	t.Helper()

	tb := newTxBundle(t, b)
	p := tb.profile(t, 2, "alice", "bob", "carol")
	w := tb.item(t, p, "ir-1")
	alice := approval.Principal{UserID: "alice"}
	bob := approval.Principal{UserID: "bob"}

	_, err := tb.engine.Approve(t.Context(), w.ID, alice, "first")
	require.NoError(t, err)

	fail := errGatedLocked
	tb.fail.Store(&fail)

	_, err = tb.engine.Approve(t.Context(), w.ID, bob, "second")
	require.ErrorIs(t, err, errGatedLocked)
	require.NotErrorIs(t, err, approval.ErrNotAdvanced, "nothing was decided")
	require.NotErrorIs(t, err, approval.ErrAlreadyApproved)

	_, err = tb.engine.Reject(t.Context(), w.ID, bob, "no")
	require.ErrorIs(t, err, errGatedLocked)

	// A unique violation in the host's table is the host's error, not
	// a second approval.
	dup := fmt.Errorf("host: %w", uniqueViolation(t, b, tb.db))
	tb.fail.Store(&dup)
	_, err = tb.engine.Approve(t.Context(), w.ID, bob, "second")
	require.Error(t, err)
	require.NotErrorIs(t, err, approval.ErrAlreadyApproved)

	got, err := tb.engine.GetWorkItem(t.Context(), w.ID)
	require.NoError(t, err)
	require.Equal(t, approval.StatusPending, got.Status)
	require.Equal(t, int64(2), got.Version)
	require.Len(t, got.Approvals, 1)
	require.Empty(t, tb.gated.outcomes(t.Context(), t, tb.db), "host table untouched")
	requireNoPartialRows(t, checkInvariants(t.Context(), t, tb.db, tb.store))

	tb.fail.Store(nil)
	got, err = tb.engine.Approve(t.Context(), w.ID, bob, "second")
	require.NoError(t, err)
	require.Equal(t, approval.StatusApproved, got.Status)
	require.Equal(t, map[string][]approval.Status{w.ID: {approval.StatusApproved}},
		tb.gated.outcomes(t.Context(), t, tb.db))
}

// uniqueViolation returns a real unique violation of the dialect.
func uniqueViolation(t *testing.T, b backend, db *sql.DB) error {
	t.Helper()

	name := randomPrefix(t) + "dup"
	_, err := db.ExecContext(t.Context(), "CREATE TABLE "+name+" (id INTEGER PRIMARY KEY)")
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := db.ExecContext(context.Background(), "DROP TABLE "+name)
		require.NoError(t, err)
	})

	insert := rebind(b.dialect, "INSERT INTO "+name+" (id) VALUES (?)")
	_, err = db.ExecContext(t.Context(), insert, 1)
	require.NoError(t, err)
	_, err = db.ExecContext(t.Context(), insert, 1)
	require.Error(t, err)

	return err
}

// testTxAdvanceExactlyOnce races approvals and rejections of the same
// work items on several engines, each on its own pool as separate
// processes would be: the host table shows each decision once.
func testTxAdvanceExactlyOnce(t *testing.T, b backend) {
	t.Helper()

	const (
		engines  = 4
		users    = 6
		required = 3
	)
	items := faultTrials(16)

	prefix := randomPrefix(t)
	var (
		gated gatedTable
		first *sqlstore.Store
		db0   *sql.DB
		calls atomic.Int64
		es    = make([]*approval.Engine, engines)
	)
	for i := range es {
		db := b.open(t)
		db.SetMaxOpenConns(6)

		s, err := sqlstore.New(db, b.dialect, &sqlstore.Config{
			TablePrefix: prefix,
			TxAdvancer: sqlstore.TxAdvancerFunc(func(ctx context.Context,
				tx *sql.Tx, w approval.WorkItem,
			) error {
				calls.Add(1)
				return gated.record(ctx, tx, w)
			}),
		})
		require.NoError(t, err)

		if first == nil {
			require.NoError(t, s.Migrate(t.Context()))
			dropOnCleanup(t, db, s)
			gated = newGatedTable(t, b, db, prefix)
			first, db0 = s, db
		}

		es[i], err = approval.NewEngine(s, neverAdvancer(t), &approval.Config{
			InstanceID: fmt.Sprintf("engine-%d", i),
		})
		require.NoError(t, err)
	}

	ids := contentionItems(t, es[0], items, users, required)

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins = make(map[string]int)
	)
	for n, id := range ids {
		for u := range users {
			e := es[(n+u)%engines]
			p := approval.Principal{UserID: fmt.Sprintf("user-%d", u)}

			wg.Add(1)
			go func() {
				defer wg.Done()

				var (
					w   approval.WorkItem
					err error
				)
				if u == n%users {
					w, err = e.Reject(t.Context(), id, p, "no")
				} else {
					w, err = e.Approve(t.Context(), id, p, "ok")
				}

				if err != nil && !errors.Is(err, approval.ErrNotPending) {
					t.Errorf("%s by %s: %v", id, p.UserID, err)
				}

				if err == nil && w.Status.Decided() {
					mu.Lock()
					wins[id]++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()

	outcomes := gated.outcomes(t.Context(), t, db0)
	for _, id := range ids {
		w, err := es[1].GetWorkItem(t.Context(), id)
		require.NoError(t, err)
		require.True(t, w.Status.Decided(), "%s is %s", id, w.Status)
		require.Equal(t, approval.AdvanceDone, w.Advance.State)
		require.Equal(t, []approval.Status{w.Status}, outcomes[id], "advances of %s", id)
		require.Equal(t, 1, wins[id], "calls that decided %s", id)
	}
	require.Len(t, outcomes, items)

	rep := checkInvariants(t.Context(), t, db0, first)
	requireNoPartialRows(t, rep)

	n, err := es[2].ResumeAdvances(t.Context())
	require.NoError(t, err)
	require.Zero(t, n)

	t.Logf("%s: advance in transaction: %d items decided by %d engines racing, "+
		"%d advancer calls in all, each decision in the host table once",
		b.name, items, engines, calls.Load())
}
