package approval_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
	"github.com/otpki/workitems/storage/memdb"
)

func noAdvance(context.Context, approval.WorkItem) error {
	return nil
}

func TestNewEngineRefusesMissingParts(t *testing.T) {
	t.Parallel()

	_, err := approval.NewEngine(nil, approval.AdvancerFunc(noAdvance), nil)
	requireRefusal(t, err, "store")

	_, err = approval.NewEngine(memdb.New(), nil, nil)
	requireRefusal(t, err, "advancer")

	_, err = approval.NewEngine(memdb.New(), approval.AdvancerFunc(noAdvance),
		&approval.Config{InstanceID: " spaced "})
	requireRefusal(t, err, "config.instance_id")

	e, err := approval.NewEngine(memdb.New(), approval.AdvancerFunc(noAdvance), nil)
	require.NoError(t, err)
	require.NotEmpty(t, e.InstanceID())
}

func TestRouter(t *testing.T) {
	t.Parallel()

	var got []approval.ResourceType
	record := approval.AdvancerFunc(func(_ context.Context, w approval.WorkItem) error {
		got = append(got, w.ResourceType)
		return nil
	})
	r := approval.Router{approval.EnrollmentRequest: record}

	err := r.Advance(t.Context(), approval.WorkItem{ResourceType: approval.EnrollmentRequest})
	require.NoError(t, err)
	require.Equal(t, []approval.ResourceType{approval.EnrollmentRequest}, got)

	err = r.Advance(t.Context(), approval.WorkItem{ResourceType: approval.IssuanceRequest})
	require.ErrorIs(t, err, approval.ErrNoAdvancer)
}

func TestErrorsName(t *testing.T) {
	t.Parallel()

	cause := errors.New("downstream down")
	na := &approval.NotAdvancedError{
		Item: approval.WorkItem{ID: "w1", Status: approval.StatusApproved},
		Err:  cause,
	}
	require.ErrorIs(t, na, cause)
	require.ErrorIs(t, na, approval.ErrNotAdvanced)
	require.Equal(t, `work item "w1" approved but not advanced: downstream down`, na.Error())

	pe := &approval.PendingItemExistsError{
		WorkItemID: "w2", ResourceType: approval.IssuanceRequest, ResourceID: "ir-9",
	}
	require.Equal(t, `Issuance Request "ir-9" already has pending work item "w2"`, pe.Error())

	nz := &approval.NotAuthorizedError{UserID: "bob", ProfileID: "p1"}
	require.Equal(t, `not authorized: user "bob" is not an approver of profile "p1"`, nz.Error())
}

// txStore advances inside Apply, as a SQL store sharing the host's
// database does, with an advancer that fails while told to.
type txStore struct {
	*memdb.Store

	fail     bool
	advanced []approval.WorkItem
}

func (s *txStore) AdvancesInTx() bool { return true }

func (s *txStore) Apply(ctx context.Context, c approval.Change) (approval.WorkItem, error) {
	// The tests act one at a time, so the item read here is the one
	// the store then changes.
	cur, prof, err := s.GetWorkItemAndProfile(ctx, c.Item.ID)
	if err != nil {
		return approval.WorkItem{}, err
	}

	next, err := c.On(cur, prof.Version)
	if err == nil && next.Status.Decided() && s.fail {
		return approval.WorkItem{}, errors.New("gated request table locked")
	}

	w, err := s.Store.Apply(ctx, c)
	if err == nil && w.Status.Decided() {
		s.advanced = append(s.advanced, w)
	}

	return w, err
}

func TestTxAdvancingStoreAdvancesWithTheDecision(t *testing.T) {
	t.Parallel()

	store := &txStore{Store: memdb.New()}
	never := approval.AdvancerFunc(func(context.Context, approval.WorkItem) error {
		t.Error("the engine must not call its own advancer")
		return nil
	})
	e, err := approval.NewEngine(store, never, nil)
	require.NoError(t, err)

	p, err := e.CreateProfile(t.Context(), approval.Profile{
		Name: "In tx", RequiredApprovals: 1,
		Approvers: approval.Approvers{Users: []string{"alice"}},
	})
	require.NoError(t, err)

	w, err := e.CreateWorkItem(t.Context(), approval.WorkItemSpec{
		ProfileID: p.ID, ResourceType: approval.IssuanceRequest, ResourceID: "ir-1",
	})
	require.NoError(t, err)

	store.fail = true
	_, err = e.Approve(t.Context(), w.ID, userAlice, "")
	require.Error(t, err)
	require.NotErrorIs(t, err, approval.ErrNotAdvanced, "nothing was decided")

	got, err := e.GetWorkItem(t.Context(), w.ID)
	require.NoError(t, err)
	require.Equal(t, approval.StatusPending, got.Status)

	store.fail = false
	got, err = e.Approve(t.Context(), w.ID, userAlice, "")
	require.NoError(t, err)
	require.Equal(t, approval.StatusApproved, got.Status)
	require.Equal(t, approval.AdvanceDone, got.Advance.State)
	require.Equal(t, got.DecidedAt, got.Advance.AdvancedAt)
	require.Len(t, store.advanced, 1)

	stored, err := e.GetWorkItem(t.Context(), w.ID)
	require.NoError(t, err)
	require.Equal(t, got, stored)
}
