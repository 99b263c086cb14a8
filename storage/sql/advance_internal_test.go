package sqlstore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
)

// TestPostgresAdvanceRecordDurability checks that the record of an
// advance's outcome turns off the wait for the disk for its own
// transaction and no further, and that the record an operator's retry
// writes keeps it.
func TestPostgresAdvanceRecordDurability(t *testing.T) {
	t.Parallel()

	s, db := planStore(t)
	ctx := t.Context()

	e, err := approval.NewEngine(s, approval.AdvancerFunc(
		func(context.Context, approval.WorkItem) error { return nil },
	), nil)
	require.NoError(t, err)

	p, err := e.CreateProfile(ctx, approval.Profile{
		Name:              "Durability",
		RequiredApprovals: 1,
		Approvers:         approval.Approvers{Users: []string{"alice"}},
	})
	require.NoError(t, err)
	w, err := e.CreateWorkItem(ctx, approval.WorkItemSpec{
		ProfileID:    p.ID,
		ResourceType: approval.IssuanceRequest,
		ResourceID:   "ir-1",
	})
	require.NoError(t, err)
	w, err = e.Reject(ctx, w.ID, approval.Principal{UserID: "alice"}, "no")
	require.NoError(t, err)
	require.Equal(t, approval.AdvanceDone, w.Advance.State)

	tests := []struct {
		name  string
		query string
		async bool
	}{
		{"Outcome", s.q.recordAdvance, true},
		{"OperatorRetry", s.q.updateAdvance, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			ctx := t.Context()
			conn, err := db.Conn(ctx)
			require.NoError(t, err)
			defer conn.Close()

			before := synchronousCommit(ctx, t, conn)
			require.NotEqual(t, "off", before)

			tx, err := conn.BeginTx(ctx, nil)
			require.NoError(t, err)
			defer func() { _ = tx.Rollback() }()

			// The item's lease was let go when its advance succeeded,
			// so the record matches it with no owner.
			args := append(s.advanceArgs(w.Advance), w.ID, "")
			res, err := tx.ExecContext(ctx, tt.query, args...)
			require.NoError(t, err)
			n, err := res.RowsAffected()
			require.NoError(t, err)
			require.EqualValues(t, 1, n)

			want := before
			if tt.async {
				want = "off"
			}
			require.Equal(t, want, synchronousCommit(ctx, t, tx))

			require.NoError(t, tx.Rollback())
			require.Equal(t, before, synchronousCommit(ctx, t, conn))
		})
	}
}

// synchronousCommit returns the setting as q's session sees it.
func synchronousCommit(ctx context.Context, t *testing.T, q execer) string {
	t.Helper()

	var v string
	err := q.QueryRowContext(ctx, "SHOW synchronous_commit").Scan(&v)
	require.NoError(t, err)

	return v
}
