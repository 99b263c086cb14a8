package approval_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otpki/workitems/approval"
	"github.com/otpki/workitems/approval/approvaltest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var testPolicy = approval.AdvancePolicy{
	MaxAttempts: 5,
	Backoff:     time.Second,
	MaxBackoff:  4 * time.Second,
}

// successes returns the statuses of the calls that advanced the item.
func successes(h *approvaltest.Harness, id string) []approval.Status {
	var out []approval.Status
	for _, c := range h.Advancer.CallsFor(id) {
		if c.Err == nil {
			out = append(out, c.Item.Status)
		}
	}

	return out
}

// rejectOne creates a work item and rejects it, which decides it and
// makes the first advance attempt.
func rejectOne(t *testing.T, h *approvaltest.Harness, resource string) approval.WorkItem {
	t.Helper()

	p := h.Profile(t, 1, "alice")
	w := h.WorkItem(t, p.ID, approval.IssuanceRequest, resource)
	_, _ = h.Engine.Reject(t.Context(), w.ID, approval.Principal{UserID: "alice"}, "no")

	return w
}

func TestTransientAdvanceFailuresBackOff(t *testing.T) {
	t.Parallel()

	const failures = 3
	flaky := approvaltest.FailFirst(failures, nil)
	h := approvaltest.New(t,
		approvaltest.WithAdvancer(flaky),
		approvaltest.WithConfig(approval.Config{AdvancePolicy: testPolicy}))
	w := rejectOne(t, h, "ir-1")
	ctx := t.Context()

	// Each failed attempt waits 1s, 2s, then 4s before the next; a
	// pass a moment early calls nothing.
	for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		calls := flaky.Calls()
		h.Clock.Advance(wait - time.Millisecond)
		n, err := h.Engine.AdvanceDue(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		require.Equal(t, calls, flaky.Calls(), "backoff not respected")

		h.Clock.Advance(time.Millisecond)
		_, err = h.Engine.AdvanceDue(ctx)
		require.NoError(t, err)
		require.Equal(t, calls+1, flaky.Calls())
	}

	got, err := h.Engine.GetWorkItem(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, approval.AdvanceDone, got.Advance.State)
	require.Equal(t, failures+1, got.Advance.Attempts)
	require.Equal(t, []approval.Status{approval.StatusRejected}, successes(h, w.ID))
	t.Logf("transient: %d failures, %d attempts, advanced successfully once",
		failures, got.Advance.Attempts)
}

func TestPermanentAdvanceFailureStops(t *testing.T) {
	t.Parallel()

	broken := approvaltest.FailAlways(nil)
	h := approvaltest.New(t,
		approvaltest.WithAdvancer(broken),
		approvaltest.WithConfig(approval.Config{AdvancePolicy: testPolicy}))
	w := rejectOne(t, h, "ir-1")
	ctx := t.Context()

	// Run many more passes than attempts, far apart.
	for range 50 {
		h.Clock.Advance(time.Hour)
		_, err := h.Engine.AdvanceDue(ctx)
		require.NoError(t, err)
	}

	got, err := h.Engine.GetWorkItem(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, approval.AdvanceFailed, got.Advance.State)
	require.Equal(t, testPolicy.MaxAttempts, got.Advance.Attempts)
	require.Equal(t, testPolicy.MaxAttempts, broken.Calls(), "no calls after the limit")
	t.Logf("permanent: %d calls over 50 passes, then marked failed", broken.Calls())
}

func TestDispatcherAdvancesInTheBackground(t *testing.T) {
	t.Parallel()

	const items = 5
	flaky := approvaltest.FailFirst(items, nil)
	h := approvaltest.New(t,
		approvaltest.WithAdvancer(flaky),
		approvaltest.WithConfig(approval.Config{AdvancePolicy: testPolicy}))

	var ids []string
	for i := range items {
		ids = append(ids, rejectOne(t, h, fmt.Sprintf("ir-%d", i)).ID)
	}

	// Every inline advance failed; the backoff is over once the clock
	// moves, so the running dispatcher picks all of them up.
	h.Clock.Advance(time.Minute)
	d := approval.NewDispatcher(h.Engine, &approval.DispatcherConfig{
		Interval: time.Millisecond,
	})
	require.NoError(t, d.Start(t.Context()))
	require.ErrorIs(t, d.Start(t.Context()), approval.ErrDispatcherRunning)

	require.Eventually(t, func() bool {
		for _, id := range ids {
			if len(successes(h, id)) == 0 {
				return false
			}
		}

		return true
	}, 10*time.Second, time.Millisecond)

	require.NoError(t, d.Stop(t.Context()))
	require.NoError(t, d.Stop(t.Context()), "stopping twice is harmless")

	for _, id := range ids {
		require.Equal(t, []approval.Status{approval.StatusRejected}, successes(h, id))
	}
}

func TestDispatcherStopsWithItsContext(t *testing.T) {
	t.Parallel()

	h := approvaltest.New(t)
	d := approval.NewDispatcher(h.Engine, nil)

	ctx, cancel := context.WithCancel(t.Context())
	require.NoError(t, d.Start(ctx))
	cancel()

	require.NoError(t, d.Stop(t.Context()))
	require.NoError(t, d.Start(t.Context()), "a stopped dispatcher starts again")
	require.NoError(t, d.Stop(t.Context()))
}
