package storagetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
)

// trials returns how many times a fault test repeats: def by default,
// or WORKITEMS_TRIALS when set, for heavier runs.
func trials(def int) int {
	if n, err := strconv.Atoi(os.Getenv("WORKITEMS_TRIALS")); err == nil && n > 0 {
		return n
	}

	return def
}

// errCrash is what a crashing advancer panics with.
var errCrash = errors.New("instance crashed before advancing")

func testFaults(t *testing.T, newStore NewStore) {
	t.Helper()

	t.Run("CrashBeforeAdvance", func(t *testing.T) {
		t.Parallel()
		testCrashBeforeAdvance(t, newStore)
	})

	t.Run("FinalApprovalRacesRejection", func(t *testing.T) {
		t.Parallel()
		testApprovalRacesRejection(t, newStore)
	})

	t.Run("RevocationRacesApproval", func(t *testing.T) {
		t.Parallel()
		testRevocationRacesApproval(t, newStore)
	})
}

// testCrashBeforeAdvance decides work items on an instance whose
// advancer panics, as a process dying between the decision's commit
// and the advance would, then restarts: a new instance must advance
// every decided item once the dead instance's leases run out.
func testCrashBeforeAdvance(t *testing.T, newStore NewStore) {
	t.Helper()

	n := trials(50)
	b := setup(t, newStore)
	p := b.twoOfThree(t, "Crash")

	crashing, err := approval.NewEngine(b.store,
		approval.AdvancerFunc(func(context.Context, approval.WorkItem) error {
			panic(errCrash)
		}),
		&approval.Config{Clock: b.clock, InstanceID: "doomed"})
	require.NoError(t, err)

	var decided []string
	for i := range n {
		w := b.item(t, p, fmt.Sprintf("er-%d", i), "")

		crashed := func() (crashed bool) {
			defer func() {
				err, _ := recover().(error)
				crashed = errors.Is(err, errCrash)
			}()

			if i%2 == 0 {
				_, _ = crashing.Reject(t.Context(), w.ID, alice, "no")
			} else {
				_, _ = crashing.Approve(t.Context(), w.ID, alice, "")
				_, _ = crashing.Approve(t.Context(), w.ID, bob, "")
			}

			return false
		}()
		require.True(t, crashed)
		decided = append(decided, w.ID)
	}

	// The restarted instance waits out the dead one's leases.
	n0, err := b.engine.ResumeAdvances(t.Context())
	require.NoError(t, err)
	require.Zero(t, n0, "leases of the dead instance still hold")

	b.clock.advance(time.Hour)
	advanced, err := b.engine.ResumeAdvances(t.Context())
	require.NoError(t, err)

	lost := 0
	for _, id := range decided {
		w := b.get(t, id)
		if len(b.advancer.successes(id)) != 1 || w.Advance.State != approval.AdvanceDone {
			lost++
		}
	}
	require.Zero(t, lost)
	require.Equal(t, n, advanced)
	t.Logf("crash before advance: %d decisions, %d advanced after restart, "+
		"lost advances = %d", n, advanced, lost)
}

// testApprovalRacesRejection races the final approval of a work item
// with its rejection, on two instances: exactly one must win, and the
// item must be advanced once, with the winner's decision.
func testApprovalRacesRejection(t *testing.T, newStore NewStore) {
	t.Helper()

	n := trials(200)
	b := setup(t, newStore)
	other := b.newEngine(t, "engine-b")
	p := b.twoOfThree(t, "Race")

	approvedN, rejectedN := 0, 0
	for i := range n {
		w := b.item(t, p, fmt.Sprintf("er-%d", i), "")
		_, err := b.engine.Approve(t.Context(), w.ID, alice, "")
		require.NoError(t, err)

		var (
			wg            sync.WaitGroup
			errApprove    error
			errReject     error
			start         = make(chan struct{})
			approver, rej = b.engine, other
		)
		if i%2 == 1 {
			approver, rej = other, b.engine
		}

		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			_, errApprove = approver.Approve(t.Context(), w.ID, bob, "")
		}()
		go func() {
			defer wg.Done()
			<-start
			_, errReject = rej.Reject(t.Context(), w.ID, carol, "")
		}()
		close(start)
		wg.Wait()

		got := b.get(t, w.ID)
		switch {
		case errApprove == nil:
			require.ErrorIs(t, errReject, approval.ErrNotPending)
			require.Equal(t, approval.StatusApproved, got.Status)
			approvedN++
		case errReject == nil:
			require.ErrorIs(t, errApprove, approval.ErrNotPending)
			require.Equal(t, approval.StatusRejected, got.Status)
			rejectedN++
		default:
			t.Fatalf("neither won: approve: %v; reject: %v", errApprove, errReject)
		}

		require.Equal(t, []approval.Status{got.Status}, b.advancer.successes(w.ID))
	}

	t.Logf("approval raced rejection %d times: %d approved, %d rejected, "+
		"each advanced once", n, approvedN, rejectedN)
}

// testRevocationRacesApproval removes an approver from the profile
// while that approver approves, and reads the work item as soon as the
// edit has returned. An approval the read did not see committed after
// the edit, which must never happen; and once the edit has returned,
// the approver is refused.
func testRevocationRacesApproval(t *testing.T, newStore NewStore) {
	t.Helper()

	n := trials(100)
	b := setup(t, widened(newStore))
	other := b.newEngine(t, "engine-b")

	won, refused := 0, 0
	for i := range n {
		p := b.twoOfThree(t, fmt.Sprintf("Revoke %d", i))
		w := b.item(t, p, fmt.Sprintf("er-%d", i), "")

		var (
			wg         sync.WaitGroup
			errApprove error
			errEdit    error
			afterEdit  approval.WorkItem
			start      = make(chan struct{})
		)
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			p.Approvers.Users = nil
			if _, errEdit = other.UpdateProfile(t.Context(), p); errEdit == nil {
				afterEdit, errEdit = other.GetWorkItem(t.Context(), w.ID)
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			_, errApprove = b.engine.Approve(t.Context(), w.ID, alice, "")
		}()
		close(start)
		wg.Wait()
		require.NoError(t, errEdit)

		got := b.get(t, w.ID)
		if errApprove == nil {
			require.True(t, afterEdit.ApprovedBy("alice"),
				"an approval committed after the revocation")
			require.True(t, got.ApprovedBy("alice"))
			won++

			continue
		}

		require.ErrorIs(t, errApprove, approval.ErrNotAuthorized)
		require.Empty(t, got.Approvals)
		refused++

		_, err := b.engine.Approve(t.Context(), w.ID, alice, "")
		require.ErrorIs(t, err, approval.ErrNotAuthorized)
	}

	t.Logf("revocation raced approval %d times: %d approvals won, %d refused, "+
		"none committed after the edit", n, won, refused)
}

func testLinearizable(t *testing.T, newStore NewStore) {
	t.Helper()

	b := setup(t, widened(newStore))
	engines := []*approval.Engine{b.engine, b.newEngine(t, "engine-b")}

	rep := Linearizability(t, engines, LinearizabilityConfig{
		Items:        trials(20),
		OpsPerWorker: 40,
	})
	t.Logf("linearizable: %d histories, %d operations checked, %d unknown",
		rep.Histories, rep.Operations, rep.Unknown)
}

// widened wraps each store so that its writes start a little late,
// which widens the window between the engine's read and its write in
// which a concurrent change can slip, so that races show on stores as
// fast as memory too.
func widened(newStore NewStore) NewStore {
	return func(t *testing.T) approval.Store {
		t.Helper()

		return lateWriter{newStore(t)}
	}
}

type lateWriter struct {
	approval.Store
}

// Apply implements [approval.Store].
func (s lateWriter) Apply(ctx context.Context, c approval.Change) (approval.WorkItem, error) {
	time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
	return s.Store.Apply(ctx, c)
}

// UpdateProfile implements [approval.Store].
func (s lateWriter) UpdateProfile(ctx context.Context, p approval.Profile, v int64) error {
	time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
	return s.Store.UpdateProfile(ctx, p, v)
}
