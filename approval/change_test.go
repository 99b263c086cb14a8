package approval_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/otpki/workitems/approval"
)

func TestChangeOnItemThatMovedOn(t *testing.T) {
	t.Parallel()

	byAlice, err := approval.Approve(pending, twoOfThree, userAlice, "", t0, lease)
	require.NoError(t, err)
	later := t0.Add(time.Second)
	byBob, err := approval.Approve(pending, twoOfThree, groupBob, "", later, lease)
	require.NoError(t, err)

	// bob derived his change before alice approved; made to the item
	// as it is now, it is the second approval and decides.
	got, err := byBob.On(byAlice.Item, twoOfThree.Version)
	require.NoError(t, err)
	require.Equal(t, approval.StatusApproved, got.Status)
	require.Equal(t, int64(9), got.Version)
	require.Equal(t, []approval.Approval{*byAlice.Approval, *byBob.Approval}, got.Approvals)
	require.Equal(t, later, got.DecidedAt)
	require.Equal(t, approval.Advance{
		State:      approval.AdvanceDue,
		LeaseOwner: lease.Owner,
		LeaseUntil: lease.Until,
	}, got.Advance)

	// The item it was made to keeps its own approvals.
	require.Len(t, byAlice.Item.Approvals, 1)
}

func TestChangeOnRefuses(t *testing.T) {
	t.Parallel()

	byAlice, err := approval.Approve(pending, twoOfThree, userAlice, "", t0, lease)
	require.NoError(t, err)
	rej, err := approval.Reject(pending, twoOfThree, groupBob, "no", t0, lease)
	require.NoError(t, err)

	_, err = byAlice.On(byAlice.Item, twoOfThree.Version)
	require.ErrorIs(t, err, approval.ErrAlreadyApproved)

	_, err = byAlice.On(rej.Item, twoOfThree.Version)
	require.ErrorIs(t, err, approval.ErrNotPending)

	_, err = rej.On(rej.Item, twoOfThree.Version)
	require.ErrorIs(t, err, approval.ErrNotPending)

	var invalid *approval.InvalidArgumentError
	_, err = approval.Change{Action: approval.ActionApprove}.On(pending, twoOfThree.Version)
	require.ErrorAs(t, err, &invalid)
	_, err = approval.Change{Action: "withdraw", Approval: byAlice.Approval}.On(pending, twoOfThree.Version)
	require.ErrorAs(t, err, &invalid)
}

func TestChangeOnAdvancedInTx(t *testing.T) {
	t.Parallel()

	one := twoOfThree
	one.RequiredApprovals = 1
	item := pending
	item.RequiredApprovals = 1

	c, err := approval.Approve(item, one, userAlice, "", t0, lease)
	require.NoError(t, err)
	c = approval.AdvancedWithDecision(c)

	want := approval.Advance{State: approval.AdvanceDone, Attempts: 1, AdvancedAt: t0}
	require.Equal(t, want, c.DecisionAdvance())
	require.Equal(t, want, c.Item.Advance)

	got, err := c.On(item, one.Version)
	require.NoError(t, err)
	require.Equal(t, c.Item, got)
}

// TestChangesFromOneReadCommute checks that approvals derived from one
// read, by distinct users, reach the same item in whatever order they
// are made: the same approvers, Approved exactly when their number
// reaches the threshold, and decided by the one that reached it. A
// rejection among them stops every change after it.
func TestChangesFromOneReadCommute(t *testing.T) {
	t.Parallel()

	rapid.Check(t, func(t *rapid.T) {
		required := rapid.IntRange(1, 6).Draw(t, "required")
		users := rapid.IntRange(1, 8).Draw(t, "users")
		rejectAt := rapid.IntRange(-1, users-1).Draw(t, "rejectAt")

		prof := approval.Profile{
			ID: "p", RequiredApprovals: required, Version: 1,
			Approvers: approval.Approvers{Groups: []string{"g"}},
		}
		read := approval.WorkItem{
			ID: "w", ProfileID: "p", Status: approval.StatusPending,
			RequiredApprovals: required, Version: 1,
		}

		changes := make([]approval.Change, users)
		for i := range changes {
			p := approval.Principal{UserID: fmt.Sprintf("u%d", i), Groups: []string{"g"}}
			at := t0.Add(time.Duration(i) * time.Second)

			var err error
			if i == rejectAt {
				changes[i], err = approval.Reject(read, prof, p, "", at, lease)
			} else {
				changes[i], err = approval.Approve(read, prof, p, "", at, lease)
			}
			if err != nil {
				t.Fatalf("derive: %v", err)
			}
		}

		order := rapid.Permutation(changes).Draw(t, "order")

		item, applied := read, 0
		for _, c := range order {
			next, err := c.On(item, prof.Version)
			if err != nil {
				if item.Status == approval.StatusPending {
					t.Fatalf("change refused on a Pending item: %v", err)
				}
				continue
			}

			if next.Version != item.Version+1 {
				t.Fatalf("version %d after %d", next.Version, item.Version)
			}
			item, applied = next, applied+1
		}

		switch {
		case item.Status == approval.StatusRejected:
			if len(item.Approvals) >= required {
				t.Fatalf("rejected with %d of %d approvals", len(item.Approvals), required)
			}
		case applied >= required:
			if item.Status != approval.StatusApproved || len(item.Approvals) != required {
				t.Fatalf("%s with %d approvals, %d required",
					item.Status, len(item.Approvals), required)
			}
			last := item.Approvals[required-1]
			if !item.DecidedAt.Equal(last.At) {
				t.Fatalf("decided at %v, not by the approval that reached it", item.DecidedAt)
			}
		default:
			if item.Status != approval.StatusPending || len(item.Approvals) != applied {
				t.Fatalf("%s with %d approvals after %d changes",
					item.Status, len(item.Approvals), applied)
			}
		}

		seen := make(map[string]bool)
		for _, a := range item.Approvals {
			if seen[a.UserID] {
				t.Fatalf("user %s approved twice", a.UserID)
			}
			seen[a.UserID] = true
		}
	})
}

func TestUnreadChangeIsGrantedByTheProfilesThatListTheApprover(t *testing.T) {
	t.Parallel()

	selfish := twoOfThree
	selfish.ID, selfish.Version, selfish.AllowSelfApproval = "p2", 9, true
	others := twoOfThree
	others.ID, others.Approvers = "p3", approval.Approvers{Users: []string{"dave"}}

	c, ok := approval.ApproveUnread("w1",
		[]approval.Profile{twoOfThree, others, selfish}, roleCarol, "ok", t0, lease)
	require.True(t, ok)
	require.Equal(t, approval.Change{
		Action:   approval.ActionApprove,
		Item:     approval.WorkItem{ID: "w1"},
		Approval: &approval.Approval{UserID: "carol", Comment: "ok", At: t0},
		Grants: []approval.Grant{
			{ProfileID: "p1", ProfileVersion: 4},
			{ProfileID: "p2", ProfileVersion: 9, AllowSelfApproval: true},
		},
		Lease: lease,
	}, c)

	// carol requested the item: only the grant of p2 lets her approve.
	_, err := c.On(pending, twoOfThree.Version)
	require.ErrorIs(t, err, approval.ErrSelfApproval)

	mine := pending
	mine.ProfileID = "p2"
	got, err := c.On(mine, 9)
	require.NoError(t, err)
	require.Equal(t, []approval.Approval{*c.Approval}, got.Approvals)

	// No grant for p3, and none of p2 at another version.
	for _, tc := range []struct {
		profile string
		version int64
	}{{"p3", 1}, {"p2", 10}} {
		w := pending
		w.ProfileID = tc.profile
		_, err = c.On(w, tc.version)
		require.ErrorIs(t, err, approval.ErrConflict, tc.profile)
	}

	rej, ok := approval.RejectUnread("w1", []approval.Profile{others}, groupBob,
		"", t0, lease)
	require.False(t, ok)
	require.Empty(t, rej.Grants)
}
