package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
	sqlstore "github.com/otpki/workitems/storage/sql"
)

// TestCanceledCalls cancels calls at random moments, some by cancel
// and some by deadline, while they run on several engines: each call
// either committed or left nothing behind, and once they have
// returned, every connection is back in its pool.
func TestCanceledCalls(t *testing.T) {
	t.Parallel()

	forEachBackend(t, testCanceledCalls)
}

// cancelRig is a plain engine and an engine that advances in its
// transaction, on separate pools over the same tables.
type cancelRig struct {
	plainDB, txDB *sql.DB
	plain, inTx   *approval.Engine
	store         *sqlstore.Store
	gated         gatedTable
	profile       approval.Profile
}

func newCancelRig(t *testing.T, b backend) *cancelRig {
	t.Helper()

	r := &cancelRig{plainDB: b.open(t), txDB: b.open(t)}
	prefix := randomPrefix(t)
	r.store = newStore(t, b, r.plainDB, prefix)
	r.gated = newGatedTable(t, b, r.plainDB, prefix)

	txStore, err := sqlstore.New(r.txDB, b.dialect, &sqlstore.Config{
		TablePrefix: prefix,
		TxAdvancer: sqlstore.TxAdvancerFunc(func(ctx context.Context,
			tx *sql.Tx, w approval.WorkItem,
		) error {
			return r.gated.record(ctx, tx, w)
		}),
	})
	require.NoError(t, err)

	quick := approval.AdvancerFunc(func(ctx context.Context, _ approval.WorkItem) error {
		return sleep(ctx, time.Duration(rand.IntN(500))*time.Microsecond)
	})

	r.plain, err = approval.NewEngine(r.store, quick, &approval.Config{InstanceID: "plain"})
	require.NoError(t, err)
	r.inTx, err = approval.NewEngine(txStore, neverAdvancer(t), &approval.Config{InstanceID: "in-tx"})
	require.NoError(t, err)

	r.profile, err = r.plain.CreateProfile(t.Context(), approval.Profile{
		Name:              "Canceled calls",
		RequiredApprovals: 2,
		Approvers:         approval.Approvers{Users: []string{"u0", "u1", "u2"}},
	})
	require.NoError(t, err)

	return r
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()

	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// items creates n Pending work items.
func (r *cancelRig) items(t *testing.T, n int, tag string) []string {
	t.Helper()

	ids := make([]string, n)
	for i := range ids {
		w, err := r.plain.CreateWorkItem(t.Context(), approval.WorkItemSpec{
			ProfileID:    r.profile.ID,
			ResourceType: approval.EnrollmentRequest,
			ResourceID:   fmt.Sprintf("%s-%d", tag, i),
		})
		require.NoError(t, err)
		ids[i] = w.ID
	}

	return ids
}

// shortContext returns a context that ends at a random moment within
// a few milliseconds: canceled, or past its deadline.
func shortContext(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()

	// A third end before the call gets far, a third in the middle of
	// it, and a third mostly after it.
	d := time.Duration(rand.IntN(1000)) * time.Microsecond
	switch rand.IntN(3) {
	case 1:
		d *= 10
	case 2:
		d *= 100
	}

	if rand.IntN(2) == 0 {
		return context.WithTimeout(t.Context(), d)
	}

	ctx, cancel := context.WithCancel(t.Context())
	stop := time.AfterFunc(d, cancel)

	return ctx, func() {
		stop.Stop()
		cancel()
	}
}

// cancelTally counts how calls ended.
type cancelTally struct {
	calls, canceled, other atomic.Int64
}

func (c *cancelTally) add(t *testing.T, err error) {
	t.Helper()

	c.calls.Add(1)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		c.canceled.Add(1)
	case err != nil && !domainRefusal(err):
		// A driver may report the end of the context in its own
		// words; the call still either committed or did nothing.
		c.other.Add(1)
	}
}

// domainRefusal reports whether err is one of the engine's answers
// about the work item rather than a failure.
func domainRefusal(err error) bool {
	for _, target := range []error{
		approval.ErrNotPending, approval.ErrAlreadyApproved,
		approval.ErrNotAdvanced, approval.ErrPendingItemExists,
	} {
		if errors.Is(err, target) {
			return true
		}
	}

	return false
}

// Each round runs at most cancelWorkers calls on each pool at once,
// fewer than a pool's connections, so that no call waits for one:
// database/sql dials a connection for a waiting call in the
// background and counts it in use, even after the call has given up,
// which would hide whether the store returned its own.
const cancelWorkers = 3*4 + 2

func testCanceledCalls(t *testing.T, b backend) {
	t.Helper()

	r := newCancelRig(t, b)
	rounds := faultTrials(8)

	var tally cancelTally
	var plainIDs, txIDs []string
	for round := range rounds {
		plain := r.items(t, 4, fmt.Sprintf("plain-%d", round))
		inTx := r.items(t, 4, fmt.Sprintf("tx-%d", round))
		plainIDs = append(plainIDs, plain...)
		txIDs = append(txIDs, inTx...)

		var wg sync.WaitGroup
		for i := range plain {
			for u := range 3 {
				wg.Add(2)
				go func() {
					defer wg.Done()
					r.act(t, r.plain, plain[i], u, &tally)
				}()
				go func() {
					defer wg.Done()
					r.act(t, r.inTx, inTx[i], u, &tally)
				}()
			}
		}

		wg.Add(2)
		go func() {
			defer wg.Done()
			r.sideCalls(t, round, &tally)
		}()
		go func() {
			defer wg.Done()
			ctx, cancel := shortContext(t)
			defer cancel()
			_, err := r.plain.ResumeAdvances(ctx)
			tally.add(t, err)
		}()
		wg.Wait()

		requireAllReturned(t, r.plainDB, round)
		requireAllReturned(t, r.txDB, round)
	}

	ctx := t.Context()
	rep := checkInvariants(ctx, t, r.plainDB, r.store)
	requireNoPartialRows(t, rep)

	// An item of the engine that advances in its transaction is in
	// the host table once if it is decided, and not at all if not.
	outcomes := r.gated.outcomes(ctx, t, r.plainDB)
	committed := 0
	for _, id := range txIDs {
		w, err := r.inTx.GetWorkItem(ctx, id)
		require.NoError(t, err)

		if w.Status.Decided() {
			require.Equal(t, []approval.Status{w.Status}, outcomes[id], id)
			require.Equal(t, approval.AdvanceDone, w.Advance.State, id)
			committed++
		} else {
			require.Empty(t, outcomes[id], id)
		}
	}

	// The pools still work.
	w := r.items(t, 1, "after")[0]
	_, err := r.inTx.Reject(ctx, w, approval.Principal{UserID: "u0"}, "no")
	require.NoError(t, err)
	requireAllReturned(t, r.plainDB, rounds)
	requireAllReturned(t, r.txDB, rounds)

	t.Logf("%s: %d of %d calls ended by their context "+
		"(%d more with a driver error), over %d work items: %d partial rows, "+
		"%d decisions advanced in their transaction each once, "+
		"0 connections in use after each round", b.name,
		tally.canceled.Load(), tally.calls.Load(), tally.other.Load(),
		len(plainIDs)+len(txIDs), rep.partial, committed)
}

// requireAllReturned checks that no connection of db is in use, right
// after the calls on it returned.
func requireAllReturned(t *testing.T, db *sql.DB, round int) {
	t.Helper()

	st := db.Stats()
	require.Zero(t, st.WaitCount, "a call waited for a connection: "+
		"raise maxConns above cancelWorkers (%d)", cancelWorkers)
	require.Zero(t, st.InUse, "connections in use after round %d: %+v", round, st)
}

// act approves or, for the last user, rejects the item, with a
// context that ends at a random moment.
func (r *cancelRig) act(t *testing.T, e *approval.Engine, id string, u int,
	tally *cancelTally,
) {
	t.Helper()

	ctx, cancel := shortContext(t)
	defer cancel()

	p := approval.Principal{UserID: fmt.Sprintf("u%d", u)}

	var err error
	if u == 2 {
		_, err = e.Reject(ctx, id, p, "no")
	} else {
		_, err = e.Approve(ctx, id, p, "ok")
	}
	tally.add(t, err)
}

// sideCalls runs the other kinds of call with contexts that end at
// random moments: creations, listings, reads and profile edits.
func (r *cancelRig) sideCalls(t *testing.T, round int, tally *cancelTally) {
	t.Helper()

	for i := range 12 {
		ctx, cancel := shortContext(t)

		var err error
		switch i % 4 {
		case 0:
			_, err = r.plain.CreateWorkItem(ctx, approval.WorkItemSpec{
				ProfileID:    r.profile.ID,
				ResourceType: approval.IssuanceRequest,
				ResourceID:   fmt.Sprintf("side-%d-%d", round, i),
			})
		case 1:
			_, err = r.inTx.ListWorkItems(ctx, approval.WorkItemFilter{
				Status: approval.StatusPending,
			}, approval.PageRequest{Limit: 100})
		case 2:
			_, err = r.plain.Inbox(ctx, approval.Principal{UserID: "u1"},
				approval.PageRequest{})
		default:
			p := r.profile
			p.Version = 0
			p.Description = fmt.Sprintf("edit %d", i)
			_, err = r.inTx.UpdateProfile(ctx, p)
		}

		cancel()
		tally.add(t, err)
	}
}

// TestDispatcherStopReturnsConnections stops dispatchers at random
// moments, while their advancer or a store call is in flight: every
// connection is back in the pool when Stop returns, and no decision
// is lost.
func TestDispatcherStopReturnsConnections(t *testing.T) {
	t.Parallel()

	forEachBackend(t, testDispatcherStop)
}

// failingAdvancer leaves every decision due.
var failingAdvancer = approval.AdvancerFunc(func(context.Context, approval.WorkItem) error {
	return errors.New("host unavailable")
})

// aheadClock runs an hour ahead, so that every failed advance is due.
type aheadClock struct{}

func (aheadClock) Now() time.Time {
	return time.Now().Add(time.Hour)
}

func testDispatcherStop(t *testing.T, b backend) {
	t.Helper()

	db := b.open(t)
	s := newStore(t, b, db, randomPrefix(t))

	deciding, err := approval.NewEngine(s, failingAdvancer, nil)
	require.NoError(t, err)

	p, err := deciding.CreateProfile(t.Context(), approval.Profile{
		Name:              "Dispatcher stop",
		RequiredApprovals: 1,
		Approvers:         approval.Approvers{Users: []string{"alice"}},
	})
	require.NoError(t, err)

	const items = 30
	for i := range items {
		w, err := deciding.CreateWorkItem(t.Context(), approval.WorkItemSpec{
			ProfileID:    p.ID,
			ResourceType: approval.IssuanceRequest,
			ResourceID:   fmt.Sprintf("ir-%d", i),
		})
		require.NoError(t, err)

		_, err = deciding.Approve(t.Context(), w.ID, approval.Principal{UserID: "alice"}, "")
		require.ErrorIs(t, err, approval.ErrNotAdvanced)
	}

	var (
		inFlight = make(chan struct{}, 1)
		advanced atomic.Int64
	)
	slow := approval.AdvancerFunc(func(ctx context.Context, _ approval.WorkItem) error {
		select {
		case inFlight <- struct{}{}:
		default:
		}

		if err := sleep(ctx, time.Duration(rand.IntN(3))*time.Millisecond); err != nil {
			return err
		}

		// Most attempts fail, so that work is left for every trial.
		if rand.IntN(4) > 0 {
			return errors.New("host busy")
		}
		advanced.Add(1)

		return nil
	})

	trials := faultTrials(10)
	stoppedInFlight := 0
	for trial := range trials {
		e, err := approval.NewEngine(s, slow, &approval.Config{
			Clock:        aheadClock{},
			InstanceID:   fmt.Sprintf("dispatcher-%d", trial),
			AdvanceLease: time.Millisecond,
			AdvancePolicy: approval.AdvancePolicy{
				MaxAttempts: 1000,
				Backoff:     time.Microsecond,
				MaxBackoff:  time.Microsecond,
			},
		})
		require.NoError(t, err)

		d := approval.NewDispatcher(e, &approval.DispatcherConfig{Interval: time.Millisecond})
		require.NoError(t, d.Start(t.Context()))

		if trial%2 == 0 {
			select {
			case <-inFlight:
			case <-time.After(10 * time.Second):
				t.Fatal("the dispatcher called no advancer within 10s")
			}
			stoppedInFlight++
		} else {
			time.Sleep(time.Duration(rand.IntN(5000)) * time.Microsecond)
		}

		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		require.NoError(t, d.Stop(ctx))
		cancel()

		require.Zero(t, db.Stats().InUse, "connections in use after stop %d", trial)

		select {
		case <-inFlight:
		default:
		}
	}

	rep := checkInvariants(t.Context(), t, db, s)
	requireNoPartialRows(t, rep)
	require.Equal(t, items, rep.decided)

	t.Logf("%s: dispatcher stopped %d times (%d with the advancer in flight), "+
		"%d advances done: 0 connections in use after each stop, %d partial rows",
		b.name, trials, stoppedInFlight, advanced.Load(), rep.partial)
}
