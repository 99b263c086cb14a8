package sqlstore_test

import (
	"context"
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

// TestPostgresRestartUnderLoad stops and starts a PostgreSQL server
// of the test's own while engines approve and reject on it, alternately
// with a clean shutdown and with a crash: callers get errors while it
// is down, the pools recover once it is back, and afterwards every
// rule holds and every acknowledged approval is there.
func TestPostgresRestartUnderLoad(t *testing.T) {
	t.Parallel()

	srv := startThrowaway(t)
	b := backend{name: "Throwaway", dialect: sqlstore.Postgres}
	ctx := t.Context()

	admin := openThrowaway(t, srv, 4)
	prefix := randomPrefix(t)
	store := newStore(t, b, admin, prefix)
	gated := newGatedTable(t, b, admin, prefix)

	setup, err := approval.NewEngine(store, gated.once(admin), nil)
	require.NoError(t, err)

	profile, items := restartItems(t, setup, 50)
	engines := restartEngines(t, srv, b, prefix, gated)

	load := &restartLoad{profile: profile, items: items, engines: engines}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for worker := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			load.work(ctx, worker, stop)
		}()
	}

	cycles := faultTrials(4)
	modes := []string{"fast", "immediate"}
	for cycle := range cycles {
		time.Sleep(300 * time.Millisecond)

		load.down.Store(true)
		srv.stop(t, modes[cycle%len(modes)])
		time.Sleep(500 * time.Millisecond)
		srv.start(t)
		load.down.Store(false)

		load.requireRecovers(t, cycle)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	rep := checkInvariants(ctx, t, admin, store)
	requireNoPartialRows(t, rep)
	lost := requireAcksHold(t, setup, load.acks)

	later, err := approval.NewEngine(store, gated.once(admin),
		&approval.Config{Clock: aheadClock{}})
	require.NoError(t, err)
	_, err = later.ResumeAdvances(ctx)
	require.NoError(t, err)

	outcomes := gated.outcomes(ctx, t, admin)
	for _, id := range load.items {
		w, err := setup.GetWorkItem(ctx, id)
		require.NoError(t, err)

		if w.Status.Decided() {
			require.Equal(t, approval.AdvanceDone, w.Advance.State, id)
			require.Equal(t, []approval.Status{w.Status}, outcomes[id], id)
		} else {
			require.Empty(t, outcomes[id], id)
		}
	}

	require.Positive(t, load.outageErrors.Load(), "no caller saw the outage")
	t.Logf("restarted PostgreSQL %d times under load (fast and immediate "+
		"stops): %d calls, %d acknowledged, %d errors while down, "+
		"%d errors while up; pools recovered after each restart; "+
		"%d work items, %d partial rows, %d acknowledged approvals lost, "+
		"%d decisions each advanced once",
		cycles, load.calls.Load(), len(load.acks), load.outageErrors.Load(),
		load.upErrors.Load(), rep.items, rep.partial, lost, rep.decided)
}

func restartItems(t *testing.T, e *approval.Engine, n int) (string, []string) {
	t.Helper()

	p, err := e.CreateProfile(t.Context(), approval.Profile{
		Name:              "Restart",
		RequiredApprovals: 3,
		Approvers:         approval.Approvers{Users: killUsers},
	})
	require.NoError(t, err)

	items := make([]string, n)
	for i := range items {
		w, err := e.CreateWorkItem(t.Context(), approval.WorkItemSpec{
			ProfileID:    p.ID,
			ResourceType: approval.EnrollmentRequest,
			ResourceID:   fmt.Sprintf("er-%d", i),
		})
		require.NoError(t, err)
		items[i] = w.ID
	}

	return p.ID, items
}

// restartEngines returns two engines on pools of their own, one with
// the host's idempotent advancer and one advancing in its
// transaction.
func restartEngines(t *testing.T, srv *throwawayServer, b backend,
	prefix string, gated gatedTable,
) []*approval.Engine {
	t.Helper()

	plainDB, txDB := openThrowaway(t, srv, 6), openThrowaway(t, srv, 6)

	plain, err := sqlstore.New(plainDB, b.dialect, &sqlstore.Config{TablePrefix: prefix})
	require.NoError(t, err)
	inTx, err := sqlstore.New(txDB, b.dialect, &sqlstore.Config{
		TablePrefix: prefix,
		TxAdvancer:  sqlstore.TxAdvancerFunc(gated.record),
	})
	require.NoError(t, err)

	e1, err := approval.NewEngine(plain, gated.once(plainDB), nil)
	require.NoError(t, err)
	e2, err := approval.NewEngine(inTx, neverAdvancer(t), nil)
	require.NoError(t, err)

	return []*approval.Engine{e1, e2}
}

// restartLoad is the workload of the restart test and what it saw.
type restartLoad struct {
	profile string
	engines []*approval.Engine
	created atomic.Int64

	// down is set while the server is stopped or starting.
	down atomic.Bool

	calls, successes       atomic.Int64
	outageErrors, upErrors atomic.Int64

	mu    sync.Mutex
	items []string
	acks  []ack
}

// recentItems is how many of the newest work items the workers act
// on, so that most calls find their item Pending.
const recentItems = 60

// next picks the call to make: on one of the recent items, or, one
// time in five, the creation of a new one.
func (l *restartLoad) next() ack {
	l.mu.Lock()
	defer l.mu.Unlock()

	a := ack{user: killUsers[rand.IntN(len(killUsers))]}
	if rand.IntN(5) == 0 {
		a.create = true
		return a
	}

	recent := l.items[max(0, len(l.items)-recentItems):]
	a.item = recent[rand.IntN(len(recent))]
	a.reject = rand.IntN(15) == 0

	return a
}

// call makes the call a names, through e.
func (l *restartLoad) call(ctx context.Context, e *approval.Engine, a ack) ack {
	p := approval.Principal{UserID: a.user}

	switch {
	case a.create:
		var w approval.WorkItem
		w, a.err = e.CreateWorkItem(ctx, approval.WorkItemSpec{
			ProfileID:    l.profile,
			ResourceType: approval.IssuanceRequest,
			ResourceID:   fmt.Sprintf("ir-%d", l.created.Add(1)),
		})
		a.item = w.ID
	case a.reject:
		_, a.err = e.Reject(ctx, a.item, p, "no")
	default:
		_, a.err = e.Approve(ctx, a.item, p, "ok")
	}

	return a
}

// work approves and rejects until stop closes.
func (l *restartLoad) work(ctx context.Context, worker int, stop <-chan struct{}) {
	e := l.engines[worker%len(l.engines)]

	for {
		select {
		case <-stop:
			return
		default:
		}

		down := l.down.Load()
		a := l.call(ctx, e, l.next())
		l.calls.Add(1)

		if a.err == nil || domainRefusal(a.err) {
			l.successes.Add(1)
			l.mu.Lock()
			l.acks = append(l.acks, a)
			if a.create {
				l.items = append(l.items, a.item)
			}
			l.mu.Unlock()

			continue
		}

		if down || l.down.Load() {
			l.outageErrors.Add(1)
		} else {
			l.upErrors.Add(1)
		}

		// While the server is away, calls fail at once; a pause keeps
		// the workers from spinning.
		time.Sleep(5 * time.Millisecond)
	}
}

// requireRecovers waits until calls succeed again after a restart.
// The bound is only there to fail a pool that never recovers.
func (l *restartLoad) requireRecovers(t *testing.T, cycle int) {
	t.Helper()

	before := l.successes.Load()
	deadline := time.Now().Add(30 * time.Second)
	for l.successes.Load() < before+10 {
		if time.Now().After(deadline) {
			t.Fatalf("no call succeeded within 30s after restart %d", cycle)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
