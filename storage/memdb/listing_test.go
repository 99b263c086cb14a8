package memdb_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
	"github.com/otpki/workitems/storage/memdb"
)

// TestListingByStatusAcrossProfiles checks the listings that merge the
// items of every profile: profile IDs that are prefixes of one
// another, and decided items of a deleted profile, must all be found,
// in ID order, on every page.
func TestListingByStatusAcrossProfiles(t *testing.T) {
	t.Parallel()

	profileIDs := []string{"p", "p a", "pa", "p\u00e9", "pa-", "q"}
	ids := append([]string(nil), profileIDs...)
	for i := range 90 {
		ids = append(ids, fmt.Sprintf("w%03d", i))
	}

	next := 0
	e, err := approval.NewEngine(memdb.New(), approval.AdvancerFunc(noop),
		&approval.Config{NewID: func() string {
			next++
			return ids[next-1]
		}})
	require.NoError(t, err)

	ctx := t.Context()
	for i := range profileIDs {
		_, err := e.CreateProfile(ctx, approval.Profile{
			Name: fmt.Sprintf("Profile %d", i), RequiredApprovals: 1,
			Approvers: approval.Approvers{Roles: []string{"approver"}},
		})
		require.NoError(t, err)
	}

	// The items go round the profiles three at a time, one of each
	// status, so that each profile's items interleave with the
	// others' by ID.
	for i := range 90 {
		p := profileIDs[(i/3)%len(profileIDs)]
		if p == "q" && i > 60 {
			p = "p a"
		}

		w, err := e.CreateWorkItem(ctx, approval.WorkItemSpec{
			ProfileID: p, ResourceType: approval.EnrollmentRequest,
			ResourceID: fmt.Sprintf("er-%d", i),
		})
		require.NoError(t, err)

		switch i % 3 {
		case 1:
			_, err = e.Approve(ctx, w.ID, principal(1), "")
		case 2:
			_, err = e.Reject(ctx, w.ID, principal(2), "no")
		}
		require.NoError(t, err)
	}

	// Only decided items of "q" are left after these: then it goes.
	for _, w := range listAll(t, e, approval.WorkItemFilter{
		ProfileID: "q", Status: approval.StatusPending,
	}, 50) {
		_, err := e.Reject(ctx, w.ID, principal(2), "no")
		require.NoError(t, err)
	}
	require.NoError(t, e.DeleteProfile(ctx, "q"))

	all := listAll(t, e, approval.WorkItemFilter{}, 100)
	require.Len(t, all, 90)

	statuses := []approval.Status{
		approval.StatusPending, approval.StatusApproved, approval.StatusRejected,
	}
	for _, s := range statuses {
		var want []string
		for _, w := range all {
			if w.Status == s {
				want = append(want, w.ID)
			}
		}
		require.NotEmpty(t, want, s)

		for _, size := range []int{1, 4, 7, 50} {
			got := listAll(t, e, approval.WorkItemFilter{Status: s}, size)
			require.Equal(t, want, idsOf(got), "%s in pages of %d", s, size)
		}
	}

	rejectedOfQ := listAll(t, e, approval.WorkItemFilter{
		ProfileID: "q", Status: approval.StatusRejected,
	}, 3)
	require.NotEmpty(t, rejectedOfQ)
	for _, w := range rejectedOfQ {
		require.Equal(t, "q", w.ProfileID)
	}
}

func listAll(t *testing.T, e *approval.Engine, f approval.WorkItemFilter,
	size int,
) []approval.WorkItem {
	t.Helper()

	var out []approval.WorkItem
	req := approval.PageRequest{Limit: size}
	for range 1000 {
		page, err := e.ListWorkItems(t.Context(), f, req)
		require.NoError(t, err)

		out = append(out, page.Items...)
		if page.Next == "" {
			return out
		}
		req.Cursor = page.Next
	}

	t.Fatal("listing does not end")

	return nil
}

func idsOf(ws []approval.WorkItem) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.ID)
	}

	return out
}

// TestBadInputWritesNothing checks that what the store cannot hold is
// refused with a typed error, and leaves the store as it was.
func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()

	ctx := t.Context()
	s := memdb.New()
	require.NoError(t, s.CreateProfile(ctx, approval.Profile{
		ID: "p1", Name: "Profile", RequiredApprovals: 1, Version: 1,
		Approvers: approval.Approvers{Roles: []string{"approver"}},
	}))

	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	good := approval.WorkItem{
		ID: "w1", ProfileID: "p1", ResourceType: approval.EnrollmentRequest,
		ResourceID: "er-1", Status: approval.StatusPending,
		RequiredApprovals: 1, Version: 1, CreatedAt: at,
	}

	spoilt := map[string]func(w *approval.WorkItem){
		"status": func(w *approval.WorkItem) { w.Status = "stuck" },
		"type":   func(w *approval.WorkItem) { w.ResourceType = "other" },
		"description": func(w *approval.WorkItem) {
			w.Description = strings.Repeat("x", 1<<16)
		},
		"created_at": func(w *approval.WorkItem) {
			w.CreatedAt = time.Date(300_000, 1, 1, 0, 0, 0, 0, time.UTC)
		},
	}
	for name, spoil := range spoilt {
		w := good
		spoil(&w)

		err := s.CreateWorkItem(ctx, w, 1)
		require.ErrorIs(t, err, approval.ErrInvalidArgument, name)

		_, err = s.GetWorkItem(ctx, w.ID)
		require.ErrorIs(t, err, approval.ErrNotFound, name)
	}

	// A refused item leaves its resource free.
	require.NoError(t, s.CreateWorkItem(ctx, good, 1))

	rej := approval.Rejection{UserID: "u1", At: at}
	c := approval.Change{
		Action: approval.ActionReject, Rejection: &rej,
		Item: good, ReadVersion: 1,
		Grants: []approval.Grant{{ProfileID: good.ProfileID, ProfileVersion: 1}},
	}
	decided, err := s.Apply(ctx, c)
	require.NoError(t, err)

	err = s.UpdateAdvance(ctx, good.ID, decided.Advance.LeaseOwner,
		approval.Advance{State: "later"})
	require.ErrorIs(t, err, approval.ErrInvalidArgument)

	got, err := s.GetWorkItem(ctx, good.ID)
	require.NoError(t, err)
	require.Equal(t, decided, got)
}
