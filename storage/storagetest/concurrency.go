package storagetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
)

// ack is a call the engine acknowledged.
type ack struct {
	item, user string
	action     approval.Action
}

// testConcurrency lets many approvers on two engine instances approve
// and reject the same work items at once, each approving twice, then
// checks that nothing acknowledged was lost, nothing was counted twice,
// and every item was decided and advanced exactly once.
func testConcurrency(t *testing.T, newStore NewStore) {
	t.Helper()

	const (
		items    = 12
		users    = 8
		required = 3
	)

	b := setup(t, newStore)
	engines := []*approval.Engine{b.engine, b.newEngine(t, "engine-b")}
	ctx := t.Context()

	var names []string
	for i := range users {
		names = append(names, fmt.Sprintf("user-%d", i))
	}

	p, err := b.engine.CreateProfile(ctx, approval.Profile{
		Name:              "Concurrent",
		RequiredApprovals: required,
		Approvers:         approval.Approvers{Users: names},
	})
	require.NoError(t, err)

	var itemIDs []string
	for i := range items {
		itemIDs = append(itemIDs, b.item(t, p, fmt.Sprintf("er-%d", i), "").ID)
	}

	var (
		mu   sync.Mutex
		acks []ack
		errs []error
		wg   sync.WaitGroup
	)
	for u, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()

			e := engines[u%len(engines)]
			rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
			order := rng.Perm(items)
			pr := approval.Principal{UserID: name}

			for _, i := range append(order, order...) {
				act := approval.ActionApprove
				if rng.IntN(12) == 0 {
					act = approval.ActionReject
				}

				err := do(ctx, e, act, itemIDs[i], pr)

				mu.Lock()
				if err == nil {
					acks = append(acks, ack{itemIDs[i], name, act})
				} else if !domainRefusal(err) {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	require.Empty(t, errs, "only the domain's own refusals may reach callers")

	for _, id := range itemIDs {
		checkDecidedOnce(t, b, id, required, acks)
	}
	t.Logf("%d work items, %d acknowledged actions, invariants held",
		items, len(acks))
}

func do(ctx context.Context, e *approval.Engine, act approval.Action,
	id string, p approval.Principal,
) error {
	var err error
	if act == approval.ActionApprove {
		_, err = e.Approve(ctx, id, p, "")
	} else {
		_, err = e.Reject(ctx, id, p, "")
	}

	return err
}

func domainRefusal(err error) bool {
	return errors.Is(err, approval.ErrNotPending) ||
		errors.Is(err, approval.ErrAlreadyApproved)
}

// checkDecidedOnce checks one work item against the acknowledged calls.
func checkDecidedOnce(t *testing.T, b *bundle, id string, required int, acks []ack) {
	t.Helper()

	w := b.get(t, id)

	var approved, rejected []string
	for _, a := range acks {
		switch {
		case a.item != id:
		case a.action == approval.ActionApprove:
			approved = append(approved, a.user)
		default:
			rejected = append(rejected, a.user)
		}
	}

	// Every acknowledged approval is stored, and nothing else is.
	require.ElementsMatch(t, approved, approvers(w), id)
	require.Len(t, uniq(approvers(w)), len(w.Approvals), "no user twice")

	switch w.Status {
	case approval.StatusApproved:
		require.Len(t, w.Approvals, required)
		require.Nil(t, w.Rejection)
		require.Empty(t, rejected)
	case approval.StatusRejected:
		require.Less(t, len(w.Approvals), required)
		require.NotNil(t, w.Rejection)
		require.Equal(t, []string{w.Rejection.UserID}, rejected)
	default:
		t.Fatalf("work item %s left %s", id, w.Status)
	}

	require.Equal(t, approval.AdvanceDone, w.Advance.State)
	require.Equal(t, []approval.Status{w.Status}, b.advancer.successes(id),
		"advanced once, with the decision")
}

func uniq(s []string) map[string]struct{} {
	m := make(map[string]struct{}, len(s))
	for _, x := range s {
		m[x] = struct{}{}
	}

	return m
}

func contextCanceled(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()

	return context.WithCancel(t.Context())
}
