package storagetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
)

func testDecisions(t *testing.T, newStore NewStore) {
	t.Helper()

	t.Run("ApproveToThreshold", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "")

		b.clock.advance(time.Second)
		got, err := b.engine.Approve(t.Context(), w.ID, bob, "looks right")
		require.NoError(t, err)
		require.Equal(t, approval.StatusPending, got.Status)
		require.Equal(t, []approval.Approval{{
			UserID: "bob", Comment: "looks right", At: epoch.Add(time.Second),
		}}, got.Approvals)
		require.Equal(t, got, b.get(t, w.ID))
		require.Zero(t, b.advancer.attempts(w.ID))

		b.clock.advance(time.Second)
		got, err = b.engine.Approve(t.Context(), w.ID, carol, "")
		require.NoError(t, err)
		require.Equal(t, approval.StatusApproved, got.Status)
		require.Len(t, got.Approvals, 2)
		require.Equal(t, epoch.Add(2*time.Second), got.DecidedAt)
		require.Equal(t, approval.AdvanceDone, got.Advance.State)
		require.Equal(t, 1, got.Advance.Attempts)
		require.Equal(t, epoch.Add(2*time.Second), got.Advance.AdvancedAt)

		require.Equal(t, got, b.get(t, w.ID))
		require.Equal(t, []approval.Status{approval.StatusApproved},
			b.advancer.successes(w.ID))
	})

	t.Run("ApprovalsThatLookStoredCountOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		ctx := t.Context()

		// IDs and comments that spell parts of a stored approval list,
		// which a store must neither parse nor count as approvals.
		users := []string{`a"user_id":b`, `c\`, `{"user_id":"d"},`}
		p, err := b.engine.CreateProfile(ctx, approval.Profile{
			Name: "Look-alikes", RequiredApprovals: 3,
			Approvers: approval.Approvers{Users: users},
		})
		require.NoError(t, err)
		w := b.item(t, p, "er-1", "")

		comments := []string{`"user_id":"x"`, `\"user_id\":`, `],[`}
		for i, u := range users {
			got, err := b.engine.Approve(ctx, w.ID, approval.Principal{UserID: u},
				comments[i])
			require.NoError(t, err)
			require.Len(t, got.Approvals, i+1)
			require.Equal(t, u, got.Approvals[i].UserID)
			require.Equal(t, comments[i], got.Approvals[i].Comment)

			want := approval.StatusPending
			if i == len(users)-1 {
				want = approval.StatusApproved
			}
			require.Equal(t, want, got.Status, "after %d approvals", i+1)
			require.Equal(t, got, b.get(t, w.ID))
		}
	})

	t.Run("NoOneApprovesTwice", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "")

		first, err := b.engine.Approve(t.Context(), w.ID, dave, "")
		require.NoError(t, err)

		// dave matches by group and by role, but is one approver.
		_, err = b.engine.Approve(t.Context(), w.ID, dave, "again")
		require.ErrorIs(t, err, approval.ErrAlreadyApproved)
		require.Equal(t, first, b.get(t, w.ID))
	})

	t.Run("NotAuthorized", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "")

		_, err := b.engine.Approve(t.Context(), w.ID, mallory, "")
		var na *approval.NotAuthorizedError
		require.ErrorAs(t, err, &na)
		require.Equal(t, "mallory", na.UserID)
		require.Equal(t, p.ID, na.ProfileID)

		_, err = b.engine.Reject(t.Context(), w.ID, mallory, "")
		require.ErrorIs(t, err, approval.ErrNotAuthorized)

		require.Equal(t, w, b.get(t, w.ID))
	})

	t.Run("SeparationOfDuties", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "bob")

		_, err := b.engine.Approve(t.Context(), w.ID, bob, "")
		require.ErrorIs(t, err, approval.ErrSelfApproval)
		require.Equal(t, w, b.get(t, w.ID))

		p.AllowSelfApproval = true
		_, err = b.engine.UpdateProfile(t.Context(), p)
		require.NoError(t, err)

		got, err := b.engine.Approve(t.Context(), w.ID, bob, "")
		require.NoError(t, err)
		require.True(t, got.ApprovedBy("bob"))
	})

	t.Run("RequesterMayReject", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "bob")

		got, err := b.engine.Reject(t.Context(), w.ID, bob, "withdrawn")
		require.NoError(t, err)
		require.Equal(t, approval.StatusRejected, got.Status)
	})

	t.Run("OneRejectionDecides", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "")

		_, err := b.engine.Approve(t.Context(), w.ID, alice, "")
		require.NoError(t, err)

		b.clock.advance(time.Minute)
		got, err := b.engine.Reject(t.Context(), w.ID, carol, "key too weak")
		require.NoError(t, err)
		require.Equal(t, approval.StatusRejected, got.Status)
		require.Equal(t, &approval.Rejection{
			UserID: "carol", Reason: "key too weak", At: epoch.Add(time.Minute),
		}, got.Rejection)
		require.Len(t, got.Approvals, 1)
		require.Equal(t, got, b.get(t, w.ID))
		require.Equal(t, []approval.Status{approval.StatusRejected},
			b.advancer.successes(w.ID))
	})

	t.Run("DecisionsAreFinal", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		approved := b.item(t, p, "er-1", "")
		rejected := b.item(t, p, "er-2", "")

		_, err := b.engine.Approve(t.Context(), approved.ID, alice, "")
		require.NoError(t, err)
		_, err = b.engine.Approve(t.Context(), approved.ID, bob, "")
		require.NoError(t, err)
		_, err = b.engine.Reject(t.Context(), rejected.ID, alice, "")
		require.NoError(t, err)

		for _, id := range []string{approved.ID, rejected.ID} {
			before := b.get(t, id)

			_, err = b.engine.Approve(t.Context(), id, carol, "")
			require.ErrorIs(t, err, approval.ErrNotPending)
			_, err = b.engine.Reject(t.Context(), id, carol, "")
			require.ErrorIs(t, err, approval.ErrNotPending)

			require.Equal(t, before, b.get(t, id))
			require.Len(t, b.advancer.successes(id), 1)
		}
	})

	t.Run("RevokedApproverStopsAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "")

		p.Approvers.Groups = nil
		_, err := b.engine.UpdateProfile(t.Context(), p)
		require.NoError(t, err)

		_, err = b.engine.Approve(t.Context(), w.ID, bob, "")
		require.ErrorIs(t, err, approval.ErrNotAuthorized)
		require.Equal(t, w, b.get(t, w.ID))
	})

	// An engine that remembers the profile from before the edit still
	// gives the refusal the rules give under the edited profile, which
	// ranks a revoked approver above an approval made before.
	t.Run("RevokedApproverWhoApprovedIsNotAuthorized", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		approved := b.approvedBy(t, p, bob)
		ctx := t.Context()

		p.Approvers.Groups = nil
		_, err := b.newEngine(t, "engine-b").UpdateProfile(ctx, p)
		require.NoError(t, err)

		_, err = b.engine.Approve(ctx, approved.ID, bob, "")
		require.ErrorIs(t, err, approval.ErrNotAuthorized)
		require.Equal(t, approved, b.get(t, approved.ID))
	})

	t.Run("CanActSaysWhyNot", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "carol")
		ctx := t.Context()

		require.NoError(t, b.engine.CanAct(ctx, w.ID, alice, approval.ActionApprove))
		require.ErrorIs(t, b.engine.CanAct(ctx, w.ID, mallory, approval.ActionApprove),
			approval.ErrNotAuthorized)
		require.ErrorIs(t, b.engine.CanAct(ctx, w.ID, carol, approval.ActionApprove),
			approval.ErrSelfApproval)
		require.NoError(t, b.engine.CanAct(ctx, w.ID, carol, approval.ActionReject))

		_, err := b.engine.Approve(ctx, w.ID, alice, "")
		require.NoError(t, err)
		require.ErrorIs(t, b.engine.CanAct(ctx, w.ID, alice, approval.ActionApprove),
			approval.ErrAlreadyApproved)

		_, err = b.engine.Approve(ctx, w.ID, bob, "")
		require.NoError(t, err)
		require.ErrorIs(t, b.engine.CanAct(ctx, w.ID, dave, approval.ActionReject),
			approval.ErrNotPending)

		require.ErrorIs(t, b.engine.CanAct(ctx, w.ID, dave, "escalate"),
			approval.ErrInvalidArgument)
		require.ErrorIs(t, b.engine.CanAct(ctx, "missing", dave, approval.ActionApprove),
			approval.ErrNotFound)
	})

	t.Run("BadInputChangesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "")
		ctx := t.Context()

		bad := []approval.Principal{
			{},
			{UserID: "   "},
			{UserID: "alice\x00"},
			{UserID: "\xff"},
			{UserID: "bob", Groups: []string{""}},
			{UserID: "carol", Roles: []string{"ca-admin", "\n"}},
		}
		for _, pr := range bad {
			_, err := b.engine.Approve(ctx, w.ID, pr, "")
			require.ErrorIs(t, err, approval.ErrInvalidArgument, "%q", pr)
			_, err = b.engine.Reject(ctx, w.ID, pr, "")
			require.ErrorIs(t, err, approval.ErrInvalidArgument, "%q", pr)
		}

		_, err := b.engine.Approve(ctx, w.ID, alice, "bad \xff comment")
		require.ErrorIs(t, err, approval.ErrInvalidArgument)
		_, err = b.engine.Reject(ctx, w.ID, alice, "nul \x00 reason")
		require.ErrorIs(t, err, approval.ErrInvalidArgument)
		_, err = b.engine.Approve(ctx, "", alice, "")
		require.ErrorIs(t, err, approval.ErrInvalidArgument)
		_, err = b.engine.Approve(ctx, "missing", alice, "")
		require.ErrorIs(t, err, approval.ErrNotFound)

		require.Equal(t, w, b.get(t, w.ID))
	})
}
