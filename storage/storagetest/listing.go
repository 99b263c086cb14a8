package storagetest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otpki/workitems/approval"
)

// population is a set of work items in every status, under two
// profiles and both resource types, with the IDs of each kind.
type population struct {
	all, pending, approved, rejected []string
	issuance, ofSecond               []string
	first, second                    approval.Profile
}

// populate creates 24 work items: under the first or the second
// profile, of either resource type, left Pending, Approved or Rejected.
func (b *bundle) populate(t *testing.T) population {
	t.Helper()

	pop := population{
		first:  b.twoOfThree(t, "First"),
		second: b.twoOfThree(t, "Second"),
	}

	for i := range 24 {
		p := pop.first
		if i%4 == 3 {
			p = pop.second
		}

		typ := approval.EnrollmentRequest
		if i%2 == 1 {
			typ = approval.IssuanceRequest
		}

		w, err := b.engine.CreateWorkItem(t.Context(), approval.WorkItemSpec{
			ProfileID:    p.ID,
			ResourceType: typ,
			ResourceID:   fmt.Sprintf("req-%02d", i),
		})
		require.NoError(t, err)

		pop.all = append(pop.all, w.ID)
		if typ == approval.IssuanceRequest {
			pop.issuance = append(pop.issuance, w.ID)
		}
		if p.ID == pop.second.ID {
			pop.ofSecond = append(pop.ofSecond, w.ID)
		}

		switch i % 3 {
		case 0:
			pop.pending = append(pop.pending, w.ID)
		case 1:
			_, err = b.engine.Approve(t.Context(), w.ID, alice, "")
			require.NoError(t, err)
			_, err = b.engine.Approve(t.Context(), w.ID, bob, "")
			require.NoError(t, err)
			pop.approved = append(pop.approved, w.ID)
		case 2:
			_, err = b.engine.Reject(t.Context(), w.ID, carol, "")
			require.NoError(t, err)
			pop.rejected = append(pop.rejected, w.ID)
		}
	}

	return pop
}

// listAll walks every page of a listing with the given page size.
func listAll(t *testing.T, b *bundle, f approval.WorkItemFilter, size int) []string {
	t.Helper()

	var out []string
	req := approval.PageRequest{Limit: size}
	for range 100 {
		page, err := b.engine.ListWorkItems(t.Context(), f, req)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Items), size)

		for _, w := range page.Items {
			require.True(t, matchesFilter(f, w), "%+v does not match %+v", w, f)
			out = append(out, w.ID)
		}

		if page.Next == "" {
			return out
		}
		require.Len(t, page.Items, size, "only the last page may be short")
		req.Cursor = page.Next
	}

	t.Fatal("listing does not end")

	return nil
}

func matchesFilter(f approval.WorkItemFilter, w approval.WorkItem) bool {
	return (f.Status == "" || f.Status == w.Status) &&
		(f.ResourceType == "" || f.ResourceType == w.ResourceType) &&
		(f.ResourceID == "" || f.ResourceID == w.ResourceID) &&
		(f.ProfileID == "" || f.ProfileID == w.ProfileID) &&
		(f.AdvanceState == "" || f.AdvanceState == w.Advance.State)
}

func testListing(t *testing.T, newStore NewStore) {
	t.Helper()

	t.Run("FiltersAndPages", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		pop := b.populate(t)

		cases := []struct {
			name   string
			filter approval.WorkItemFilter
			want   []string
		}{
			{"All", approval.WorkItemFilter{}, pop.all},
			{"Pending", approval.WorkItemFilter{Status: approval.StatusPending}, pop.pending},
			{"Approved", approval.WorkItemFilter{Status: approval.StatusApproved}, pop.approved},
			{"Rejected", approval.WorkItemFilter{Status: approval.StatusRejected}, pop.rejected},
			{"Issuance", approval.WorkItemFilter{
				ResourceType: approval.IssuanceRequest,
			}, pop.issuance},
			{"Profile", approval.WorkItemFilter{ProfileID: pop.second.ID}, pop.ofSecond},
			{"Resource", approval.WorkItemFilter{ResourceID: "req-05"}, pop.all[5:6]},
			{"ResourceOfOtherType", approval.WorkItemFilter{
				ResourceType: approval.EnrollmentRequest, ResourceID: "req-05",
			}, nil},
			{"Advanced", approval.WorkItemFilter{
				AdvanceState: approval.AdvanceDone,
			}, sorted(append(append([]string{}, pop.approved...), pop.rejected...))},
			{"PendingOfProfile", approval.WorkItemFilter{
				Status: approval.StatusPending, ProfileID: pop.second.ID,
			}, intersect(pop.pending, pop.ofSecond)},
			{"NoMatch", approval.WorkItemFilter{ProfileID: "missing"}, nil},
		}

		for _, c := range cases {
			for _, size := range []int{1, 3, 50} {
				got := listAll(t, b, c.filter, size)
				require.Equal(t, c.want, got, "%s, pages of %d", c.name, size)
			}
		}
	})

	t.Run("ItemsAsStored", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		pop := b.populate(t)
		ctx := t.Context()

		_, err := b.engine.Approve(ctx, pop.pending[0], alice, "looks right")
		require.NoError(t, err)

		req := approval.PageRequest{Limit: approval.MaxPageSize}
		var listed []approval.WorkItem
		for _, f := range []approval.WorkItemFilter{
			{},
			{Status: approval.StatusPending},
			{Status: approval.StatusPending, ProfileID: pop.second.ID},
			{Status: approval.StatusApproved},
			{Status: approval.StatusRejected},
		} {
			page, err := b.engine.ListWorkItems(ctx, f, req)
			require.NoError(t, err)
			require.NotEmpty(t, page.Items, "%+v", f)
			listed = append(listed, page.Items...)
		}

		page, err := b.engine.Inbox(ctx, carol, req)
		require.NoError(t, err)
		require.NotEmpty(t, page.Items)
		listed = append(listed, page.Items...)

		approved := 0
		for _, w := range listed {
			stored, err := b.store.GetWorkItem(ctx, w.ID)
			require.NoError(t, err)
			require.Equal(t, stored, w, "as listed and as stored")

			if w.Status == approval.StatusPending && len(w.Approvals) > 0 {
				approved++
			}
		}
		require.Equal(t, 3, approved,
			"the approved Pending item is listed with its approval")
	})

	t.Run("IDsSortByCreation", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		pop := b.populate(t)

		require.Equal(t, sorted(pop.all), pop.all)
	})

	t.Run("BadRequests", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		ctx := t.Context()
		list := func(f approval.WorkItemFilter, r approval.PageRequest) error {
			_, err := b.engine.ListWorkItems(ctx, f, r)
			return err
		}

		none := approval.WorkItemFilter{}
		bad := []error{
			list(none, approval.PageRequest{Limit: -1}),
			list(none, approval.PageRequest{Limit: approval.MaxPageSize + 1}),
			list(none, approval.PageRequest{Cursor: "not a cursor"}),
			list(none, approval.PageRequest{Cursor: "djE6"}),
			list(approval.WorkItemFilter{Status: "stuck"}, approval.PageRequest{}),
			list(approval.WorkItemFilter{ResourceType: "x"}, approval.PageRequest{}),
			list(approval.WorkItemFilter{AdvanceState: "x"}, approval.PageRequest{}),
			list(approval.WorkItemFilter{ResourceID: " "}, approval.PageRequest{}),
		}
		for i, err := range bad {
			require.ErrorIs(t, err, approval.ErrInvalidArgument, "case %d", i)
		}
	})
}

func testInbox(t *testing.T, newStore NewStore) {
	t.Helper()

	t.Run("WhatAPrincipalMayApprove", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newStore)
		ctx := t.Context()

		users := b.twoOfThree(t, "Users")
		onlyRole, err := b.engine.CreateProfile(ctx, approval.Profile{
			Name: "Role only", RequiredApprovals: 1,
			Approvers: approval.Approvers{Roles: []string{"ca-admin"}},
		})
		require.NoError(t, err)

		a := b.item(t, users, "er-1", "")
		byBob := b.item(t, users, "er-2", "bob")
		approvedByBob := b.item(t, users, "er-3", "")
		c := b.item(t, onlyRole, "er-4", "")
		decided := b.item(t, users, "er-5", "")
		d := b.item(t, users, "er-6", "")

		_, err = b.engine.Approve(ctx, approvedByBob.ID, bob, "")
		require.NoError(t, err)
		_, err = b.engine.Reject(ctx, decided.ID, alice, "")
		require.NoError(t, err)

		inbox := func(p approval.Principal, size int) []string {
			var out []string
			req := approval.PageRequest{Limit: size}
			for {
				page, err := b.engine.Inbox(ctx, p, req)
				require.NoError(t, err)
				require.LessOrEqual(t, len(page.Items), size)
				out = append(out, ids(page.Items)...)

				if page.Next == "" {
					return out
				}
				req.Cursor = page.Next
			}
		}

		for _, size := range []int{1, 2, 50} {
			require.Equal(t, []string{a.ID, d.ID}, inbox(bob, size))
			require.Equal(t, []string{a.ID, byBob.ID, approvedByBob.ID, c.ID, d.ID},
				inbox(carol, size))
			require.Empty(t, inbox(mallory, size))
		}

		_, err = b.engine.Inbox(ctx, approval.Principal{}, approval.PageRequest{})
		require.ErrorIs(t, err, approval.ErrInvalidArgument)
	})
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
			}
		}
	}

	return out
}
