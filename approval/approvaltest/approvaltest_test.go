package approvaltest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
	"github.com/otpki/workitems/approval/approvaltest"
)

var (
	alice = approval.Principal{UserID: "alice"}
	bob   = approval.Principal{UserID: "bob"}
)

func TestNewRunsTheEngineOnTheFakeClock(t *testing.T) {
	t.Parallel()

	h := approvaltest.New(t)
	start := time.Date(2025, time.January, 2, 9, 0, 0, 0, time.UTC)
	require.Equal(t, start, h.Clock.Now())

	prof := h.Profile(t, 1, "alice")
	require.Equal(t, start, prof.CreatedAt)

	h.Clock.Advance(time.Hour)
	item := h.WorkItem(t, prof.ID, approval.EnrollmentRequest, "enr-1")
	require.Equal(t, start.Add(time.Hour), item.CreatedAt)

	stored, err := h.Store.GetWorkItem(t.Context(), item.ID)
	require.NoError(t, err)
	require.Equal(t, item, stored)
}

func TestNewRecordsEveryAdvance(t *testing.T) {
	t.Parallel()

	h := approvaltest.New(t)
	prof := h.Profile(t, 2, "alice", "bob")
	approved := h.WorkItem(t, prof.ID, approval.EnrollmentRequest, "enr-1")
	rejected := h.WorkItem(t, prof.ID, approval.IssuanceRequest, "iss-1")

	_, err := h.Engine.Approve(t.Context(), approved.ID, alice, "")
	require.NoError(t, err)
	require.Empty(t, h.Advancer.Calls(), "one of two approvals advances nothing")

	_, err = h.Engine.Approve(t.Context(), approved.ID, bob, "ok")
	require.NoError(t, err)

	_, err = h.Engine.Reject(t.Context(), rejected.ID, bob, "wrong CA")
	require.NoError(t, err)

	calls := h.Advancer.Calls()
	require.Len(t, calls, 2)
	require.Equal(t, approved.ID, calls[0].Item.ID)
	require.Equal(t, rejected.ID, calls[1].Item.ID)

	require.Equal(t, []approval.Status{approval.StatusApproved},
		h.Advancer.Statuses(approved.ID))
	require.Equal(t, []approval.Status{approval.StatusRejected},
		h.Advancer.Statuses(rejected.ID))
	require.Equal(t, 1, h.Advancer.Succeeded(approved.ID))
	require.Equal(t, "wrong CA", calls[1].Item.Rejection.Reason)
}

func TestWithAdvancerFailsAndResumes(t *testing.T) {
	t.Parallel()

	boom := errors.New("issuance service down")
	h := approvaltest.New(t, approvaltest.WithAdvancer(approvaltest.FailFirst(1, boom)))
	prof := h.Profile(t, 1, "alice")
	item := h.WorkItem(t, prof.ID, approval.IssuanceRequest, "iss-1")

	decided, err := h.Engine.Approve(t.Context(), item.ID, alice, "")
	require.ErrorIs(t, err, approval.ErrNotAdvanced)
	require.ErrorIs(t, err, boom)
	require.Equal(t, approval.StatusApproved, decided.Status)
	require.Equal(t, approval.AdvanceDue, decided.Advance.State)

	n, err := h.Engine.ResumeAdvances(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)

	calls := h.Advancer.CallsFor(item.ID)
	require.Len(t, calls, 2)
	require.ErrorIs(t, calls[0].Err, boom)
	require.NoError(t, calls[1].Err)
	require.Equal(t, 1, h.Advancer.Succeeded(item.ID))

	stored, err := h.Engine.GetWorkItem(t.Context(), item.ID)
	require.NoError(t, err)
	require.Equal(t, approval.AdvanceDone, stored.Advance.State)
}

func TestWithIDs(t *testing.T) {
	t.Parallel()

	h := approvaltest.New(t, approvaltest.WithIDs("id-"))
	prof := h.Profile(t, 1, "alice")
	first := h.WorkItem(t, prof.ID, approval.EnrollmentRequest, "enr-1")
	second := h.WorkItem(t, prof.ID, approval.EnrollmentRequest, "enr-2")

	require.Equal(t, "id-000001", prof.ID)
	require.Equal(t, "id-000002", first.ID)
	require.Equal(t, "id-000003", second.ID)
}

func TestWithConfig(t *testing.T) {
	t.Parallel()

	h := approvaltest.New(t,
		approvaltest.WithAdvancer(approvaltest.FailAlways(nil)),
		approvaltest.WithConfig(approval.Config{
			AdvancePolicy: approval.AdvancePolicy{MaxAttempts: 1},
		}))
	prof := h.Profile(t, 1, "alice")
	item := h.WorkItem(t, prof.ID, approval.EnrollmentRequest, "enr-1")

	decided, err := h.Engine.Approve(t.Context(), item.ID, alice, "")
	require.ErrorIs(t, err, approvaltest.ErrInjected)
	require.Equal(t, approval.AdvanceFailed, decided.Advance.State,
		"one allowed attempt gives up after the first failure")
}

func TestNewFailsTheTestOnBadConfig(t *testing.T) {
	t.Parallel()

	msg := fatal(t, func(ft testing.TB) {
		ft.Helper()
		approvaltest.New(ft, approvaltest.WithConfig(approval.Config{
			Clock: approvaltest.NewFakeClock(time.Time{}),
		}))
	})
	require.Contains(t, msg, "Config.Clock must be nil")

	msg = fatal(t, func(ft testing.TB) {
		ft.Helper()
		approvaltest.New(ft, approvaltest.WithConfig(approval.Config{
			InstanceID: " padded ",
		}))
	})
	require.Contains(t, msg, "config.instance_id")
}

func TestHelpersFailTheTestWhenRefused(t *testing.T) {
	t.Parallel()

	h := approvaltest.New(t)

	msg := fatal(t, func(ft testing.TB) {
		ft.Helper()
		h.Profile(ft, 2, "alice")
	})
	require.Contains(t, msg, "profile.required_approvals")

	msg = fatal(t, func(ft testing.TB) {
		ft.Helper()
		h.WorkItem(ft, "no-such-profile", approval.EnrollmentRequest, "enr-1")
	})
	require.Contains(t, msg, "not found")
}

func TestProfileNamesAreUnique(t *testing.T) {
	t.Parallel()

	h := approvaltest.New(t)
	first := h.Profile(t, 1, "alice")
	second := h.Profile(t, 1, "alice")

	require.NotEqual(t, first.Name, second.Name)
	require.Equal(t, []string{"alice"}, second.Approvers.Users)
}

func TestFakeClock(t *testing.T) {
	t.Parallel()

	t0 := time.Date(2030, time.May, 1, 12, 0, 0, 0, time.UTC)
	c := approvaltest.NewFakeClock(t0)
	require.Equal(t, t0, c.Now())
	require.Equal(t, t0, c.Now(), "the clock does not move by itself")

	require.Equal(t, t0.Add(time.Minute), c.Advance(time.Minute))
	require.Equal(t, t0.Add(time.Minute), c.Now())

	require.Equal(t, t0, c.Advance(-time.Minute))

	t1 := t0.Add(-24 * time.Hour)
	c.Set(t1)
	require.Equal(t, t1, c.Now())

	var zero approvaltest.FakeClock
	require.True(t, zero.Now().IsZero())
}

func TestFakeClockConcurrentAdvance(t *testing.T) {
	t.Parallel()

	c := approvaltest.NewFakeClock(time.Time{})

	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()

			for range 100 {
				c.Advance(time.Second)
				c.Now()
			}
		}()
	}
	wg.Wait()

	require.Equal(t, time.Time{}.Add(800*time.Second), c.Now())
}

func TestRecordingAdvancerHandsOn(t *testing.T) {
	t.Parallel()

	boom := errors.New("boom")
	var seen []string
	next := approval.AdvancerFunc(func(_ context.Context, w approval.WorkItem) error {
		seen = append(seen, w.ID)
		if w.ID == "b" {
			return boom
		}

		return nil
	})
	r := approvaltest.NewRecordingAdvancer(next)

	require.NoError(t, r.Advance(t.Context(), item("a", approval.StatusApproved)))
	require.ErrorIs(t, r.Advance(t.Context(), item("b", approval.StatusRejected)), boom)
	require.NoError(t, r.Advance(t.Context(), item("a", approval.StatusApproved)))

	require.Equal(t, []string{"a", "b", "a"}, seen)
	require.Len(t, r.Calls(), 3)
	require.Equal(t, []approval.Status{approval.StatusApproved, approval.StatusApproved},
		r.Statuses("a"))
	require.Equal(t, 2, r.Succeeded("a"))
	require.Equal(t, 0, r.Succeeded("b"))
	require.ErrorIs(t, r.CallsFor("b")[0].Err, boom)
	require.Nil(t, r.Statuses("c"))
	require.Empty(t, r.CallsFor("c"))
}

func TestRecordingAdvancerKeepsCopies(t *testing.T) {
	t.Parallel()

	r := approvaltest.NewRecordingAdvancer(nil)
	w := item("a", approval.StatusApproved)
	require.NoError(t, r.Advance(t.Context(), w))

	w.Approvals[0].UserID = "mallory"
	got := r.Calls()
	require.Equal(t, "alice", got[0].Item.Approvals[0].UserID)

	got[0].Item.Approvals[0].UserID = "mallory"
	require.Equal(t, "alice", r.Calls()[0].Item.Approvals[0].UserID)
	require.Equal(t, "alice", r.CallsFor("a")[0].Item.Approvals[0].UserID)
}

func TestRecordingAdvancerConcurrentUse(t *testing.T) {
	t.Parallel()

	r := approvaltest.NewRecordingAdvancer(approvaltest.FailFirst(10, nil))
	ids := []string{"a", "b", "c", "d"}

	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()

			for range 25 {
				_ = r.Advance(t.Context(), item(id, approval.StatusApproved))
				r.Statuses(id)
			}
		}()
	}
	wg.Wait()

	calls := r.Calls()
	require.Len(t, calls, 100)
	failed := 0
	for _, c := range calls {
		if c.Err != nil {
			require.ErrorIs(t, c.Err, approvaltest.ErrInjected)
			failed++
		}
	}
	require.Equal(t, 10, failed)

	succeeded := 0
	for _, id := range ids {
		require.Len(t, r.Statuses(id), 25)
		succeeded += r.Succeeded(id)
	}
	require.Equal(t, 90, succeeded)
}

func TestFailingAdvancer(t *testing.T) {
	t.Parallel()

	boom := errors.New("boom")
	ctx := t.Context()
	w := item("a", approval.StatusApproved)

	always := approvaltest.FailAlways(boom)
	for range 3 {
		require.ErrorIs(t, always.Advance(ctx, w), boom)
	}
	require.Equal(t, 3, always.Calls())

	first := approvaltest.FailFirst(2, nil)
	require.ErrorIs(t, first.Advance(ctx, w), approvaltest.ErrInjected)
	require.ErrorIs(t, first.Advance(ctx, w), approvaltest.ErrInjected)
	require.NoError(t, first.Advance(ctx, w))
	require.NoError(t, first.Advance(ctx, w))
	require.Equal(t, 4, first.Calls())

	none := approvaltest.FailFirst(-1, boom)
	require.NoError(t, none.Advance(ctx, w))
}

func TestSequentialIDs(t *testing.T) {
	t.Parallel()

	next := approvaltest.SequentialIDs("w")

	var (
		mu  sync.Mutex
		ids []string
		wg  sync.WaitGroup
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()

			for range 50 {
				id := next()
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	slices.Sort(ids)
	require.Len(t, slices.Compact(ids), 200, "IDs are unique")
	require.Equal(t, "w000001", ids[0])
	require.Equal(t, "w000200", ids[199])

	for i, id := range ids {
		require.Equal(t, fmt.Sprintf("w%06d", i+1), id,
			"IDs sort in the order they were generated")
	}
}

func item(id string, s approval.Status) approval.WorkItem {
	return approval.WorkItem{
		ID:        id,
		Status:    s,
		Approvals: []approval.Approval{{UserID: "alice"}},
	}
}

// fatalTB records the message of the first Fatalf and ends the
// goroutine, as a *testing.T does.
type fatalTB struct {
	testing.TB

	ctx context.Context
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Context() context.Context {
	return f.ctx
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatal runs fn with a testing.TB that records a fatal failure, and
// returns its message, or "" when fn did not fail.
func fatal(t *testing.T, fn func(testing.TB)) string {
	t.Helper()

	ft := &fatalTB{ctx: t.Context()}

	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ft)
	}()
	<-done

	return ft.msg
}
