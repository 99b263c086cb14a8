package storagetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
)

// testStoreContract checks what the store must do on its own, whatever
// its caller read: the conditions of its writes.
func testStoreContract(t *testing.T, newStore NewStore) {
	t.Helper()

	lease := approval.Lease{Owner: "engine-a", Until: epoch.Add(time.Hour)}

	t.Run("ApprovalsFromOneReadAllCount", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		w := b.item(t, b.twoOfThree(t, "Issuance"), "er-1", "")
		ctx := t.Context()

		read, prof, err := b.store.GetWorkItemAndProfile(ctx, w.ID)
		require.NoError(t, err)

		byAlice, err := approval.Approve(read, prof, alice, "", epoch, lease)
		require.NoError(t, err)
		byBob, err := approval.Approve(read, prof, bob, "", epoch, lease)
		require.NoError(t, err)
		require.Equal(t, approval.StatusPending, byBob.Item.Status)

		got, err := b.store.Apply(ctx, byAlice)
		require.NoError(t, err)
		require.Equal(t, byAlice.Item, got)

		// bob's change was derived before alice's approval, yet made
		// to the item as stored: it is the second and decides.
		got, err = b.store.Apply(ctx, byBob)
		require.NoError(t, err)
		b.requireApprovedAtEpoch(t, got, lease, "alice", "bob")
	})

	t.Run("ChangeFromOldReadReachesThreshold", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		read, prof := b.readBeforeBob(t)
		ctx := t.Context()

		c, err := approval.Approve(read, prof, alice, "", epoch, lease)
		require.NoError(t, err)
		require.Equal(t, approval.StatusPending, c.Item.Status)

		got, err := b.store.Apply(ctx, c)
		require.NoError(t, err)
		require.Equal(t, approval.StatusApproved, got.Status)
		require.Equal(t, []string{"bob", "alice"}, approvers(got))
		require.Equal(t, int64(3), got.Version)
		require.Equal(t, got, b.get(t, read.ID))

		c, err = approval.Reject(read, prof, carol, "", epoch, lease)
		require.NoError(t, err)

		_, err = b.store.Apply(ctx, c)
		require.ErrorIs(t, err, approval.ErrNotPending)
		require.Equal(t, got, b.get(t, read.ID))
	})

	t.Run("RejectionFromOldReadKeepsApprovals", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		read, prof := b.readBeforeBob(t)

		c, err := approval.Reject(read, prof, carol, "no", epoch, lease)
		require.NoError(t, err)

		got, err := b.store.Apply(t.Context(), c)
		require.NoError(t, err)
		require.Equal(t, approval.StatusRejected, got.Status)
		require.Equal(t, []string{"bob"}, approvers(got))
		require.Equal(t, int64(3), got.Version)
		require.Equal(t, got, b.get(t, read.ID))
	})

	t.Run("ChangeFromOldReadOnDecidedItem", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		w := b.item(t, b.twoOfThree(t, "Issuance"), "er-1", "")
		ctx := t.Context()

		read, prof, err := b.store.GetWorkItemAndProfile(ctx, w.ID)
		require.NoError(t, err)

		rej, err := approval.Reject(read, prof, alice, "no", epoch, lease)
		require.NoError(t, err)
		byBob, err := approval.Approve(read, prof, bob, "", epoch, lease)
		require.NoError(t, err)
		byCarol, err := approval.Reject(read, prof, carol, "", epoch, lease)
		require.NoError(t, err)

		rejected, err := b.store.Apply(ctx, rej)
		require.NoError(t, err)
		require.Equal(t, rej.Item, rejected)

		_, err = b.store.Apply(ctx, byBob)
		require.ErrorIs(t, err, approval.ErrNotPending)
		_, err = b.store.Apply(ctx, byCarol)
		require.ErrorIs(t, err, approval.ErrNotPending)
		require.Equal(t, rejected, b.get(t, w.ID))
	})

	t.Run("SecondApprovalFromOneRead", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.threeApprovals(t)
		w := b.item(t, p, "er-1", "")
		ctx := t.Context()

		read, prof, err := b.store.GetWorkItemAndProfile(ctx, w.ID)
		require.NoError(t, err)

		first, err := approval.Approve(read, prof, alice, "", epoch, lease)
		require.NoError(t, err)
		again, err := approval.Approve(read, prof, alice, "", epoch, lease)
		require.NoError(t, err)

		want, err := b.store.Apply(ctx, first)
		require.NoError(t, err)

		_, err = b.store.Apply(ctx, again)
		require.ErrorIs(t, err, approval.ErrAlreadyApproved)
		require.Equal(t, want, b.get(t, w.ID))
	})

	t.Run("StaleProfileVersionConflicts", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "")
		ctx := t.Context()

		read, prof, err := b.store.GetWorkItemAndProfile(ctx, w.ID)
		require.NoError(t, err)
		require.Equal(t, p, prof)

		c, err := approval.Approve(read, prof, alice, "", epoch, lease)
		require.NoError(t, err)

		// alice is removed between the read and the write.
		p.Approvers.Users = nil
		_, err = b.engine.UpdateProfile(ctx, p)
		require.NoError(t, err)

		_, err = b.store.Apply(ctx, c)
		require.ErrorIs(t, err, approval.ErrConflict)
		require.Equal(t, w, b.get(t, w.ID))
	})

	t.Run("StoreRefusesDoubleApproval", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.threeApprovals(t)
		cur := b.approvedBy(t, p, alice)

		// A buggy caller builds a second approval by alice with the
		// right versions; the store must refuse it by itself.
		a := approval.Approval{UserID: "alice", At: epoch}
		next := cur.Clone()
		next.Approvals = append(next.Approvals, a)
		next.Version++
		_, err := b.store.Apply(t.Context(), approval.Change{
			Action:      approval.ActionApprove,
			Item:        next,
			ReadVersion: cur.Version,
			Grants:      []approval.Grant{{ProfileID: p.ID, ProfileVersion: p.Version}},
			Approval:    &a,
		})
		require.ErrorIs(t, err, approval.ErrAlreadyApproved)
		require.Equal(t, cur, b.get(t, cur.ID))
	})

	// A second approval derived under a profile that changed since is
	// a conflict, not a double approval: under the new profile the
	// user may not be an approver at all.
	t.Run("ChangedProfileBeforeDoubleApproval", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.threeApprovals(t)
		cur := b.approvedBy(t, p, alice)
		ctx := t.Context()

		// p keeps the version from before this edit, under which the
		// changes below are derived.
		p.Approvers.Users = nil
		_, err := b.engine.UpdateProfile(ctx, p)
		require.NoError(t, err)

		// Read before alice's approval and after it: the store refuses
		// both as a conflict, whichever way it writes.
		for _, read := range []int64{cur.Version - 1, cur.Version} {
			a := approval.Approval{UserID: "alice", At: epoch}
			_, err = b.store.Apply(ctx, approval.Change{
				Action:      approval.ActionApprove,
				Item:        cur,
				ReadVersion: read,
				Grants:      []approval.Grant{{ProfileID: p.ID, ProfileVersion: p.Version}},
				Approval:    &a,
			})
			require.ErrorIs(t, err, approval.ErrConflict, "read version %d", read)
			require.Equal(t, cur, b.get(t, cur.ID))
		}
	})

	t.Run("MissingRecords", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		ctx := t.Context()

		_, _, err := b.store.GetWorkItemAndProfile(ctx, "missing")
		require.ErrorIs(t, err, approval.ErrNotFound)

		_, err = b.store.GetProfile(ctx, "missing")
		require.ErrorIs(t, err, approval.ErrNotFound)

		err = b.store.DeleteProfile(ctx, "missing", 1)
		require.ErrorIs(t, err, approval.ErrNotFound)

		err = b.store.UpdateAdvance(ctx, "missing", "", approval.Advance{})
		require.ErrorIs(t, err, approval.ErrNotFound)
	})

	t.Run("AdvanceOfPendingItemConflicts", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		w := b.item(t, b.twoOfThree(t, "Issuance"), "er-1", "")

		err := b.store.UpdateAdvance(t.Context(), w.ID, "", approval.Advance{
			State: approval.AdvanceDone,
		})
		require.ErrorIs(t, err, approval.ErrConflict)
		require.Equal(t, w, b.get(t, w.ID))
	})

	t.Run("ReturnsCopies", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "")
		ctx := t.Context()

		_, err := b.engine.Approve(ctx, w.ID, alice, "")
		require.NoError(t, err)

		got, err := b.store.GetWorkItem(ctx, w.ID)
		require.NoError(t, err)
		got.Approvals[0].UserID = "mallory"
		require.Equal(t, []string{"alice"}, approvers(b.get(t, w.ID)))

		prof, err := b.store.GetProfile(ctx, p.ID)
		require.NoError(t, err)
		prof.Approvers.Users[0] = "mallory"

		again, err := b.store.GetProfile(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, []string{"alice"}, again.Approvers.Users)
	})

	t.Run("CanceledContext", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "")

		ctx, cancel := contextCanceled(t)
		cancel()

		_, err := b.engine.Approve(ctx, w.ID, alice, "")
		require.Error(t, err)
		_, err = b.engine.CreateWorkItem(ctx, approval.WorkItemSpec{
			ProfileID: p.ID, ResourceType: approval.IssuanceRequest, ResourceID: "ir-1",
		})
		require.Error(t, err)

		require.Equal(t, w, b.get(t, w.ID))
		page, err := b.engine.ListWorkItems(t.Context(), approval.WorkItemFilter{},
			approval.PageRequest{})
		require.NoError(t, err)
		require.Equal(t, []string{w.ID}, ids(page.Items))
	})
}

// requireApprovedAtEpoch checks that w, as a store's Apply returned
// it, is stored so, and was decided Approved at epoch by the approvals
// of users, in that order, each its own write from version 1, with its
// advance due under lease.
func (b *bundle) requireApprovedAtEpoch(t *testing.T, w approval.WorkItem,
	lease approval.Lease, users ...string,
) {
	t.Helper()

	require.Equal(t, approval.StatusApproved, w.Status)
	require.Equal(t, int64(len(users)+1), w.Version)
	require.Equal(t, users, approvers(w))
	require.Equal(t, epoch, w.DecidedAt)
	require.Equal(t, approval.Advance{
		State:      approval.AdvanceDue,
		LeaseOwner: lease.Owner,
		LeaseUntil: lease.Until,
	}, w.Advance)
	require.Equal(t, w, b.get(t, w.ID))
}

func approvers(w approval.WorkItem) []string {
	var out []string
	for _, a := range w.Approvals {
		out = append(out, a.UserID)
	}

	return out
}
