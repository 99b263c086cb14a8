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
