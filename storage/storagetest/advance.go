package storagetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
)

func testAdvance(t *testing.T, newStore NewStore) {
	t.Helper()

	t.Run("FailureKeepsTheDecision", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "")
		b.advancer.setFailing(true)

		_, err := b.engine.Reject(t.Context(), w.ID, alice, "no")
		var na *approval.NotAdvancedError
		require.ErrorAs(t, err, &na)
		require.ErrorIs(t, err, approval.ErrNotAdvanced)
		require.ErrorIs(t, err, errAdvance)
		require.Equal(t, approval.StatusRejected, na.Item.Status)

		got := b.get(t, w.ID)
		require.Equal(t, approval.StatusRejected, got.Status)
		require.Equal(t, approval.AdvanceDue, got.Advance.State)
		require.Equal(t, 1, got.Advance.Attempts)
		require.Equal(t, errAdvance.Error(), got.Advance.LastError)
		require.Empty(t, got.Advance.LeaseOwner)

		// The decision is final even while its advance is due.
		_, err = b.engine.Approve(t.Context(), w.ID, bob, "")
		require.ErrorIs(t, err, approval.ErrNotPending)

		b.advancer.setFailing(false)
		n, err := b.engine.ResumeAdvances(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, n)

		got = b.get(t, w.ID)
		require.Equal(t, approval.AdvanceDone, got.Advance.State)
		require.Equal(t, 2, got.Advance.Attempts)
		require.Equal(t, []approval.Status{approval.StatusRejected},
			b.advancer.successes(w.ID))

		n, err = b.engine.ResumeAdvances(t.Context())
		require.NoError(t, err)
		require.Zero(t, n)
		require.Equal(t, 2, b.advancer.attempts(w.ID))
	})

	t.Run("GivesUpAfterTheLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "")
		b.advancer.setFailing(true)

		_, err := b.engine.Reject(t.Context(), w.ID, alice, "no")
		require.ErrorIs(t, err, approval.ErrNotAdvanced)

		// The suite's engines allow three attempts.
		for range 2 {
			n, err := b.engine.ResumeAdvances(t.Context())
			require.NoError(t, err)
			require.Zero(t, n)
		}

		got := b.get(t, w.ID)
		require.Equal(t, approval.AdvanceFailed, got.Advance.State)
		require.Equal(t, 3, got.Advance.Attempts)

		n, err := b.engine.ResumeAdvances(t.Context())
		require.NoError(t, err)
		require.Zero(t, n)
		require.Equal(t, 3, b.advancer.attempts(w.ID), "no retry after the limit")

		page, err := b.engine.ListWorkItems(t.Context(), approval.WorkItemFilter{
			AdvanceState: approval.AdvanceFailed,
		}, approval.PageRequest{})
		require.NoError(t, err)
		require.Equal(t, []string{w.ID}, ids(page.Items))

		b.advancer.setFailing(false)
		got, err = b.engine.RetryAdvance(t.Context(), w.ID)
		require.NoError(t, err)
		require.Equal(t, approval.AdvanceDone, got.Advance.State)
		require.Equal(t, got, b.get(t, w.ID))

		_, err = b.engine.RetryAdvance(t.Context(), w.ID)
		require.ErrorIs(t, err, approval.ErrInvalidArgument)
	})

	t.Run("BackoffDoubles", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "")
		b.advancer.setFailing(true)

		_, err := b.engine.Reject(t.Context(), w.ID, alice, "no")
		require.ErrorIs(t, err, approval.ErrNotAdvanced)
		require.Equal(t, epoch.Add(time.Second), b.get(t, w.ID).Advance.NextAttemptAt)

		_, err = b.engine.ResumeAdvances(t.Context())
		require.NoError(t, err)
		require.Equal(t, epoch.Add(2*time.Second), b.get(t, w.ID).Advance.NextAttemptAt)
	})

	t.Run("LeaseKeepsOtherInstancesOut", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		w := b.item(t, p, "er-1", "")
		b.advancer.setFailing(true)

		_, err := b.engine.Reject(t.Context(), w.ID, alice, "no")
		require.ErrorIs(t, err, approval.ErrNotAdvanced)
		ctx := t.Context()

		now := b.clock.Now()
		claim := approval.AdvanceClaim{
			Owner: "engine-x", Now: now, LeaseUntil: now.Add(time.Minute), Limit: 10,
		}
		got, err := b.store.ClaimAdvances(ctx, claim)
		require.NoError(t, err)
		require.Equal(t, []string{w.ID}, ids(got))
		require.Equal(t, "engine-x", got[0].Advance.LeaseOwner)
		require.Equal(t, now.Add(time.Minute), got[0].Advance.LeaseUntil)

		// While engine-x holds the lease, no one else gets the item.
		claim.Owner = "engine-y"
		got, err = b.store.ClaimAdvances(ctx, claim)
		require.NoError(t, err)
		require.Empty(t, got)

		b.advancer.setFailing(false)
		n, err := b.engine.ResumeAdvances(ctx)
		require.NoError(t, err)
		require.Zero(t, n)

		// engine-x died: once the lease runs out, the item is free.
		b.clock.advance(time.Minute)
		n, err = b.engine.ResumeAdvances(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)

		// engine-x's late report is refused: it no longer holds the
		// lease.
		err = b.store.UpdateAdvance(ctx, w.ID, "engine-x", approval.Advance{
			State: approval.AdvanceDue,
		})
		require.ErrorIs(t, err, approval.ErrConflict)
		require.Equal(t, approval.AdvanceDone, b.get(t, w.ID).Advance.State)
	})

	t.Run("ClaimHonoursBackoffAndOrder", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		p := b.twoOfThree(t, "Issuance")
		b.advancer.setFailing(true)

		var want []string
		for _, r := range []string{"er-1", "er-2", "er-3"} {
			w := b.item(t, p, r, "")
			_, err := b.engine.Reject(t.Context(), w.ID, alice, "no")
			require.ErrorIs(t, err, approval.ErrNotAdvanced)
			want = append(want, w.ID)
		}

		now := b.clock.Now()
		claim := approval.AdvanceClaim{
			Owner: "engine-x", Now: now, DueBy: now,
			LeaseUntil: now.Add(time.Minute), Limit: 10,
		}
		got, err := b.store.ClaimAdvances(t.Context(), claim)
		require.NoError(t, err)
		require.Empty(t, got, "backoff not over yet")

		claim.DueBy = now.Add(time.Second)
		claim.Limit = 2
		got, err = b.store.ClaimAdvances(t.Context(), claim)
		require.NoError(t, err)
		require.Equal(t, want[:2], ids(got))

		claim.After = want[1]
		got, err = b.store.ClaimAdvances(t.Context(), claim)
		require.NoError(t, err)
		require.Equal(t, want[2:], ids(got))
	})
}
