package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
	sqlstore "github.com/otpki/workitems/storage/sql"
	"github.com/otpki/workitems/storage/storagetest"
)

// withApplicationName returns a PostgreSQL DSN, URL or key=value,
// whose connections report name as their application_name.
func withApplicationName(t *testing.T, dsn, name string) string {
	t.Helper()

	if !strings.Contains(dsn, "://") {
		return dsn + " application_name=" + name
	}

	u, err := url.Parse(dsn)
	require.NoError(t, err)

	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()

	return u.String()
}

// killer terminates the server backends of the pools whose
// application_name it knows, from a pool of its own.
type killer struct {
	db     *sql.DB
	app    string
	armed  atomic.Bool
	killed atomic.Int64
	stop   chan struct{}
	done   chan struct{}
}

// Two ways to pick a victim: a backend in the middle of a statement
// or a transaction, or any of them, idle ones included.
const (
	killBusy = `SELECT count(*) FROM (
		SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
		WHERE application_name = $1 AND pid <> pg_backend_pid()
		AND state IN ('active', 'idle in transaction')
		ORDER BY random() LIMIT 1) k WHERE ok`
	killAny = `SELECT count(*) FROM (
		SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
		WHERE application_name = $1 AND pid <> pg_backend_pid()
		ORDER BY random() LIMIT 1) k WHERE ok`
)

// startKiller kills a connection of app every few milliseconds while
// armed, until the test ends or stopKiller is called.
func startKiller(t *testing.T, admin *sql.DB, app string) *killer {
	t.Helper()

	k := &killer{db: admin, app: app, stop: make(chan struct{}), done: make(chan struct{})}

	// The killer runs until its clean-up, after the test's context
	// has ended.
	ctx := context.WithoutCancel(t.Context())

	go func() {
		defer close(k.done)

		for {
			select {
			case <-k.stop:
				return
			case <-time.After(time.Duration(rand.IntN(4000)) * time.Microsecond):
			}

			if !k.armed.Load() {
				continue
			}

			text := killBusy
			if rand.IntN(4) == 0 {
				text = killAny
			}

			var n int64
			err := admin.QueryRowContext(ctx, text, app).Scan(&n)
			if err != nil {
				t.Errorf("kill a connection: %v", err)
				return
			}
			k.killed.Add(n)
		}
	}()

	t.Cleanup(k.halt)

	return k
}

// halt stops the killer and waits for it.
func (k *killer) halt() {
	select {
	case <-k.stop:
	default:
		close(k.stop)
	}
	<-k.done
}

// killTarget is a pool whose connections the killer may terminate.
func killTarget(t *testing.T, dsn, app string) *sql.DB {
	t.Helper()

	db, err := sql.Open("pgx", withApplicationName(t, dsn, app))
	require.NoError(t, err)
	db.SetMaxOpenConns(8)
	t.Cleanup(func() { require.NoError(t, db.Close()) })

	return db
}

// killRig is two engines on pools the killer works on, one advancing
// through the host's idempotent advancer and one in its transaction,
// and a pool the killer leaves alone for setup and checks.
type killRig struct {
	admin   *sql.DB
	store   *sqlstore.Store
	gated   gatedTable
	engines []*approval.Engine
	killer  *killer
}

func newKillRig(t *testing.T, b backend) *killRig {
	t.Helper()

	r := &killRig{admin: b.open(t)}
	dsn, app := pgDSN(t), "workitems_kill_"+randomHex(t)

	prefix := randomPrefix(t)
	r.store = newStore(t, b, r.admin, prefix)
	r.gated = newGatedTable(t, b, r.admin, prefix)

	plainDB, txDB := killTarget(t, dsn, app), killTarget(t, dsn, app)

	plain, err := sqlstore.New(plainDB, b.dialect, &sqlstore.Config{TablePrefix: prefix})
	require.NoError(t, err)
	inTx, err := sqlstore.New(txDB, b.dialect, &sqlstore.Config{
		TablePrefix: prefix,
		TxAdvancer:  sqlstore.TxAdvancerFunc(r.gated.record),
	})
	require.NoError(t, err)

	e1, err := approval.NewEngine(plain, r.gated.once(plainDB), nil)
	require.NoError(t, err)
	e2, err := approval.NewEngine(inTx, neverAdvancer(t), nil)
	require.NoError(t, err)
	r.engines = []*approval.Engine{e1, e2}

	r.killer = startKiller(t, r.admin, app)

	return r
}

// pgDSN returns the PostgreSQL DSN of the environment, skipping the
// test without one.
func pgDSN(t *testing.T) string {
	t.Helper()

	_, dsn := dsnOf(t, backend{dialect: sqlstore.Postgres})

	return dsn
}

// TestPostgresConnectionsKilled terminates the library's own
// PostgreSQL connections, found by application_name, at random
// moments while engines approve and reject: every call returns an
// error or succeeds, nothing is half written, every acknowledged
// approval is there, and histories stay linearizable.
func TestPostgresConnectionsKilled(t *testing.T) {
	t.Parallel()

	b := backends()[1]

	t.Run("Invariants", func(t *testing.T) {
		t.Parallel()
		testKilledInvariants(t, b)
	})

	t.Run("Linearizable", func(t *testing.T) {
		t.Parallel()
		testKilledLinearizable(t, b)
	})
}

// killUsers may approve the items of the kill tests.
var killUsers = []string{"k0", "k1", "k2", "k3", "k4", "k5"}

// ack is a call that succeeded, or was refused for a reason the
// final state must bear out: an approval, a rejection, or the
// creation of a work item.
type ack struct {
	item, user string
	reject     bool
	create     bool
	err        error
}

func testKilledInvariants(t *testing.T, b backend) {
	t.Helper()

	r := newKillRig(t, b)
	ctx := t.Context()

	setup, err := approval.NewEngine(r.store, r.gated.once(r.admin), nil)
	require.NoError(t, err)

	p, err := setup.CreateProfile(ctx, approval.Profile{
		Name:              "Killed connections",
		RequiredApprovals: 3,
		Approvers:         approval.Approvers{Users: killUsers},
	})
	require.NoError(t, err)

	const workers = 8
	calls := faultTrials(600)

	// About five calls per item: enough to decide most, with room
	// for refusals.
	items := make([]string, calls/5)
	for i := range items {
		w, err := setup.CreateWorkItem(ctx, approval.WorkItemSpec{
			ProfileID:    p.ID,
			ResourceType: approval.IssuanceRequest,
			ResourceID:   fmt.Sprintf("ir-%d", i),
		})
		require.NoError(t, err)
		items[i] = w.ID
	}

	var (
		mu     sync.Mutex
		acks   []ack
		failed int
		wg     sync.WaitGroup
		next   atomic.Int64
	)
	r.killer.armed.Store(true)
	for worker := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()

			e := r.engines[worker%len(r.engines)]
			for next.Add(1) <= int64(calls) {
				a := ack{
					item:   items[rand.IntN(len(items))],
					user:   killUsers[rand.IntN(len(killUsers))],
					reject: rand.IntN(15) == 0,
				}

				p := approval.Principal{UserID: a.user}
				if a.reject {
					_, a.err = e.Reject(ctx, a.item, p, "no")
				} else {
					_, a.err = e.Approve(ctx, a.item, p, "ok")
				}

				mu.Lock()
				if a.err == nil || domainRefusal(a.err) {
					acks = append(acks, a)
				} else {
					failed++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r.killer.halt()

	rep := checkInvariants(ctx, t, r.admin, r.store)
	requireNoPartialRows(t, rep)
	lost := requireAcksHold(t, setup, acks)

	// Every decision is advanced once its lease has run out, and the
	// host table holds one effect per decision.
	later, err := approval.NewEngine(r.store, r.gated.once(r.admin),
		&approval.Config{Clock: aheadClock{}})
	require.NoError(t, err)
	_, err = later.ResumeAdvances(ctx)
	require.NoError(t, err)

	outcomes := r.gated.outcomes(ctx, t, r.admin)
	for _, id := range items {
		w, err := setup.GetWorkItem(ctx, id)
		require.NoError(t, err)

		if !w.Status.Decided() {
			require.Empty(t, outcomes[id], id)
			continue
		}
		require.Equal(t, approval.AdvanceDone, w.Advance.State, id)
		require.Equal(t, []approval.Status{w.Status}, outcomes[id], id)
	}

	require.Positive(t, r.killer.killed.Load(), "the killer killed no connection")
	t.Logf("killed %d connections over %d calls (%d acknowledged, %d failed): "+
		"%d partial rows in %d work items and %d approval rows, "+
		"%d acknowledged approvals lost, one host effect per decision",
		r.killer.killed.Load(), calls, len(acks), failed, rep.partial,
		rep.items, rep.rows, lost)
}

// requireAcksHold checks every acknowledged call against the final
// state: an approval is there, a rejection decided the item, and a
// refusal was true. It returns how many acknowledged approvals are
// missing, which must be none.
func requireAcksHold(t *testing.T, e *approval.Engine, acks []ack) int {
	t.Helper()

	lost := 0
	for _, a := range acks {
		w, err := e.GetWorkItem(t.Context(), a.item)
		require.NoError(t, err)

		// A decision whose advance failed is recorded all the same.
		ok := a.err == nil || errors.Is(a.err, approval.ErrNotAdvanced)

		switch {
		case a.create:
			// The item was read above.
		case ok && a.reject:
			require.Equal(t, approval.StatusRejected, w.Status, a.item)
			require.Equal(t, a.user, w.Rejection.UserID, a.item)
		case ok, errors.Is(a.err, approval.ErrAlreadyApproved):
			if !w.ApprovedBy(a.user) {
				lost++
			}
		case errors.Is(a.err, approval.ErrNotPending):
			require.True(t, w.Status.Decided(), "%s refused as not pending", a.item)
		}
	}
	require.Zero(t, lost, "acknowledged approvals lost")

	return lost
}

// armingStore arms the killer at the first call of the workload, so
// that the setup of a Linearizability run is left alone.
type armingStore struct {
	approval.Store
	k *killer
}

// GetWorkItemAndProfile implements [approval.Store].
func (s armingStore) GetWorkItemAndProfile(ctx context.Context,
	id string,
) (approval.WorkItem, approval.Profile, error) {
	s.k.armed.Store(true)
	return s.Store.GetWorkItemAndProfile(ctx, id)
}

// GetWorkItem implements [approval.Store].
func (s armingStore) GetWorkItem(ctx context.Context, id string) (approval.WorkItem, error) {
	s.k.armed.Store(true)
	return s.Store.GetWorkItem(ctx, id)
}

// UpdateProfile implements [approval.Store].
func (s armingStore) UpdateProfile(ctx context.Context, p approval.Profile, v int64) error {
	s.k.armed.Store(true)
	return s.Store.UpdateProfile(ctx, p, v)
}

func testKilledLinearizable(t *testing.T, b backend) {
	t.Helper()

	admin := b.open(t)
	dsn, app := pgDSN(t), "workitems_lin_"+randomHex(t)
	prefix := randomPrefix(t)
	newStore(t, b, admin, prefix)
	k := startKiller(t, admin, app)

	engines := make([]*approval.Engine, 2)
	for i := range engines {
		s, err := sqlstore.New(killTarget(t, dsn, app), b.dialect,
			&sqlstore.Config{TablePrefix: prefix})
		require.NoError(t, err)

		engines[i], err = approval.NewEngine(armingStore{s, k},
			approval.AdvancerFunc(func(context.Context, approval.WorkItem) error {
				return nil
			}), &approval.Config{InstanceID: fmt.Sprintf("engine-%d", i)})
		require.NoError(t, err)
	}

	rep := storagetest.Linearizability(t, engines, storagetest.LinearizabilityConfig{
		Items:        faultTrials(20),
		Workers:      8,
		OpsPerWorker: 40,
	})
	k.halt()

	require.Positive(t, k.killed.Load(), "the killer killed no connection")
	t.Logf("linearizable while connections were killed: %d histories, "+
		"%d operations checked, %d unknown, %d connections killed",
		rep.Histories, rep.Operations, rep.Unknown, k.killed.Load())
}
