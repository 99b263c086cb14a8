package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
	sqlstore "github.com/otpki/workitems/storage/sql"
)

// countingAdvancer records how often each work item was advanced.
type countingAdvancer struct {
	mu    sync.Mutex
	calls map[string]int
	seen  map[string]approval.Status
}

func (a *countingAdvancer) Advance(_ context.Context, w approval.WorkItem) error {
	a.mu.Lock()
	defer a.mu.Unlock()

	a.calls[w.ID]++
	a.seen[w.ID] = w.Status

	return nil
}

// TestContention runs several engines, each on its own pool as
// separate processes would be, approving and rejecting the same work
// items at once.
func TestContention(t *testing.T) {
	t.Parallel()

	forEachBackend(t, testContention)
}

func testContention(t *testing.T, b backend) {
	t.Helper()

	const (
		engines  = 4
		items    = 12
		users    = 7
		required = 3
	)

	prefix := randomPrefix(t)
	adv := &countingAdvancer{
		calls: make(map[string]int),
		seen:  make(map[string]approval.Status),
	}

	es := make([]*approval.Engine, engines)
	var first *sqlstore.Store
	for i := range es {
		db := b.open(t)
		db.SetMaxOpenConns(6)

		s, err := sqlstore.New(db, b.dialect, &sqlstore.Config{TablePrefix: prefix})
		require.NoError(t, err)

		if first == nil {
			require.NoError(t, s.Migrate(t.Context()))
			dropOnCleanup(t, db, s)
			first = s
		}

		es[i], err = approval.NewEngine(s, adv, &approval.Config{
			InstanceID: fmt.Sprintf("engine-%d", i),
		})
		require.NoError(t, err)
	}

	ids := contentionItems(t, es[0], items, users, required)

	var wg sync.WaitGroup
	errs := make(chan error, items*(users+2))
	for n, id := range ids {
		for u := range users {
			e := es[(n+u)%engines]
			p := approval.Principal{UserID: fmt.Sprintf("user-%d", u)}

			wg.Add(1)
			go func() {
				defer wg.Done()

				// One user of each item rejects; the others approve,
				// and user-0 tries twice through two engines.
				var err error
				if u == (n % users) {
					_, err = e.Reject(t.Context(), id, p, "no")
				} else {
					_, err = e.Approve(t.Context(), id, p, "ok")
				}
				errs <- err

				if u == 0 {
					_, err = es[(n+u+1)%engines].Approve(t.Context(), id, p, "again")
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)

	for err := range errs {
		if err != nil && !errors.Is(err, approval.ErrNotPending) &&
			!errors.Is(err, approval.ErrAlreadyApproved) {
			require.NoError(t, err, "only the domain's own refusals may surface")
		}
	}

	_, err := es[1].ResumeAdvances(t.Context())
	require.NoError(t, err)

	for _, id := range ids {
		requireDecidedOnce(t, es[2], first, adv, id, required)
	}
}

// contentionItems creates a profile any of users may approve, and
// items bound to it.
func contentionItems(t *testing.T, e *approval.Engine, items, users, required int) []string {
	t.Helper()

	var list []string
	for u := range users {
		list = append(list, fmt.Sprintf("user-%d", u))
	}

	p, err := e.CreateProfile(t.Context(), approval.Profile{
		Name:              "contention",
		RequiredApprovals: required,
		Approvers:         approval.Approvers{Users: list},
	})
	require.NoError(t, err)

	ids := make([]string, items)
	for n := range ids {
		w, err := e.CreateWorkItem(t.Context(), approval.WorkItemSpec{
			ProfileID:    p.ID,
			ResourceType: approval.IssuanceRequest,
			ResourceID:   fmt.Sprintf("req-%d", n),
		})
		require.NoError(t, err)
		ids[n] = w.ID
	}

	return ids
}

func requireDecidedOnce(t *testing.T, e *approval.Engine, s *sqlstore.Store,
	adv *countingAdvancer, id string, required int,
) {
	t.Helper()

	w, err := e.GetWorkItem(t.Context(), id)
	require.NoError(t, err)

	require.True(t, w.Status.Decided(), "item %s is %s", id, w.Status)
	require.LessOrEqual(t, len(w.Approvals), required)

	seen := make(map[string]bool)
	for _, a := range w.Approvals {
		require.False(t, seen[a.UserID], "%s approved %s twice", a.UserID, id)
		seen[a.UserID] = true
	}

	switch w.Status {
	case approval.StatusApproved:
		require.Len(t, w.Approvals, required)
		require.Nil(t, w.Rejection)
	case approval.StatusRejected:
		require.NotNil(t, w.Rejection)
		require.Less(t, len(w.Approvals), required)
	}

	require.Equal(t, approval.AdvanceDone, w.Advance.State)
	require.Equal(t, 1, adv.calls[id], "advances of %s", id)
	require.Equal(t, w.Status, adv.seen[id])

	// The approvals table agrees with the item row.
	rows, err := s.CountApprovals(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, len(w.Approvals), rows)
}
