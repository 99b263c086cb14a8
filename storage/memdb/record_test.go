package memdb

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
)

func TestStampRoundTrip(t *testing.T) {
	t.Parallel()

	times := []time.Time{
		{},
		time.Unix(0, 0).UTC(),
		time.Date(2026, 3, 1, 9, 0, 0, 123_456_000, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(0, 12, 31, 23, 59, 59, 999_999_000, time.UTC),
		time.Date(-4000, 6, 1, 12, 0, 0, 1000, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_000, time.UTC),
		time.Now().UTC().Truncate(time.Microsecond),
	}

	for _, want := range times {
		s, err := toStamp("at", want)
		require.NoError(t, err, want)

		// Equal, not Time.Equal: the stored form must be the very
		// form that went in, as the store contract asks.
		require.Equal(t, want, s.time(), "stamp %d", s)
	}

	zero, err := toStamp("at", time.Time{})
	require.NoError(t, err)
	require.Zero(t, zero)
}

func TestStampKeepsTheInstant(t *testing.T) {
	t.Parallel()

	in := time.Date(2026, 3, 1, 10, 0, 0, 123_456_789, time.FixedZone("CET", 3600))
	s, err := toStamp("at", in)
	require.NoError(t, err)

	got := s.time()
	require.Equal(t, time.UTC, got.Location())
	require.True(t, got.Equal(in.Truncate(time.Microsecond)), "%s", got)
}

func TestStampOutOfRange(t *testing.T) {
	t.Parallel()

	for _, year := range []int{300_000, -300_000} {
		at := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
		_, err := toStamp("work_item.created_at", at)

		var bad *approval.InvalidArgumentError
		require.ErrorAs(t, err, &bad, "year %d", year)
		require.Equal(t, "work_item.created_at", bad.Field)
	}
}

// fullItem is a decided work item with every field set.
func fullItem() approval.WorkItem {
	at := time.Date(2026, 3, 1, 9, 0, 0, 1000, time.UTC)

	return approval.WorkItem{
		ID:                "w-1",
		ProfileID:         "p-1",
		ResourceType:      approval.IssuanceRequest,
		ResourceID:        "ir-9",
		Description:       "issuance for jdoe",
		RequestedBy:       "ra-1",
		Status:            approval.StatusRejected,
		RequiredApprovals: 2,
		Approvals: []approval.Approval{
			{UserID: "alice", Comment: "fine", At: at},
			{UserID: "bob", At: at.Add(time.Second)},
		},
		Rejection: &approval.Rejection{
			UserID: "carol", Reason: "no", At: at.Add(time.Minute),
		},
		Advance: approval.Advance{
			State:         approval.AdvanceFailed,
			Attempts:      5,
			LastError:     "host down",
			NextAttemptAt: at.Add(time.Hour),
			LeaseOwner:    "engine-a",
			LeaseUntil:    at.Add(2 * time.Hour),
			AdvancedAt:    at.Add(3 * time.Hour),
		},
		Version:   4,
		CreatedAt: at.Add(-time.Hour),
		DecidedAt: at.Add(time.Minute),
	}
}

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()

	pendingNoApprovals := approval.WorkItem{
		ID: "w-2", ProfileID: "p-1", ResourceType: approval.EnrollmentRequest,
		ResourceID: "er-1", Status: approval.StatusPending, RequiredApprovals: 1,
		Approvals: []approval.Approval{}, Version: 1,
	}

	for _, want := range []approval.WorkItem{fullItem(), pendingNoApprovals, {
		ID: "w-3", ProfileID: "p-1", ResourceType: approval.EnrollmentRequest,
		ResourceID: "er-2", Status: approval.StatusApproved,
	}} {
		r, err := toRecord(&want)
		require.NoError(t, err)
		require.Equal(t, want, r.item())
	}

	pending, err := toRecord(&pendingNoApprovals)
	require.NoError(t, err)
	require.Nil(t, pending.outcome, "a Pending item keeps no outcome")
}

func TestRecordSharesNothingMutable(t *testing.T) {
	t.Parallel()

	in := fullItem()
	r, err := toRecord(&in)
	require.NoError(t, err)

	in.Approvals[0].UserID = "mallory"
	in.Rejection.Reason = "changed"

	out := r.item()
	out.Approvals[1].UserID = "mallory"
	out.Rejection.UserID = "mallory"

	require.Equal(t, fullItem(), r.item())
}

func TestRecordRefusesWhatItCannotHold(t *testing.T) {
	t.Parallel()

	cases := map[string]func(w *approval.WorkItem){
		"work_item.status": func(w *approval.WorkItem) {
			w.Status = "stuck"
		},
		"work_item.resource_type": func(w *approval.WorkItem) {
			w.ResourceType = "other"
		},
		"work_item.advance.state": func(w *approval.WorkItem) {
			w.Advance.State = "later"
		},
		"work_item": func(w *approval.WorkItem) {
			w.Description = strings.Repeat("x", maxText)
		},
		"work_item.approvals.at": func(w *approval.WorkItem) {
			w.Approvals[1].At = time.Date(300_000, 1, 1, 0, 0, 0, 0, time.UTC)
		},
	}

	for field, spoil := range cases {
		w := fullItem()
		spoil(&w)

		_, err := toRecord(&w)

		var bad *approval.InvalidArgumentError
		require.ErrorAs(t, err, &bad, field)
		require.Equal(t, field, bad.Field)
	}
}
