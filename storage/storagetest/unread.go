package storagetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
)

// testUnread checks changes derived without a read of the work item,
// under the profiles that list the approver: the store applies every
// rule that depends on the item, as [approval.Change.On] says.
func testUnread(t *testing.T, newStore NewStore) {
	t.Helper()

	lease := approval.Lease{Owner: "engine-a", Until: epoch.Add(time.Hour)}

	approve := func(t *testing.T, id string, p approval.Principal,
		profiles ...approval.Profile,
	) approval.Change {
		t.Helper()

		c, ok := approval.ApproveUnread(id, profiles, p, "", epoch, lease)
		require.True(t, ok)

		return c
	}

	reject := func(t *testing.T, id string, p approval.Principal,
		reason string, profiles ...approval.Profile,
	) approval.Change {
		t.Helper()

		c, ok := approval.RejectUnread(id, profiles, p, reason, epoch, lease)
		require.True(t, ok)

		return c
	}

	t.Run("ApprovalsCountAndDecide", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		other := b.threeApprovals(t)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "")
		ctx := t.Context()

		got, err := b.store.Apply(ctx, approve(t, w.ID, alice, other, p))
		require.NoError(t, err)
		require.Equal(t, approval.StatusPending, got.Status)
		require.Equal(t, int64(2), got.Version)
		require.Equal(t, []string{"alice"}, approvers(got))
		require.Equal(t, got, b.get(t, w.ID))

		got, err = b.store.Apply(ctx, approve(t, w.ID, bob, p))
		require.NoError(t, err)
		b.requireApprovedAtEpoch(t, got, lease, "alice", "bob")
	})

	t.Run("RejectionKeepsApprovals", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.threeApprovals(t)
		w := b.approvedBy(t, p, alice)

		got, err := b.store.Apply(t.Context(), reject(t, w.ID, carol, "no", p))
		require.NoError(t, err)
		require.Equal(t, approval.StatusRejected, got.Status)
		require.Equal(t, &approval.Rejection{UserID: "carol", Reason: "no", At: epoch},
			got.Rejection)
		require.Equal(t, []string{"alice"}, approvers(got))
		require.Equal(t, got, b.get(t, w.ID))
	})

	t.Run("ProfileNotGrantedConflicts", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		other := b.threeApprovals(t)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "")
		ctx := t.Context()

		// A grant of another profile, and one of the item's profile
		// at a version before an edit, do not let alice act.
		_, err := b.store.Apply(ctx, approve(t, w.ID, alice, other))
		require.ErrorIs(t, err, approval.ErrConflict)

		edited := p
		edited.Description = "edited"
		_, err = b.engine.UpdateProfile(ctx, edited)
		require.NoError(t, err)

		_, err = b.store.Apply(ctx, approve(t, w.ID, alice, p))
		require.ErrorIs(t, err, approval.ErrConflict)

		_, err = b.store.Apply(ctx, reject(t, w.ID, alice, "", p))
		require.ErrorIs(t, err, approval.ErrConflict)

		require.Equal(t, w, b.get(t, w.ID))
	})

	t.Run("RefusalsFromTheItemAsStored", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.threeApprovals(t)
		w := b.approvedBy(t, p, alice)
		ctx := t.Context()

		_, err := b.store.Apply(ctx, approve(t, w.ID, alice, p))
		require.ErrorIs(t, err, approval.ErrAlreadyApproved)

		_, err = b.store.Apply(ctx, approve(t, "missing", alice, p))
		require.ErrorIs(t, err, approval.ErrNotFound)

		_, err = b.engine.Reject(ctx, w.ID, bob, "no")
		require.NoError(t, err)
		decided := b.get(t, w.ID)

		_, err = b.store.Apply(ctx, approve(t, w.ID, carol, p))
		require.ErrorIs(t, err, approval.ErrNotPending)
		require.Equal(t, decided, b.get(t, w.ID))
	})

	t.Run("SelfApproval", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "alice")
		ctx := t.Context()

		_, err := b.store.Apply(ctx, approve(t, w.ID, alice, p))
		require.ErrorIs(t, err, approval.ErrSelfApproval)
		require.Equal(t, w, b.get(t, w.ID))

		// The requester may still reject her own request.
		got, err := b.store.Apply(ctx, reject(t, w.ID, alice, "withdrawn", p))
		require.NoError(t, err)
		require.Equal(t, approval.StatusRejected, got.Status)

		// Under a profile that allows it, she approves.
		p.AllowSelfApproval = true
		p, err = b.engine.UpdateProfile(ctx, p)
		require.NoError(t, err)
		w = b.item(t, p, "er-2", "alice")

		got, err = b.store.Apply(ctx, approve(t, w.ID, alice, p))
		require.NoError(t, err)
		require.Equal(t, []string{"alice"}, approvers(got))
		require.Equal(t, got, b.get(t, w.ID))
	})

	t.Run("NoProfileListsTheApprover", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")

		_, ok := approval.ApproveUnread("w", []approval.Profile{p}, mallory,
			"", epoch, lease)
		require.False(t, ok)
		_, ok = approval.RejectUnread("w", nil, alice, "", epoch, lease)
		require.False(t, ok)
	})
}
