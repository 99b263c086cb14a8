package approval_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
)

var (
	t0    = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	lease = approval.Lease{Owner: "engine-1", Until: t0.Add(time.Minute)}

	twoOfThree = approval.Profile{
		ID:                "p1",
		Name:              "Issuance",
		RequiredApprovals: 2,
		Approvers: approval.Approvers{
			Users:  []string{"alice"},
			Groups: []string{"auditors"},
			Roles:  []string{"ca-admin"},
		},
		Version: 4,
	}

	pending = approval.WorkItem{
		ID:                "w1",
		ProfileID:         "p1",
		ResourceType:      approval.EnrollmentRequest,
		ResourceID:        "er-1",
		RequestedBy:       "carol",
		Status:            approval.StatusPending,
		RequiredApprovals: 2,
		Version:           7,
	}

	userAlice = approval.Principal{UserID: "alice"}
	groupBob  = approval.Principal{UserID: "bob", Groups: []string{"auditors"}}
	roleCarol = approval.Principal{UserID: "carol", Roles: []string{"ca-admin"}}
)

func TestApproveBelowThreshold(t *testing.T) {
	t.Parallel()

	c, err := approval.Approve(pending, twoOfThree, userAlice, "ok", t0, lease)
	require.NoError(t, err)

	require.Equal(t, approval.ActionApprove, c.Action)
	require.Equal(t, int64(7), c.ReadVersion)
	require.Equal(t, []approval.Grant{{ProfileID: "p1", ProfileVersion: 4}}, c.Grants)
	require.Equal(t, int64(8), c.Item.Version)
	require.Equal(t, approval.StatusPending, c.Item.Status)
	require.Equal(t, &approval.Approval{UserID: "alice", Comment: "ok", At: t0}, c.Approval)
	require.Equal(t, []approval.Approval{*c.Approval}, c.Item.Approvals)
	require.Equal(t, approval.Advance{}, c.Item.Advance)
	require.True(t, c.Item.DecidedAt.IsZero())

	require.Empty(t, pending.Approvals, "the input is not changed")
}

func TestApproveReachingThresholdDecides(t *testing.T) {
	t.Parallel()

	first, err := approval.Approve(pending, twoOfThree, userAlice, "", t0, lease)
	require.NoError(t, err)

	later := t0.Add(time.Hour)
	c, err := approval.Approve(first.Item, twoOfThree, groupBob, "", later, lease)
	require.NoError(t, err)

	require.Equal(t, approval.StatusApproved, c.Item.Status)
	require.Equal(t, later, c.Item.DecidedAt)
	require.Equal(t, approval.Advance{
		State:      approval.AdvanceDue,
		LeaseOwner: "engine-1",
		LeaseUntil: t0.Add(time.Minute),
	}, c.Item.Advance)
	require.Len(t, c.Item.Approvals, 2)
	require.Len(t, first.Item.Approvals, 1, "the input is not changed")
}

func TestRejectDecides(t *testing.T) {
	t.Parallel()

	c, err := approval.Reject(pending, twoOfThree, groupBob, "weak key", t0, lease)
	require.NoError(t, err)

	require.Equal(t, approval.ActionReject, c.Action)
	require.Nil(t, c.Approval)
	require.Equal(t, approval.StatusRejected, c.Item.Status)
	require.Equal(t, &approval.Rejection{UserID: "bob", Reason: "weak key", At: t0},
		c.Item.Rejection)
	require.Equal(t, approval.AdvanceDue, c.Item.Advance.State)
	require.Equal(t, int64(8), c.Item.Version)
}

func TestCheckAct(t *testing.T) {
	t.Parallel()

	approvedByAlice, err := approval.Approve(pending, twoOfThree, userAlice, "", t0, lease)
	require.NoError(t, err)

	decided := pending
	decided.Status = approval.StatusRejected

	selfOK := twoOfThree
	selfOK.AllowSelfApproval = true

	cases := []struct {
		name string
		item approval.WorkItem
		prof approval.Profile
		p    approval.Principal
		act  approval.Action
		want error
	}{
		{"Approver", pending, twoOfThree, userAlice, approval.ActionApprove, nil},
		{"NotPending", decided, twoOfThree, userAlice, approval.ActionApprove, approval.ErrNotPending},
		{
			"NotPendingBeforeNotAuthorized", decided, twoOfThree,
			approval.Principal{UserID: "mallory"},
			approval.ActionReject, approval.ErrNotPending,
		},
		{
			"NotAuthorized", pending, twoOfThree,
			approval.Principal{UserID: "mallory"},
			approval.ActionApprove, approval.ErrNotAuthorized,
		},
		{
			"AlreadyApproved", approvedByAlice.Item, twoOfThree, userAlice,
			approval.ActionApprove, approval.ErrAlreadyApproved,
		},
		{
			"ApproverMayStillReject", approvedByAlice.Item, twoOfThree, userAlice,
			approval.ActionReject, nil,
		},
		{"Requester", pending, twoOfThree, roleCarol, approval.ActionApprove, approval.ErrSelfApproval},
		{"RequesterAllowed", pending, selfOK, roleCarol, approval.ActionApprove, nil},
		{"RequesterMayReject", pending, twoOfThree, roleCarol, approval.ActionReject, nil},
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()

			err := approval.CheckAct(c.item, c.prof, c.p, c.act)
			if c.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, c.want)
		})
	}
}

func TestAdvanceRecords(t *testing.T) {
	t.Parallel()

	pol := approval.AdvancePolicy{
		MaxAttempts: 4,
		Backoff:     time.Second,
		MaxBackoff:  3 * time.Second,
	}
	adv := approval.Advance{State: approval.AdvanceDue, LeaseOwner: "e", LeaseUntil: t0}

	var waits []time.Duration
	for range 3 {
		adv = approval.AdvanceFailedAttempt(adv, errors.New("down"), t0, pol)
		require.Equal(t, approval.AdvanceDue, adv.State)
		require.Empty(t, adv.LeaseOwner, "a failure releases the lease")
		waits = append(waits, adv.NextAttemptAt.Sub(t0))
	}
	require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}, waits)

	adv = approval.AdvanceFailedAttempt(adv, errors.New("down"), t0, pol)
	require.Equal(t, approval.AdvanceFailed, adv.State)
	require.Equal(t, 4, adv.Attempts)
	require.Equal(t, "down", adv.LastError)

	done := approval.AdvanceSucceeded(approval.Advance{Attempts: 2}, t0)
	require.Equal(t, approval.Advance{
		State: approval.AdvanceDone, Attempts: 3, AdvancedAt: t0,
	}, done)
}

func TestAdvanceErrorIsMadeStorable(t *testing.T) {
	t.Parallel()

	msg := "bad \xff byte, nul \x00, " + strings.Repeat("é", approval.MaxTextLen)
	adv := approval.AdvanceFailedAttempt(approval.Advance{}, errors.New(msg), t0,
		approval.AdvancePolicy{MaxAttempts: 3, Backoff: time.Second, MaxBackoff: time.Second})

	require.LessOrEqual(t, len(adv.LastError), approval.MaxTextLen)
	require.NotContains(t, adv.LastError, "\x00")
	require.True(t, strings.HasPrefix(adv.LastError, "bad \uFFFD byte, nul , é"))
	require.True(t, strings.HasSuffix(adv.LastError, "é"), "cut on a rune boundary")
}

func TestStatusAndResourceType(t *testing.T) {
	t.Parallel()

	require.True(t, approval.StatusPending.Valid())
	require.False(t, approval.StatusPending.Decided())
	require.True(t, approval.StatusApproved.Decided())
	require.True(t, approval.StatusRejected.Decided())
	require.False(t, approval.Status("Approved").Valid())

	require.Equal(t, "Enrollment Request", approval.EnrollmentRequest.String())
	require.Equal(t, "Issuance Request", approval.IssuanceRequest.String())
	require.False(t, approval.ResourceType("Revocation Request").Valid())
}
